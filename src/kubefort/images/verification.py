"""Which images must be signed by whom (`image_verification:` in `.kubefort.yaml`), and the
verification of every image of a scan unit against that policy, in parallel, with verified
digests cached on disk.

```yaml
image_verification:
  policies:
  - images: ["registry.example.com/shop/*"]   # globs on the repository, docker.io/library/... form
    keys: [keys/release.pub]                  # cosign public keys (PEM), relative to this file
    attestations:                             # optional: signed by those keys, naming the digest
    - {type: slsaprovenance1}                 # cosign attest --type names, or predicate type URIs
    - {type: vuln, max_age_days: 7}           # no older than 7 days (when the predicate says)
  trusted_roots: certs/fulcio.pem             # for keyless signers: the CA certificates (PEM), or a
                                              # Sigstore trusted_root.json (CAs and transparency logs)
  transparency_log_keys: [keys/rekor.pub]     # optional: trusted Rekor keys (PEM); with these (or a
                                              # trusted_root.json's tlogs) a keyless signature needs
                                              # a verified log entry, and its time decides validity
  ca_file: certs/registry-ca.pem              # optional: a CA bundle for the registries
  pull_secrets: true                          # optional, live clusters: read the pods' image pull
                                              # secrets for registry credentials (images.pullsecrets)
  cache_hours: 24                             # how long a verified digest is trusted (0: no cache)
```

An image is under the first policy one of whose globs matches its normalised repository
(`fnmatch`: `*` matches any characters, `/` included). Nothing is fetched unless a policy is
configured; `--offline` (or `offline: true`) turns every registry read into "not evaluated".

The cache (`$XDG_CACHE_HOME/kubefort/signatures.json`, else `~/.cache/kubefort/...`) keeps
only positive results, keyed by repository, digest and what decides trust (the fingerprints of
the policy's keys; its keyless identities and the digest of `trusted_roots`), so a change of
either is never answered from it; an unsigned or failing image is asked again
every time, and so is an image whose policy requires attestations (they age).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from kubefort.images import PREDICATE_TYPES
from kubefort.model import OffUntilSet

__all__ = [
    "ImageVerificationOptions",
    "SignaturePolicy",
    "VerificationResult",
    "apply_config",
    "verify_all",
]

MAX_WORKERS = 8
DIGEST_PREFIX = "sha256:"


@dataclass(frozen=True, slots=True)
class RequiredAttestation:
    predicate_type: str  # the full predicate type URI (cosign's --type names are expanded)
    max_age_days: int = 0  # 0: any age

    @property
    def label(self) -> str:
        return next((k for k, v in PREDICATE_TYPES.items() if v == self.predicate_type), self.predicate_type)


@dataclass(frozen=True, slots=True)
class KeylessIdentity:
    issuer: str  # the OIDC issuer in the certificate, exactly
    subject_regexp: str  # matched whole against its SAN emails and URIs


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    images: tuple[str, ...]  # globs on the normalised repository
    keys: tuple[str, ...]  # PEM public key files (absolute once read from the config)
    attestations: tuple[RequiredAttestation, ...] = ()
    identities: tuple[KeylessIdentity, ...] = ()  # keyless signers (certificates from trusted_roots)

    def matches(self, repository: str) -> bool:
        return any(fnmatch.fnmatchcase(repository, g) for g in self.images)


@dataclass(frozen=True, slots=True)
class ImageVerificationOptions(OffUntilSet):
    """What the signature checks take; set for all of them with `image_verification:`."""

    policies: tuple[SignaturePolicy, ...] = ()
    trusted_roots: str = ""  # PEM bundle of the CA certificates keyless signatures chain to, or trusted_root.json
    log_keys: tuple[str, ...] = ()  # PEM public keys of trusted transparency logs (Rekor)
    ca_file: str = ""
    cache_hours: int = 24
    offline: bool = False
    pull_secrets: bool = False  # live clusters: credentials from the pods' image pull secrets
    # what they gave (a docker config: {"auths": ...}), set by the cluster driver; never shown
    registry_auths: Any = field(default=None, repr=False, compare=False)

    @property
    def off(self) -> bool:
        return not self.policies

    def policy_for(self, repository: str) -> SignaturePolicy | None:
        return next((p for p in self.policies if p.matches(repository)), None)


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """`status`: verified, unsigned, untrusted, other-digest, or error (not evaluated: `message`
    says why); `digest`: what was verified (a tag is resolved in the registry first);
    `attestations`: what each attestation the policy requires lacks ("" when it is there)."""

    status: str
    message: str
    digest: str | None = None
    attestations: tuple[tuple[str, str], ...] = ()


# ---------------------------------------------------------------------------------- config
_KEYS = {"policies", "trusted_roots", "transparency_log_keys", "ca_file", "cache_hours", "offline", "pull_secrets"}


def _identities(raw: object, at: str) -> tuple[KeylessIdentity, ...]:
    import re

    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{at}: expected a list of {{issuer: URL, subject_regexp: REGEXP}}")
    out = []
    for j, item in enumerate(raw):
        where = f"{at}[{j}]"
        if (
            not isinstance(item, dict)
            or set(item) != {"issuer", "subject_regexp"}
            or not all(isinstance(v, str) and v for v in item.values())
        ):
            raise ValueError(f"{where}: expected {{issuer: URL, subject_regexp: REGEXP}}")
        try:
            re.compile(item["subject_regexp"])
        except re.error as exc:
            raise ValueError(f"{where}.subject_regexp: not a regular expression ({exc})") from None
        out.append(KeylessIdentity(item["issuer"], item["subject_regexp"]))
    return tuple(out)


def _attestations(raw: object, at: str) -> tuple[RequiredAttestation, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{at}: expected a list of {{type: ..., max_age_days: N}}")
    out = []
    for j, item in enumerate(raw):
        where = f"{at}[{j}]"
        if not isinstance(item, dict) or set(item) - {"type", "max_age_days"} or not isinstance(item.get("type"), str):
            raise ValueError(
                f"{where}: expected {{type: vuln|slsaprovenance|slsaprovenance1|... or a URI, max_age_days: N}}"
            )
        kind = item["type"]
        uri = PREDICATE_TYPES.get(kind, kind if "://" in kind else "")
        if not uri:
            raise ValueError(
                f"{where}.type: {kind!r} is neither one of {', '.join(PREDICATE_TYPES)} nor a predicate type URI"
            )
        age = item.get("max_age_days", 0)
        if not isinstance(age, int) or isinstance(age, bool) or age < 0:
            raise ValueError(f"{where}.max_age_days: expected a whole number of days, 0 or more")
        out.append(RequiredAttestation(uri, age))
    return tuple(out)


def apply_config(options: dict[str, object], metas: Iterable[Any], raw: object, config_path: Path) -> None:
    """`.kubefort.yaml` `image_verification:` into the options of every signature check. Key
    files are read now: a missing or invalid key is a configuration error (ValueError)."""
    from kubefort.images.cosign import load_key

    if not isinstance(raw, dict) or set(raw) - _KEYS:
        raise ValueError(f"image_verification: expected a mapping with {', '.join(sorted(_KEYS))}")
    base = config_path.parent
    policies = []
    items = raw.get("policies")
    if not isinstance(items, list) or not items:
        raise ValueError("image_verification.policies: expected a non-empty list of {images: [...], keys: [...]}")
    for i, item in enumerate(items):
        at = f"image_verification.policies[{i}]"
        if not isinstance(item, dict) or set(item) - {"images", "keys", "identities", "attestations"}:
            raise ValueError(f"{at}: expected a mapping with images, keys and/or identities (and attestations)")
        images, keys = item.get("images"), item.get("keys", [])
        if not isinstance(images, list) or not images or not all(isinstance(g, str) and g for g in images):
            raise ValueError(f"{at}.images: expected a non-empty list of repository globs")
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise ValueError(f"{at}.keys: expected a list of public key files")
        identities = _identities(item.get("identities"), f"{at}.identities")
        if not keys and not identities:
            raise ValueError(f"{at}: give keys (public key files) and/or identities (keyless signers)")
        if identities and not raw.get("trusted_roots"):
            raise ValueError(f"{at}.identities: keyless signers need trusted_roots (the CA certificates, PEM)")
        paths = tuple(k if os.path.isabs(k) else str(base / k) for k in keys)
        for p in paths:
            try:
                load_key(Path(p).read_bytes(), p)
            except OSError as exc:
                raise ValueError(f"{at}.keys: cannot read {p}: {exc.strerror or exc}") from None
        policies.append(
            SignaturePolicy(
                tuple(images), paths, _attestations(item.get("attestations"), f"{at}.attestations"), identities
            )
        )
    roots = raw.get("trusted_roots", "")
    if not isinstance(roots, str):
        raise ValueError("image_verification.trusted_roots: expected a path")
    if roots:
        from kubefort.images.rekor import read_trust

        roots = roots if os.path.isabs(roots) else str(base / roots)
        try:
            read_trust(Path(roots).read_bytes(), roots)
        except OSError as exc:
            raise ValueError(f"image_verification.trusted_roots: cannot read {roots}: {exc.strerror or exc}") from None
    log_keys = raw.get("transparency_log_keys", [])
    if not isinstance(log_keys, list) or not all(isinstance(k, str) and k for k in log_keys):
        raise ValueError("image_verification.transparency_log_keys: expected a list of public key files (PEM)")
    log_keys = [k if os.path.isabs(k) else str(base / k) for k in log_keys]
    for k in log_keys:
        from kubefort.images.rekor import log_key

        try:
            log_key(Path(k).read_bytes(), k)
        except OSError as exc:
            raise ValueError(
                f"image_verification.transparency_log_keys: cannot read {k}: {exc.strerror or exc}"
            ) from None
    ca_file = raw.get("ca_file", "")
    if not isinstance(ca_file, str):
        raise ValueError("image_verification.ca_file: expected a path")
    if ca_file and not os.path.isabs(ca_file):
        ca_file = str(base / ca_file)
    hours = raw.get("cache_hours", 24)
    if not isinstance(hours, int) or isinstance(hours, bool) or hours < 0:
        raise ValueError("image_verification.cache_hours: expected a whole number of hours, 0 or more")
    offline = raw.get("offline", False)
    if not isinstance(offline, bool):
        raise ValueError("image_verification.offline: expected true or false")
    pull_secrets = raw.get("pull_secrets", False)
    if not isinstance(pull_secrets, bool):
        raise ValueError("image_verification.pull_secrets: expected true or false")
    for m in metas:
        cls = m.options
        if isinstance(cls, type) and issubclass(cls, ImageVerificationOptions):
            current = options.get(m.id)
            current = current if isinstance(current, cls) else cls()
            options[m.id] = replace(
                current,
                policies=tuple(policies),
                trusted_roots=roots,
                log_keys=tuple(log_keys),
                ca_file=ca_file,
                cache_hours=hours,
                offline=current.offline or offline,
                pull_secrets=pull_secrets,
            )


# ---------------------------------------------------------------------------------- cache
def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubefort" / "signatures.json"


def _cache_key(repository: str, digest: str, policy: SignaturePolicy, fingerprints: dict[str, str]) -> str:
    """Everything that decides trust: the keys' fingerprints, and for keyless signers their
    identities and the trusted CA certificates (`fingerprints[ROOTS]`)."""
    who = sorted(fingerprints[k] for k in policy.keys)
    if policy.identities:
        who += [fingerprints[ROOTS], *sorted(f"{i.issuer} {i.subject_regexp}" for i in policy.identities)]
    return f"{repository}@{digest}|" + ",".join(who)


ROOTS = "trusted_roots"  # the key of the CA certificates' digest among the cache key's fingerprints


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_cache(path: Path, data: dict[str, Any]) -> None:
    """Written whole and renamed into place; a cache that cannot be written is only slower."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signatures-")
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass


# ---------------------------------------------------------------------------------- verify
def _lacks(required: RequiredAttestation, found: list[Any], now: float, signers: str = "a trusted key") -> str:
    """What the image lacks of a required attestation ("" when a fitting one is there)."""
    mine = [a for a in found if a.predicate_type == required.predicate_type]
    if not mine:
        return f"no {required.label} attestation signed by {signers}"
    if not required.max_age_days:
        return ""
    times = [t for t in (a.made_at() for a in mine) if t is not None]
    if not times:
        return f"its {required.label} attestation does not say when it was made"
    days = (now - max(times)) / 86400
    if days > required.max_age_days:
        return f"its newest {required.label} attestation is {days:.0f} days old (at most {required.max_age_days})"
    return ""


def _split(repository: str) -> tuple[str, str]:
    host, _, repo = repository.partition("/")
    return host, repo


def verify_all(
    options: ImageVerificationOptions, wanted: Iterable[tuple[str, str]], *, cache_file: Path | None = None
) -> dict[tuple[str, str], VerificationResult]:
    """The verdict on each (normalised repository, tag or digest) under a policy, fetched in
    parallel (one registry client per host)."""
    from concurrent.futures import ThreadPoolExecutor  # only when a policy is configured

    from kubefort.images.cosign import Identity, Keyless, load_key
    from kubefort.images.rekor import log_key, read_trust

    todo = sorted({w for w in wanted if options.policy_for(w[0]) is not None})
    if options.offline:
        return {w: VerificationResult("error", "--offline: the registry is not asked") for w in todo}
    keys = {p: load_key(Path(p).read_bytes(), os.path.basename(p)) for pol in options.policies for p in pol.keys}
    roots_pem = Path(options.trusted_roots).read_bytes() if options.trusted_roots else b""
    found_roots, logs = read_trust(roots_pem, options.trusted_roots) if roots_pem else ([], [])
    logs += [log_key(Path(p).read_bytes(), os.path.basename(p)) for p in options.log_keys]
    roots, log_keys = tuple(found_roots), tuple(logs)
    fingerprints = {p: k.fingerprint for p, k in keys.items()}
    # the CA certificates and the logs (their keys and validity) decide keyless trust together
    trust = roots_pem + b"".join(f"|{k.log_id} {k.start} {k.end}".encode() for k in log_keys)
    fingerprints[ROOTS] = hashlib.sha256(trust).hexdigest()
    path = cache_file or cache_path()
    cache = _load_cache(path) if options.cache_hours else {}
    now = time.time()
    ttl = options.cache_hours * 3600
    results: dict[tuple[str, str], VerificationResult] = {}
    misses = []
    for repository, ref in todo:
        policy = options.policy_for(repository)
        if policy is None:  # todo holds only what a policy covers
            continue
        if ref.startswith(DIGEST_PREFIX) and not policy.attestations:  # attestations age: never cached
            hit = cache.get(_cache_key(repository, ref, policy, fingerprints))
            if isinstance(hit, dict) and isinstance(hit.get("at"), int | float) and now - hit["at"] < ttl:
                results[(repository, ref)] = VerificationResult("verified", str(hit.get("message", "")), ref)
                continue
        misses.append((repository, ref, policy))
    from kubefort.images.oci import Registry, docker_credentials

    registries = {  # one client per host, made before the threads share them
        host: Registry(
            host,
            ca_file=options.ca_file or None,
            credentials=(docker_credentials(host, options.registry_auths) if options.registry_auths else None)
            or docker_credentials(host),
        )
        for host in {_split(r)[0] for r, _, _ in misses}
    }

    def one(item: tuple[str, str, SignaturePolicy]) -> tuple[tuple[str, str], VerificationResult]:
        from kubefort.images.cosign import verified_attestations, verify_image
        from kubefort.images.oci import RegistryError

        repository, ref, policy = item
        host, repo = _split(repository)
        reg = registries[host]
        try:
            digest = ref
            if not ref.startswith(DIGEST_PREFIX):
                m = reg.manifest(repo, ref)
                if m is None:
                    return (repository, ref), VerificationResult("error", f"{repository}:{ref} is not in the registry")
                digest = m.digest
            trusted = [keys[k] for k in policy.keys]
            keyless = (
                Keyless(roots, tuple(Identity(i.issuer, i.subject_regexp) for i in policy.identities), now, log_keys)
                if policy.identities
                else None
            )
            v = verify_image(reg, repo, digest, trusted, keyless)
            lacking: tuple[tuple[str, str], ...] = ()
            if policy.attestations:
                found = verified_attestations(reg, repo, digest, trusted, keyless=keyless)
                who = {(True, True): "a trusted key or identity", (False, True): "an allowed identity"}.get(
                    (bool(policy.keys), bool(policy.identities)), "a trusted key"
                )
                lacking = tuple((r.label, _lacks(r, found, now, who)) for r in policy.attestations)
        except RegistryError as exc:
            return (repository, ref), VerificationResult("error", f"the registry could not be read: {exc.reason}")
        return (repository, ref), VerificationResult(v.status, v.message, digest, lacking)

    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as ex:
        results.update(ex.map(one, misses))
    if options.cache_hours:
        changed = False
        for (repository, _ref), r in results.items():
            policy = options.policy_for(repository)
            if r.status == "verified" and r.digest is not None and policy is not None:
                k = _cache_key(repository, r.digest, policy, fingerprints)
                if k not in cache or now - cache[k].get("at", 0) >= ttl:
                    cache[k] = {"at": now, "message": r.message}
                    changed = True
        if changed:
            _save_cache(path, {k: v for k, v in cache.items() if isinstance(v, dict) and now - v.get("at", 0) < ttl})
    return results


def add_pull_secrets(ctx: dict[str, Any], cluster: Any, resources: Iterable[Any]) -> list[str]:
    """With `pull_secrets: true`, read the image pull secrets the scanned pods name from the live
    cluster (`images.pullsecrets`) into the options of the signature checks (`ctx`: the engine's
    check contexts, updated in place); the warnings name each Secret that could not be used."""
    wanted = [
        cid
        for cid, c in ctx.items()
        if isinstance(c.options, ImageVerificationOptions) and c.options.pull_secrets and not c.options.off
    ]
    if not wanted or all(ctx[cid].options.offline for cid in wanted):
        return []
    from kubefort.images.pullsecrets import pull_secret_refs, read_pull_secrets

    auths, warnings = read_pull_secrets(cluster, pull_secret_refs(resources))
    for cid in wanted:
        ctx[cid] = replace(ctx[cid], options=replace(ctx[cid].options, registry_auths=auths))
    return warnings
