"""kubefort.kube.imageref against distribution/reference and go-digest.

The tables are ported from upstream's own tests: github.com/distribution/reference
(reference_test.go TestReferenceParse, normalize_test.go TestValidateReferenceName,
TestValidateRemoteName, TestParseRepositoryInfo, TestNormalizedSplitHostname) and
github.com/opencontainers/go-digest v1.0.0 (digest_test.go TestParseDigest). Both projects are
licensed under the Apache License 2.0; the cases are copied as data (inputs and expected
results), adapted where kubefort differs on purpose: the kubelet registers sha512 (upstream's
test binary does not), so `validname@sha512:<128 f>` parses here.

Beyond the tables, Hypothesis generates valid references from the grammar and mutates them
(wrong case, wrong digest length, unknown algorithms, bad separators), and checks the
structural parser against upstream's whole anchored regular expression, composed here exactly
as regexp.go composes it.
"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kubefort.kube import imageref
from kubefort.kube.imageref import (
    DIGEST_FORMAT,
    DIGEST_LENGTH,
    DIGEST_UNSUPPORTED,
    INVALID_FORMAT,
    NAME_EMPTY,
    NAME_TOO_LONG,
    NAME_UPPERCASE,
    ImageRefError,
    parse,
    parse_digest,
    parse_normalized,
)

F64 = "f" * 64
SHA256 = "sha256:" + F64


def code_of(f, text: str) -> str | None:
    try:
        f(text)
    except ImageRefError as exc:
        return exc.code
    return None


# ------------------------------------------------------------------ reference_test.go TestReferenceParse
# (input, error code or None, name, domain, tag, digest)
PARSE_TABLE = [
    ("test_com", None, "test_com", "", None, None),
    ("test.com:tag", None, "test.com", "", "tag", None),
    ("test.com:5000", None, "test.com", "", "5000", None),
    ("test.com/repo:tag", None, "test.com/repo", "test.com", "tag", None),
    ("test:5000/repo", None, "test:5000/repo", "test:5000", None, None),
    ("test:5000/repo:tag", None, "test:5000/repo", "test:5000", "tag", None),
    ("test:5000/repo@" + SHA256, None, "test:5000/repo", "test:5000", None, SHA256),
    ("test:5000/repo:tag@" + SHA256, None, "test:5000/repo", "test:5000", "tag", SHA256),
    ("", NAME_EMPTY, None, None, None, None),
    (":justtag", INVALID_FORMAT, None, None, None, None),
    ("@" + SHA256, INVALID_FORMAT, None, None, None, None),
    ("repo@sha256:" + "f" * 34, DIGEST_LENGTH, None, None, None, None),
    ("validname@invaliddigest:" + F64, DIGEST_UNSUPPORTED, None, None, None, None),
    # upstream's test binary has no sha512; the kubelet's has (go-digest v1.0.0 registers it)
    ("validname@sha512:" + "f" * 128, None, "validname", "", None, "sha512:" + "f" * 128),
    ("Uppercase:tag", NAME_UPPERCASE, None, None, None, None),
    ("test:5000/Uppercase/lowercase:tag", NAME_UPPERCASE, None, None, None, None),
    ("lowercase:Uppercase", None, "lowercase", "", "Uppercase", None),
    ("domain/" + "a" * 256 + ":tag", NAME_TOO_LONG, None, None, None, None),
    ("a/" * 127 + "a:tag-puts-this-over-max", None, "a/" * 127 + "a", "a", "tag-puts-this-over-max", None),
    ("aa/asdf$$^/aa", INVALID_FORMAT, None, None, None, None),
    ("sub-dom1.foo.com/bar/baz/quux", None, "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", None, None),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        None,
        "sub-dom1.foo.com/bar/baz/quux",
        "sub-dom1.foo.com",
        "some-long-tag",
        None,
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        None,
        "b.gcr.io/test.example.com/my-app",
        "b.gcr.io",
        "test.example.com",
        None,
    ),
    ("xn--n3h.com/myimage:xn--n3h.com", None, "xn--n3h.com/myimage", "xn--n3h.com", "xn--n3h.com", None),
    (
        "xn--7o8h.com/myimage:xn--7o8h.com@" + SHA256,
        None,
        "xn--7o8h.com/myimage",
        "xn--7o8h.com",
        "xn--7o8h.com",
        SHA256,
    ),
    ("foo_bar.com:8080", None, "foo_bar.com", "", "8080", None),
    ("foo/foo_bar.com:8080", None, "foo/foo_bar.com", "foo", "8080", None),
    ("192.168.1.1", None, "192.168.1.1", "", None, None),
    ("192.168.1.1:tag", None, "192.168.1.1", "", "tag", None),
    ("192.168.1.1:5000", None, "192.168.1.1", "", "5000", None),
    ("192.168.1.1/repo", None, "192.168.1.1/repo", "192.168.1.1", None, None),
    ("192.168.1.1:5000/repo", None, "192.168.1.1:5000/repo", "192.168.1.1:5000", None, None),
    ("192.168.1.1:5000/repo:5050", None, "192.168.1.1:5000/repo", "192.168.1.1:5000", "5050", None),
    ("[2001:db8::1]", INVALID_FORMAT, None, None, None, None),
    ("[2001:db8::1]:5000", INVALID_FORMAT, None, None, None, None),
    ("[2001:db8::1]:tag", INVALID_FORMAT, None, None, None, None),
    ("[2001:db8::1]/repo", None, "[2001:db8::1]/repo", "[2001:db8::1]", None, None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", None, "[2001:db8:1:2:3:4:5:6]/repo", "[2001:db8:1:2:3:4:5:6]", "tag", None),
    ("[2001:db8::1]:5000/repo", None, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", None, None),
    ("[2001:db8::1]:5000/repo:tag", None, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag", None),
    ("[2001:db8::1]:5000/repo@" + SHA256, None, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", None, SHA256),
    ("[2001:db8::1]:5000/repo:tag@" + SHA256, None, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag", SHA256),
    ("[2001:db8::]:5000/repo", None, "[2001:db8::]:5000/repo", "[2001:db8::]:5000", None, None),
    ("[::1]:5000/repo", None, "[::1]:5000/repo", "[::1]:5000", None, None),
    ("[fe80::1%eth0]:5000/repo", INVALID_FORMAT, None, None, None, None),
    ("[fe80::1%@invalidzone]:5000/repo", INVALID_FORMAT, None, None, None, None),
    ("example.com/" + "a" * 255 + ":tag", None, "example.com/" + "a" * 255, "example.com", "tag", None),
]


@pytest.mark.parametrize(("text", "code", "name", "domain", "tag", "digest"), PARSE_TABLE, ids=lambda v: str(v)[:40])
def test_reference_parse_table(text, code, name, domain, tag, digest):
    if code is not None:
        with pytest.raises(ImageRefError) as info:
            parse(text)
        assert info.value.code == code
        assert info.value.reason  # always a reason for a person
        return
    ref = parse(text)
    assert (ref.name, ref.domain, ref.tag) == (name, domain, tag)
    assert (str(ref.digest) if ref.digest else None) == digest
    assert str(ref) == text  # upstream: repo.String() == input


# ------------------------------------------------------------------ normalize_test.go
VALID_NAMES = [
    "docker/docker",
    "library/debian",
    "debian",
    "localhost/library/debian",
    "localhost/debian",
    "LOCALDOMAIN/library/debian",
    "LOCALDOMAIN/debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "Docker/docker",
    "DOCKER/docker",
    # TestValidateRemoteName
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
]
INVALID_NAMES = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    # TestValidateRemoteName
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
    # TestInvalidReferenceComponents
    "-foo",
]


@pytest.mark.parametrize("text", VALID_NAMES)
def test_valid_normalized_names(text):
    parse_normalized(text)


@pytest.mark.parametrize("text", INVALID_NAMES)
def test_invalid_normalized_names(text):
    with pytest.raises(ImageRefError) as info:
        parse_normalized(text)
    assert info.value.reason


# TestParseRepositoryInfo: (remote name, full name, domain) for each spelling
REPOSITORY_INFO = [
    ("fooo", "localhost/fooo", "localhost", ["localhost/fooo"]),
    ("fooo/bar", "localhost/fooo/bar", "localhost", ["localhost/fooo/bar"]),
    ("fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN", ["LOCALDOMAIN/fooo"]),
    ("fooo/bar", "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN", ["LOCALDOMAIN/fooo/bar"]),
    ("fooo/bar", "docker.io/fooo/bar", "docker.io", ["fooo/bar", "index.docker.io/fooo/bar"]),
    ("library/ubuntu", "docker.io/library/ubuntu", "docker.io", ["ubuntu", "library/ubuntu"]),
    ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "docker.io", ["nonlibrary/ubuntu"]),
    ("other/library", "docker.io/other/library", "docker.io", ["other/library"]),
    ("private/moonbase", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", ["127.0.0.1:8000/private/moonbase"]),
    ("privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000", ["127.0.0.1:8000/privatebase"]),
    ("private/moonbase", "example.com/private/moonbase", "example.com", ["example.com/private/moonbase"]),
    ("privatebase", "example.com/privatebase", "example.com", ["example.com/privatebase"]),
    (
        "private/moonbase",
        "example.com:8000/private/moonbase",
        "example.com:8000",
        ["example.com:8000/private/moonbase"],
    ),
    ("privatebasee", "example.com:8000/privatebasee", "example.com:8000", ["example.com:8000/privatebasee"]),
    (
        "library/ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "docker.io",
        ["ubuntu-12.04-base", "index.docker.io/library/ubuntu-12.04-base"],
    ),
    ("library/foo", "docker.io/library/foo", "docker.io", ["foo", "docker.io/foo"]),
    ("library/foo/bar", "docker.io/library/foo/bar", "docker.io", ["library/foo/bar"]),
    ("store/foo/bar", "docker.io/store/foo/bar", "docker.io", ["store/foo/bar"]),
    ("bar", "Foo/bar", "Foo", ["Foo/bar"]),
    ("bar", "FOO/bar", "FOO", ["FOO/bar"]),
    # TestNormalizedSplitHostname
    ("foo", "test.com/foo", "test.com", ["test.com/foo"]),
    ("test_com/foo", "docker.io/test_com/foo", "docker.io", ["test_com/foo"]),
    ("docker/migrator", "docker.io/docker/migrator", "docker.io", ["docker/migrator"]),
    ("foo", "test.com:8080/foo", "test.com:8080", ["test.com:8080/foo"]),
    ("foo", "test-com:8080/foo", "test-com:8080", ["test-com:8080/foo"]),
    ("foo", "xn--n3h.com/foo", "xn--n3h.com", ["xn--n3h.com/foo"]),
    ("foo", "xn--n3h.com:18080/foo", "xn--n3h.com:18080", ["xn--n3h.com:18080/foo"]),
    ("library/foo/bar", "docker.io/library/foo/bar", "docker.io", ["docker.io/library/foo/bar"]),
]


@pytest.mark.parametrize(("path", "full", "domain", "spellings"), REPOSITORY_INFO, ids=lambda v: str(v)[:40])
def test_repository_info(path, full, domain, spellings):
    for text in [full, *spellings]:
        ref = parse_normalized(text)
        assert (ref.path, ref.name, ref.domain) == (path, full, domain), text


def test_tag_and_digest_together():
    # normalize_test.go TestParseReferenceWithTagAndDigest
    short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
    ref = parse_normalized(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.tag == "latest" and ref.digest is not None


# ------------------------------------------------------------------ go-digest v1.0.0 digest_test.go
D384 = "d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af801d"
DIGEST_TABLE = [
    ("sha256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", None),
    ("sha384:" + D384, None),
    ("sha512:" + "0123456789abcdef" * 8, None),
    ("sha256:", DIGEST_FORMAT),
    (":", DIGEST_FORMAT),
    ("d41d8cd98f00b204e9800998ecf8427e", DIGEST_FORMAT),
    ("sha256:d41d8cd98f00b204e9800m98ecf8427e", DIGEST_LENGTH),
    ("sha256:abcdef0123456789", DIGEST_LENGTH),
    ("sha512:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", DIGEST_LENGTH),
    ("foo:d41d8cd98f00b204e9800998ecf8427e", DIGEST_UNSUPPORTED),
    ("sha384__foo+bar:" + D384, DIGEST_FORMAT),
    ("sha384.foo+bar:" + D384, DIGEST_UNSUPPORTED),
    ("sha384_foo+bar:" + D384, DIGEST_UNSUPPORTED),
    ("sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", DIGEST_UNSUPPORTED),
    ("sha256:E58FCF7418D4390DEC8E8FB69D88C06EC07039D651FEDD3AA72AF9972E7D046B", DIGEST_FORMAT),
    ("SHA256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", DIGEST_FORMAT),
    ("blake3:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", DIGEST_UNSUPPORTED),
]


@pytest.mark.parametrize(("text", "code"), DIGEST_TABLE, ids=lambda v: str(v)[:30])
def test_digest_table(text, code):
    assert code_of(parse_digest, text) == code
    if code is None:
        assert str(parse_digest(text)) == text


# ------------------------------------------------------------------ the grammar, generated
# upstream's ReferenceRegexp, composed as regexp.go composes it (an independent oracle for _split)
_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_DCOMP = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DCOMP}(?:\.{_DCOMP})*|\[(?:[a-fA-F0-9:]+)\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
REFERENCE_REGEXP = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$", re.ASCII)

alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
separator = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def path_component(draw: st.DrawFn) -> str:
    parts = [draw(alnum)]
    for _ in range(draw(st.integers(0, 3))):
        parts += [draw(separator), draw(alnum)]
    return "".join(parts)


_ALNUM_MIXED = "abcxyzABCXYZ0189"
dns_label = st.one_of(
    st.text(_ALNUM_MIXED, min_size=1, max_size=1),
    st.builds(
        lambda a, mid, b: a + mid + b,
        st.text(_ALNUM_MIXED, min_size=1, max_size=1),
        st.text(_ALNUM_MIXED + "-", max_size=6),
        st.text(_ALNUM_MIXED, min_size=1, max_size=1),
    ),
)
host = st.one_of(
    st.builds(".".join, st.lists(dns_label, min_size=1, max_size=3)),
    st.builds(lambda h: f"[{h}]", st.text("abcdefABCDEF0123456789:", min_size=1, max_size=12)),
)
domain = st.builds(lambda h, p: h + (f":{p}" if p is not None else ""), host, st.none() | st.integers(0, 65535))
tag = st.builds(lambda a, b: a + b, st.text("aZ09_", min_size=1, max_size=1), st.text("aZ09_.-", max_size=12))
hexdigits = "0123456789abcdef"


@st.composite
def digest(draw: st.DrawFn) -> str:
    algorithm = draw(st.sampled_from(sorted(imageref.REGISTERED_ALGORITHMS)))
    return f"{algorithm}:" + draw(
        st.text(
            hexdigits,
            min_size=imageref.REGISTERED_ALGORITHMS[algorithm],
            max_size=imageref.REGISTERED_ALGORITHMS[algorithm],
        )
    )


@st.composite
def references(draw: st.DrawFn) -> dict[str, str | None]:
    """The pieces of a valid reference (domain may be None) and its text."""
    dom = draw(st.none() | domain)
    path = "/".join(draw(st.lists(path_component(), min_size=1, max_size=3)))
    t = draw(st.none() | tag)
    d = draw(st.none() | digest())
    text = (f"{dom}/" if dom else "") + path + (f":{t}" if t else "") + (f"@{d}" if d else "")
    return {"domain": dom, "path": path, "tag": t, "digest": d, "text": text}


@settings(max_examples=300, deadline=None)
@given(references())
def test_generated_references_parse_as_built(r):
    assert REFERENCE_REGEXP.match(r["text"])  # the generator follows upstream's grammar
    ref = parse(r["text"])
    assert str(ref) == r["text"]
    assert ref.tag == r["tag"]
    assert (str(ref.digest) if ref.digest else None) == r["digest"]
    assert ref.name.endswith(r["path"])
    # the kubelet's reading: a first component is a registry only with ".", ":", "localhost" or an
    # upper-case letter (splitDockerDomain); otherwise the name is a path on docker.io
    name = (f"{r['domain']}/" if r["domain"] else "") + r["path"]
    first, slash, rest = name.partition("/")
    is_registry = bool(slash) and ("." in first or ":" in first or first == "localhost" or first.lower() != first)
    if not is_registry and not re.fullmatch(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", name):
        assert code_of(parse_normalized, r["text"]) == INVALID_FORMAT  # "[0]/app": not a registry, not a path
        return
    norm = parse_normalized(r["text"])
    assert norm.tag == r["tag"]
    assert (str(norm.digest) if norm.digest else None) == r["digest"]
    if is_registry and first != "index.docker.io":
        assert (norm.domain, norm.path) == (first, rest)
    else:
        path = rest if is_registry else name
        assert (norm.domain, norm.path) == ("docker.io", path if "/" in path else f"library/{path}")


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, str]:
    """(mutated text, kind of mutation, the reference text it came from)."""
    r = draw(references())
    text = r["text"]
    assume(code_of(parse_normalized, text) is None)  # mutate what the kubelet accepts
    kind = draw(
        st.sampled_from(
            ["digest-upper", "digest-length", "digest-algorithm", "path-upper", "separator", "tag", "empty-component"]
        )
    )
    if kind.startswith("digest"):
        d = r["digest"] or draw(digest())
        head = text.partition("@")[0]
        algorithm, _, hexpart = d.partition(":")
        if kind == "digest-upper":
            i = draw(st.integers(0, len(hexpart) - 1))
            assume(hexpart[i] in "abcdef")
            hexpart = hexpart[:i] + hexpart[i].upper() + hexpart[i + 1 :]
        elif kind == "digest-length":
            delta = draw(st.sampled_from([-1, 1, -32, 32, 64]))
            hexpart = hexpart[:delta] if delta < 0 else hexpart + hexpart[:delta]
        else:
            algorithm = draw(
                st.sampled_from(["md5", "sha1", "sha224", "blake3", "sha3", "sha256+b64", "sha512.x", "SHA256"])
            )
        return f"{head}@{algorithm}:{hexpart}", kind, head
    norm = parse_normalized(text)  # mutate the path as the kubelet reads it (a "a.b/c" is a registry)
    path = norm.path
    if kind == "path-upper":
        i = draw(st.integers(0, len(path) - 1))
        assume(path[i].isalpha())
        path = path[:i] + path[i].upper() + path[i + 1 :]
    elif kind == "separator":
        bad = draw(st.sampled_from(["..", "._", "-.", "___", ".-"]))
        at = draw(st.sampled_from(["start", "end", "middle"]))
        path = bad + path if at == "start" else path + bad if at == "end" else path.replace("/", "/" + bad, 1) or path
        path = path if bad in path else bad + path
    elif kind == "empty-component":
        path = path + "/" if draw(st.booleans()) else path.replace("/", "//", 1) if "/" in path else "/" + path
    dom = norm.domain
    t = r["tag"]
    if kind == "tag":
        t = draw(st.sampled_from([".x", "-x", "x y", "a" * 129, "", "x/y"]))
    new = (
        (f"{dom}/" if dom else "")
        + path
        + (f":{t}" if t is not None else "")
        + (f"@{r['digest']}" if r["digest"] else "")
    )
    return new, kind, r["text"]


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_mutated_references_are_refused_with_a_reason(m):
    text, kind, origin = m
    with pytest.raises(ImageRefError) as info:
        parse_normalized(text)
    err = info.value
    assert err.reason and err.code
    if kind.startswith("digest"):
        # only the digest is wrong: the rest is still read, but nothing is pinned
        assert err.without_digest is not None
        assert err.without_digest == parse_normalized(origin)
        if kind == "digest-upper":
            assert err.code in (DIGEST_FORMAT, NAME_UPPERCASE)
        elif kind == "digest-length":
            assert err.code in (DIGEST_LENGTH, INVALID_FORMAT)  # under 32 digits the grammar itself refuses
        else:
            assert err.code in (DIGEST_UNSUPPORTED, DIGEST_FORMAT, NAME_UPPERCASE)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        references().map(lambda r: r["text"]), mutated().map(lambda m: m[0]), st.text("aA0f.:_-/@[]", max_size=30)
    )
)
def test_parse_accepts_what_upstream_regexp_matches(text):
    """The piecewise parser accepts exactly what upstream's anchored expression matches (the
    grammar; the path length and the digest are checked after it, as upstream does), and
    splits it into the same name, tag and digest."""
    m = REFERENCE_REGEXP.match(text)
    try:
        ref = parse(text)
    except ImageRefError as exc:
        grammar_refused = exc.code in (INVALID_FORMAT, NAME_UPPERCASE, NAME_EMPTY)
        assert grammar_refused == (m is None), (text, exc.code)
        return
    assert m is not None, text
    assert (ref.name, ref.tag, str(ref.digest) if ref.digest else None) == (m.group(1), m.group(2), m.group(3))


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_with_a_reason(text):
    try:
        ref = parse_normalized(text)
    except ImageRefError as exc:
        assert exc.reason and exc.code
        if exc.without_digest is not None:
            assert "@" in text
    else:
        assert ref.domain and ref.path and str(ref)


def test_no_input_is_slow():
    hostile = [
        "a" * 100_000 + "!",
        "a-" * 50_000 + "!",
        "a/" * 50_000 + "!",
        "a." * 50_000 + "/b",
        "[" + ":" * 100_000,
        "a@sha256:" + "f" * 100_000 + "g",
        ("a" * 1000 + ".") * 100 + "!/x",
    ]
    for text in hostile:
        start = time.perf_counter()
        with pytest.raises(ImageRefError):
            parse_normalized(text)
        assert time.perf_counter() - start < 1.0, text[:20]


@pytest.mark.parametrize(
    ("text", "code", "reason"),
    [
        ("nginx@sha256:" + "A" * 64, DIGEST_FORMAT, "a sha256 digest must be lower-case hex (0-9, a-f)"),
        ("nginx@sha256:" + "a" * 40, DIGEST_LENGTH, "a sha256 digest has 64 hex digits, this one has 40"),
        (
            "nginx@md5:" + "a" * 32,
            DIGEST_UNSUPPORTED,
            "the digest algorithm 'md5' is not supported: only sha256, sha384 and sha512 are",
        ),
        (
            "nginx@SHA256:" + "a" * 64,
            NAME_UPPERCASE,
            "the digest algorithm 'SHA256' has upper-case letters; it must be lower case",
        ),
        ("nginx@sha256:abc", INVALID_FORMAT, "the digest 'sha256:abc' is not <algorithm>:<at least 32 hex digits>"),
        ("Nginx:1.0", NAME_UPPERCASE, "the repository path 'Nginx' has upper-case letters; it must be lower case"),
        (
            "ghcr.io/Acme/app",
            NAME_UPPERCASE,
            "the repository path 'Acme/app' has upper-case letters; it must be lower case",
        ),
        ("{{ .Values.image }}", NAME_UPPERCASE, "it contains whitespace"),
        ("${IMAGE}", NAME_UPPERCASE, "the repository path component '${IMAGE}' is not valid"),
        ("ko://github.com/acme/app", INVALID_FORMAT, "it has a URL scheme"),
        (" nginx", INVALID_FORMAT, "it has leading or trailing whitespace"),
        ("nginx:-x", INVALID_FORMAT, "the tag '-x' is not valid"),
        ("a//b", INVALID_FORMAT, "the repository path has an empty component"),
        ("a" * 64, INVALID_FORMAT, "a bare 64-hex-digit string is an image ID"),
        ("", NAME_EMPTY, "the image reference is empty"),
        ("ghcr.io/" + "a" * 300, NAME_TOO_LONG, "the repository path has 300 characters (at most 255)"),
    ],
)
def test_reasons(text, code, reason):
    with pytest.raises(ImageRefError) as info:
        parse_normalized(text)
    assert info.value.code == code
    assert reason in info.value.reason


def test_helpers_for_option_validation():
    assert imageref.is_tag("v1.2_3-rc.1") and not imageref.is_tag("-x") and not imageref.is_tag("a" * 129)
    assert imageref.is_domain("registry.example.com:5000") and imageref.is_domain("[::1]:5000")
    assert not imageref.is_domain("https:") and not imageref.is_domain("") and not imageref.is_domain("-a.com")
    assert imageref.is_path("acme/app") and not imageref.is_path("Acme/app") and not imageref.is_path("acme//app")
