"""kubefort reads YAML the way the API server does (sigs.k8s.io/yaml -> go-yaml v2).

The expected values below are go-yaml v2's resolve() rules (YAML 1.1 booleans, Go's integer
syntax, timestamps kept as strings), checked on both parser paths; the fast path must always
equal the exact path, on generated documents and on the whole benchmark corpus.
"""

from __future__ import annotations

import math
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared_dir
from kubefort.loaders import yamlparse as yp
from kubefort.loaders.yamlparse import exact as yp_exact
from kubefort.loaders.yamlparse import fast as yp_fast

GO_YAML_V2 = [
    # (plain scalar, value go-yaml v2 gives it)
    ("yes", True),
    ("Yes", True),
    ("YES", True),
    ("y", True),
    ("Y", True),
    ("on", True),
    ("On", True),
    ("ON", True),
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("no", False),
    ("n", False),
    ("N", False),
    ("off", False),
    ("OFF", False),
    ("false", False),
    ("False", False),
    ("yEs", "yEs"),
    ("tRue", "tRue"),
    ("nan", "nan"),
    ("inf", "inf"),
    ("Infinity", "Infinity"),
    ("~", None),
    ("null", None),
    ("Null", None),
    ("NULL", None),
    ("", None),
    ("10", 10),
    ("-3", -3),
    ("+12", 12),
    ("0", 0),
    ("-0", 0),
    ("0755", 493),
    ("0o17", 15),
    ("0x1F", 31),
    ("0b101", 5),
    ("-0b101", -5),
    ("1_000", 1000),
    ("08", 8.0),
    ("1.5", 1.5),
    ("1e3", 1000.0),
    ("1.", 1.0),
    (".5", 0.5),
    ("-.5", -0.5),
    ("1_0.5", 10.5),
    ("9223372036854775807", 9223372036854775807),
    ("18446744073709551615", 18446744073709551615),
    ("99999999999999999999", 1e20),
    ("2001-12-14", "2001-12-14"),
    ("2001-12-14T21:59:43.10-05:00", "2001-12-14T21:59:43.10-05:00"),
    ("1:20", "1:20"),
    ("100m", "100m"),
    ("0.5Gi", "0.5Gi"),
    ("1.2.3", "1.2.3"),
    ("12e", "12e"),
    ("-x", "-x"),
    ("+", "+"),
    ("0x", "0x"),
    ("_1", "_1"),
    (".", "."),
    ("<<x", "<<x"),
]


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("text,value", GO_YAML_V2, ids=[repr(t) for t, _ in GO_YAML_V2])
@pytest.mark.parametrize("fast", [True, False], ids=["auto", "exact"])
def test_plain_scalar_resolution(text, value, fast):
    doc = f"k: {text}\n".encode()
    res = yp.parse_stream(doc, allow_fast=fast)
    assert res.error is None and not res.doc_errors
    assert _same(res.docs[0]["k"], value), res.docs


@pytest.mark.parametrize("text", ["'yes'", '"on"', "'0755'", '"1_000"', "'~'", '"null"', "'nan'"])
def test_quoted_scalars_stay_strings(text):
    assert yp.parse_stream(f"k: {text}\n".encode()).docs == [{"k": text[1:-1]}]


def test_special_floats():
    d = yp.parse_stream(b"a: .nan\nb: .Inf\nc: -.INF\n").docs[0]
    assert math.isnan(d["a"]) and d["b"] == math.inf and d["c"] == -math.inf


def test_bool_keys_become_json_strings():
    # sigs.k8s.io/yaml turns non-string keys into strings on the way to JSON
    assert yp.parse_stream(b"on: 1\nno: 2\n3: x\n").docs == [{"true": 1, "false": 2, "3": "x"}]


def test_explicit_core_tags():
    d = yp.parse_stream(b'a: !!str 123\nb: !!int "12"\nc: !!float 1\nd: !!bool yes\ne: !!binary aGk=\n').docs[0]
    assert d == {"a": "123", "b": 12, "c": 1.0, "d": True, "e": "aGk="}
    bad = yp.parse_stream(b'a: !!int "abc"\n')
    assert bad.docs == [None] and "cannot decode" in bad.doc_errors[0].message


def test_anchors_aliases_and_merge_keys():
    d = yp.parse_stream(b"base: &b {x: 1, z: 2}\nref: *b\nmerged:\n  <<: *b\n  z: 3\n").docs[0]
    assert d == {"base": {"x": 1, "z": 2}, "ref": {"x": 1, "z": 2}, "merged": {"x": 1, "z": 3}}


def test_duplicate_keys_last_wins_like_go_yaml_v2():
    for fast in (True, False):
        assert yp.parse_stream(b"a: 1\na: 2\n", allow_fast=fast).docs == [{"a": 2}]


def test_unknown_tags_are_refused_not_constructed():
    for doc in (
        b'a: !!python/object/apply:os.system ["touch /tmp/kubefort-pwned"]\n',
        b"a: !Ref x\n",
        b"a: !!set {x}\n",
    ):
        r = yp.parse_stream(doc)
        assert r.docs == [None]
        assert "unsupported YAML tag" in r.doc_errors[0].message
    assert not os.path.exists("/tmp/kubefort-pwned")


def test_later_documents_survive_a_bad_tag():
    r = yp.parse_stream(b"a: !!python/name:os.system x\n---\nb: 2\n")
    assert r.docs == [None, {"b": 2}] and 0 in r.doc_errors


def test_syntax_error_keeps_earlier_documents_and_reports_position():
    r = yp.parse_stream(b"a: 1\n---\nb: [1, 2\nc: 3\n")
    assert r.docs == [{"a": 1}]
    assert r.error is not None and r.error.line == 4


def test_block_scalar_at_eof_without_newline():
    # rapidyaml keeps a final line break here that libyaml (and go-yaml) drop
    assert yp.parse_stream(b"a: |\n  x").docs == [{"a": "x"}]
    assert yp.parse_stream(b"a: |\n  x\n").docs == [{"a": "x\n"}]


def test_document_start_lines():
    text = b"# header\n\napiVersion: v1\nkind: A\n---\n# c\nkind: B\n---\n---\nkind: C\n"
    for fast in (True, False):
        r = yp.parse_stream(text, allow_fast=fast)
        lines = [ln for ln, d in zip(r.doc_lines, r.docs, strict=False) if d is not None]
        assert lines == [3, 7, 10], (fast, r.doc_lines)


# ---- the fast path equals the exact path on generated documents --------------------------------
TOKENS = [w for w, _ in GO_YAML_V2 if w] + [
    "plain",
    "a b",
    "*",
    "&",
    "!",
    "x: y",
    "#",
    "'",
    '"',
    "-",
    "|",
    ">",
    "%",
    "@",
    "`",
]


def _scalar(draw_token: str, style: int) -> str:
    if style == 0 and not any(c in draw_token for c in ":#'\"*&!|>%@`") and draw_token != "-":
        return draw_token
    if style == 1:
        return "'" + draw_token.replace("'", "''") + "'"
    return '"' + draw_token.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def documents(draw):
    n = draw(st.integers(1, 6))
    lines = []
    for _i in range(n):
        key = _scalar(draw(st.sampled_from(TOKENS + ["k"])), draw(st.integers(0, 2)))
        kind = draw(st.integers(0, 3))
        if kind == 0:
            lines.append(f"{key}: {_scalar(draw(st.sampled_from(TOKENS)), draw(st.integers(0, 2)))}")
        elif kind == 1:
            items = [
                _scalar(draw(st.sampled_from(TOKENS)), draw(st.integers(0, 2))) for _ in range(draw(st.integers(0, 3)))
            ]
            lines.append(f"{key}: [{', '.join(items)}]")
        elif kind == 2:
            lines.append(f"{key}:")
            for _ in range(draw(st.integers(1, 3))):
                lines.append(f"  - {_scalar(draw(st.sampled_from(TOKENS)), draw(st.integers(0, 2)))}")
        else:
            lines.append(f"{key}: |")
            lines.append(f"  {draw(st.sampled_from(TOKENS))}")
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=400, deadline=None)
@given(documents())
def test_fast_path_equals_exact_path(doc):
    exact = yp_exact.parse_exact(doc)
    fast = yp_fast.parse_fast(doc)
    if fast is None:
        return  # the fast path declined: nothing to compare
    assert exact.error is None and not exact.doc_errors
    assert repr(fast.docs) == repr(exact.docs)


# ---- and on the real corpus ----------------------------------------------------------------------
@pytest.mark.slow  # parses all of ../shared/corpus both ways: ~40 s
def test_corpus_fast_path_equals_exact_path():
    root = shared_dir()
    if root is None:
        pytest.skip("../shared is not present")
    files = []
    for d, _, fs in os.walk(root / "corpus" / "bench"):
        files += [os.path.join(d, f) for f in fs if f.endswith((".yaml", ".yml"))]
    assert len(files) > 1000
    fast_count = 0
    for f in sorted(files):
        data = open(f, "rb").read()
        fast = yp_fast.parse_fast(data)
        if fast is None:
            continue
        fast_count += 1
        exact = yp_exact.parse_exact(data)
        assert exact.error is None and not exact.doc_errors, f
        assert repr(fast.docs) == repr(exact.docs), f
        assert [ln for ln, d in zip(fast.doc_lines, fast.docs, strict=False) if d is not None] == [
            ln for ln, d in zip(exact.doc_lines, exact.docs, strict=False) if d is not None
        ], f
    assert fast_count > len(files) * 0.8


def test_go_yaml_v2_reads_y_as_true_even_as_a_key():
    assert yp.parse_stream(b"y: 1\nx: y\n").docs == [{"true": 1, "x": True}]


@pytest.mark.parametrize(
    "key,expected",
    [
        ("1.0", "1"),
        ("1.5", "1.5"),
        ("1e3", "1000"),
        ("1e6", "1e+06"),
        ("123456.0", "123456"),
        ("0.0001", "0.0001"),
        ("0.00001", "1e-05"),
        ("99999999999999999999", "1e+20"),
        ("0.1", "0.1"),
        ("3.14159265358979", "3.1415927"),
        (".inf", ".inf"),
    ],
)
def test_float_keys_are_formatted_like_sigs_k8s_yaml(key, expected):
    # strconv.FormatFloat(f, 'g', -1, 32)
    assert yp.parse_stream(f"{key}: x\n".encode()).docs == [{expected: "x"}]


@pytest.mark.parametrize(
    "text",
    [
        # plain scalars that look numeric to the pre-scan but that go-yaml reads as the same string
        b"uid: 054713f6-de22-4553-82c4-f11938133a54\n",
        b"a: 0x\nb: 1.2.3\nc: -0-1\n",
        # an empty value in the same stream (its tree node has no value text)
        b"uid: 0547f3-de22\nempty:\nlist: [0547f3-de22, x]\n",
    ],
)
def test_plain_strings_that_look_numeric_take_the_fast_path_exactly(text: bytes) -> None:
    fast, exact = yp.parse_stream(text), yp.parse_stream(text, allow_fast=False)
    assert fast.fast and not exact.fast
    assert fast.docs == exact.docs


@pytest.mark.parametrize("text", [b"mode: 0400\n", b"k: 1_000\n", b"flag: yes\n", b"x: 0x1F\n"])
def test_plain_scalars_go_yaml_reads_otherwise_still_take_the_exact_path(text: bytes) -> None:
    res = yp.parse_stream(text)
    assert not res.fast
    assert res.docs == yp.parse_stream(text, allow_fast=False).docs


# ---------------------------------------------------------------- the node-property pre-scan
_PROPERTY_REFERENCE = re.compile(rb"(?<=[\s\[{,:])[!&*][^\s,\]}]|\A[!&*%]|\n%")


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=40) | st.text(alphabet=" \t\n\r\f\v[]{},:!&*%ab-#'\"", max_size=40).map(str.encode))
def test_property_prescan_equals_its_regex(data: bytes) -> None:
    assert yp.may_have_node_properties(data) == (_PROPERTY_REFERENCE.search(data) is not None)


def test_property_prescan_examples() -> None:
    for text, want in [
        (b"a: &x 1\n", True),
        (b"a: *x\n", True),
        (b"!!map {}\n", True),
        (b"%YAML 1.1\n---\na: 1\n", True),
        (b"a: [1, !!str 2]\n", True),
        (b"description: CEL !has(self.x)\n", True),  # a candidate: the parsed tree then decides
        (b"description: a*b&c\n", False),
        (b"a: x!\n", False),
        (b"a: !\n", False),
        (b"a: b\n!", False),
    ]:
        assert yp.may_have_node_properties(text) is want, text
