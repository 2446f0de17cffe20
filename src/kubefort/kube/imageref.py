"""Container image references, read exactly as the kubelet and containerd read them.

The kubelet turns `containers[].image` into a pull with `ParseNormalizedNamed` of
github.com/distribution/reference (pkg/kubelet/images/image_manager.go, applyDefaultImageTag;
containerd's CRI does the same with its copy of the package); a reference that does not parse
is never pulled (`InvalidImageName`). This module is that grammar (reference.go, regexp.go,
normalize.go) and go-digest's digest rules, as plain functions of the text:

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path-component ["/" path-component]*   (path <= 255 chars)
    domain           := host [":" port]        host: DNS-like name, IPv4, or [IPv6]
    path-component   := [a-z0-9]+ ((\\.|_|__|-+) [a-z0-9]+)*
    tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest           := algorithm ":" hex     (grammar: >= 32 hex digits, either case)

and then, for the digest, go-digest v1.0.0 (the version Kubernetes and containerd vendor):
the algorithm must be registered, `sha256`, `sha384` or `sha512`, and the hex part must be
exactly 64, 96 or 128 *lower-case* hex digits. `md5:...`, `sha256:<upper case>` or a
`sha256:` of 40 digits is not a digest the kubelet accepts, so it pins nothing.

`ParseNormalizedNamed` first decides the domain (normalize.go, splitDockerDomain): the part
before the first "/" is a domain when it contains "." or ":", is `localhost`, or has an
upper-case letter; otherwise the image is on Docker Hub (`docker.io`, and a one-component
name gets `library/`). `index.docker.io` is read as `docker.io`. The repository path must be
lower case, and a bare 64-hex-digit string is refused (it looks like an image ID).

`parse` is `reference.Parse` (no normalisation); `parse_normalized` is what the kubelet does.
Both raise :class:`ImageRefError` with upstream's error text (`code`) and a reason a person can
act on; when only the digest is wrong, `without_digest` is the rest of the reference, parsed.

Every pattern below is applied with `fullmatch` to one piece of the text (split at "@", the
tag ":" and "/" as the grammar allows), so the result equals upstream's anchored regular
expression and no input can make the backtracking engine slow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_DOMAIN",
    "REGISTERED_ALGORITHMS",
    "Digest",
    "ImageRefError",
    "Reference",
    "is_domain",
    "is_path",
    "is_tag",
    "parse",
    "parse_digest",
    "parse_normalized",
    "split_docker_domain",
]

# go-digest v1.0.0 algorithm.go: the algorithms registered by default and their hex lengths
REGISTERED_ALGORITHMS: dict[str, int] = {"sha256": 64, "sha384": 96, "sha512": 128}
NAME_TOTAL_LENGTH_MAX = 255  # reference.go RepositoryNameTotalLengthMax
DEFAULT_DOMAIN = "docker.io"  # normalize.go
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
LOCALHOST = "localhost"

# regexp.go, piece by piece (Go's \w and [[:xdigit:]] are ASCII)
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = re.compile(rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = re.compile(rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_IDENTIFIER = re.compile(r"[a-f0-9]{64}")
# go-digest digest.go DigestRegexpAnchored: what an unregistered algorithm must still look like
_GO_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_LOWER_HEX = re.compile(r"[a-f0-9]+")

# upstream's error texts (reference.go, go-digest digest.go)
INVALID_FORMAT = "invalid reference format"
NAME_EMPTY = "repository name must have at least one component"
NAME_UPPERCASE = "repository name must be lowercase"
NAME_TOO_LONG = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
DIGEST_FORMAT = "invalid checksum digest format"
DIGEST_LENGTH = "invalid checksum digest length"
DIGEST_UNSUPPORTED = "unsupported digest algorithm"

_TAG_RULE = "a tag is 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
_COMPONENT_RULE = "lower-case letters and digits, separated by '.', '_', '__' or dashes"


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    encoded: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed reference. `domain` is "" only from `parse` when the name has none."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return self.name + tag + digest


class ImageRefError(ValueError):
    """A reference the kubelet refuses: `code` is upstream's error, `reason` says what is wrong.

    `without_digest` is set when everything but the digest is valid: the reference parsed with
    its digest removed (what the text names, though it pins nothing)."""

    def __init__(self, code: str, reason: str, without_digest: Reference | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.without_digest = without_digest


# ---------------------------------------------------------------------------------- digests
def parse_digest(text: str) -> Digest:
    """go-digest v1.0.0 `Parse` (Digest.Validate), with the algorithms registered by default."""
    algorithm, sep, encoded = text.partition(":")
    if not algorithm or not sep or not encoded:
        raise ImageRefError(DIGEST_FORMAT, f"digest {text!r} is not <algorithm>:<hex>")
    size = REGISTERED_ALGORITHMS.get(algorithm)
    if size is None:
        if not _GO_DIGEST.fullmatch(text):
            raise ImageRefError(
                DIGEST_FORMAT, f"the digest algorithm {algorithm!r} is not valid: lower-case letters and digits only"
            )
        raise ImageRefError(
            DIGEST_UNSUPPORTED,
            f"the digest algorithm {algorithm!r} is not supported: only sha256, sha384 and sha512 are",
        )
    if len(encoded) != size:
        raise ImageRefError(DIGEST_LENGTH, f"a {algorithm} digest has {size} hex digits, this one has {len(encoded)}")
    if not _LOWER_HEX.fullmatch(encoded):
        raise ImageRefError(DIGEST_FORMAT, f"a {algorithm} digest must be lower-case hex (0-9, a-f)")
    return Digest(algorithm, encoded)


# ---------------------------------------------------------------------------------- grammar
def _remote_name(path: str) -> bool:
    return all(_PATH_COMPONENT.fullmatch(part) for part in path.split("/"))


def _split_name(name: str) -> tuple[str, str] | None:
    """(domain, path) as anchoredNameRegexp captures them: a domain when the first component can
    be one and the rest is a path (the optional group is tried first), else no domain."""
    first, slash, rest = name.partition("/")
    if slash and _DOMAIN_AND_PORT.fullmatch(first) and _remote_name(rest):
        return first, rest
    if _remote_name(name):
        return "", name
    return None


def _split(text: str) -> tuple[str, str, str | None, str | None] | None:
    """(domain, path, tag, digest) when `text` matches ReferenceRegexp, else None.

    Neither a name nor a tag can hold "@", and a tag follows the last "/" (a domain, the only
    place a ":" may appear in a name, is always followed by "/"): splitting there gives the
    pieces the anchored expression would capture."""
    name_tag, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return None
    colon = name_tag.find(":", name_tag.rfind("/") + 1)
    name, tag = (name_tag[:colon], name_tag[colon + 1 :]) if colon >= 0 else (name_tag, None)
    if tag is not None and not _TAG.fullmatch(tag):
        return None
    parts = _split_name(name)
    if parts is None:
        return None
    return parts[0], parts[1], tag, digest if at else None


def _diagnose(text: str) -> str | None:
    """Why `text` does not match the grammar, in words (the first problem found), or None."""
    if text != text.strip():
        return "it has leading or trailing whitespace"
    if any(ch.isspace() for ch in text):
        return "it contains whitespace"
    if "://" in text:
        return "it has a URL scheme (scheme://); an image reference has none"
    name_tag, at, digest = text.partition("@")
    if at:
        if "@" in digest:
            return "it has more than one '@'"
        if not _DIGEST.fullmatch(digest):
            return f"the digest {digest!r} is not <algorithm>:<at least 32 hex digits>"
    colon = name_tag.find(":", name_tag.rfind("/") + 1)
    name, tag = (name_tag[:colon], name_tag[colon + 1 :]) if colon >= 0 else (name_tag, None)
    if tag is not None and not _TAG.fullmatch(tag):
        return f"the tag {tag!r} is not valid: {_TAG_RULE}"
    if not name:
        return "it has no repository name"
    first, slash, rest = name.partition("/")
    path = rest if slash and _DOMAIN_AND_PORT.fullmatch(first) else name
    for part in path.split("/"):
        if not part:
            return "the repository path has an empty component ('//' or a '/' at an end)"
        if not _PATH_COMPONENT.fullmatch(part):
            return f"the repository path component {part!r} is not valid: {_COMPONENT_RULE}"
    return None


def parse(text: str) -> Reference:
    """reference.Parse: the grammar alone, no Docker Hub normalisation."""
    if text == "":
        raise ImageRefError(NAME_EMPTY, "the image reference is empty")
    parts = _split(text)
    if parts is None:
        lower = text.lower()
        if lower != text and _split(lower) is not None:
            raise ImageRefError(NAME_UPPERCASE, "the repository name has upper-case letters; it must be lower case")
        reason = _diagnose(text) or "it does not match the image reference grammar"
        raise ImageRefError(INVALID_FORMAT, reason, _without_digest(text, parse))
    domain, path, tag, digest = parts
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise ImageRefError(NAME_TOO_LONG, f"the repository path has {len(path)} characters (at most 255)")
    parsed = None
    if digest is not None:
        try:
            parsed = parse_digest(digest)
        except ImageRefError as exc:
            raise ImageRefError(exc.code, exc.reason, Reference(domain, path, tag)) from None
    return Reference(domain, path, tag, parsed)


def _without_digest(text: str, parser: Callable[[str], Reference]) -> Reference | None:
    """The reference without its digest, when that much is valid (only the digest is wrong)."""
    head, at, _ = text.partition("@")
    if not at or not head:
        return None
    try:
        return parser(head)
    except ImageRefError:
        return None


def split_docker_domain(name: str) -> tuple[str, str]:
    """normalize.go splitDockerDomain: (domain, remainder) with Docker Hub's defaults applied."""
    maybe_domain, slash, remainder = name.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if maybe_domain == LOCALHOST:
        domain = maybe_domain
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    elif ("." in maybe_domain or ":" in maybe_domain) or maybe_domain.lower() != maybe_domain:
        domain = maybe_domain
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_normalized(text: str) -> Reference:
    """reference.ParseNormalizedNamed: the image as the kubelet and containerd pull it."""
    if text == "":
        raise ImageRefError(NAME_EMPTY, "the image reference is empty")
    if _IDENTIFIER.fullmatch(text):
        raise ImageRefError(INVALID_FORMAT, "a bare 64-hex-digit string is an image ID, not a repository name", None)
    domain, remainder = split_docker_domain(text)
    remote = remainder.partition(":")[0]  # upstream: up to the first ":", a digest's "@alg" included
    if remote.lower() != remote:
        path, _, algorithm = remote.partition("@")
        if path.lower() != path:
            # upstream's error; but when lower case would not help either, say what is wrong
            shown = path if "/" in text else path.removeprefix(OFFICIAL_REPO_PREFIX)
            reason = f"the repository path {shown!r} has upper-case letters; it must be lower case"
            if _split(f"{domain}/{remainder}".lower()) is None:
                reason = _diagnose(text) or reason
            raise ImageRefError(NAME_UPPERCASE, reason)
        raise ImageRefError(
            NAME_UPPERCASE,
            f"the digest algorithm {algorithm!r} has upper-case letters; it must be lower case",
            _without_digest(text, parse_normalized),
        )
    try:
        ref = parse(f"{domain}/{remainder}")
    except ImageRefError as exc:
        # the reason in the user's own text (not the normalised one), when it shows there
        reason = (_diagnose(text) if exc.code == INVALID_FORMAT else None) or exc.reason
        without = _without_digest(text, parse_normalized) if "@" in text else None
        raise ImageRefError(exc.code, reason, without) from None
    if ref.domain != domain:
        # `my_registry.local/app`: splitDockerDomain calls the first component a domain, Parse finds
        # it is no valid host and keeps it in the path. The name is the same either way; the domain
        # is the host the runtime contacts, so it is reported as such.
        ref = Reference(domain, ref.name[len(domain) + 1 :], ref.tag, ref.digest)
    return ref


def is_tag(text: str) -> bool:
    """A valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`)."""
    return _TAG.fullmatch(text) is not None


def is_domain(text: str) -> bool:
    """A valid registry host with an optional port (`registry.example.com:5000`, `[::1]:5000`)."""
    return _DOMAIN_AND_PORT.fullmatch(text) is not None


def is_path(text: str) -> bool:
    """A valid repository path (`acme/app`): lower-case components separated by '/'."""
    return _remote_name(text)
