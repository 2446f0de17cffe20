"""Positions of findings: rapidyaml's in-place tree must give exactly libyaml's start marks.

`Locator.find` answers from rapidyaml where it can and from libyaml's composed nodes where it
cannot; `Locator.find_composed` always asks libyaml. These tests ask both for every path of
every object (plus a missing child under each, which answers with the deepest existing
ancestor) and require the same (line, column), and require rapidyaml to answer most of them
(so a fast path that always gave up would fail here too).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, ROOT
from kubefort.loaders.yamlparse import parse_stream
from kubefort.locate import Locator
from kubefort.model import Path_


def _paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _compare(data: bytes, sample: int | None = None, seed: int = 0) -> tuple[int, int]:
    """(paths compared, paths rapidyaml answered); asserts every answer equals libyaml's."""
    parsed = parse_stream(data)
    fast, slow = Locator(data, parsed.doc_lines), Locator(data, parsed.doc_lines)
    rng = random.Random(seed)
    n = 0
    for di, doc in enumerate(parsed.docs):
        paths = list(_paths(doc))
        paths += [(*p, "zz-missing") for p in paths if p]
        if sample is not None and len(paths) > sample:
            paths = rng.sample(paths, sample)
        for p in paths:
            assert fast.find(di, p) == slow.find_composed(di, p), (di, p)
            n += 1
    return n, fast.fast_answers


CASES = {
    "block": b"a: 1\nb:\n  c: x\n  d:\n  - 1\n  - 'two'\n  - \"three\"\n",
    "flow": b'{"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a", "args": ["x", 1]}]}}\n',
    "crlf": b"a: 1\r\nb:\r\n  - c: 2\r\n    d: [1, 2]\r\n",
    "unicode": "metadata:\n  annotations:\n    d\u00e9j\u00e0: \u00e9t\u00e9\n    k: 'v\u00e9'\n".encode(),
    "indentless": b"spec:\n  containers:\n  - name: a\n    ports:\n    - containerPort: 80\n",
    "item on next line": b"items:\n-\n  name: a\n- - x\n  - y\n",
    "block scalars": b"a: |\n  text\nb: >-\n  folded\nc:\n- |\n  item\n- x\n",
    "empty values": b"a:\nb: {}\nc: []\nd: ''\ne: ~\nl:\n-\n- {}\n- []\n- x\n",
    "comments": b"a: # c\n  b: 1\nl: # c\n  # c\n  - 1\nf: [ # c\n  1]\n",
    "yaml 1.1 keys": b"on: 1\nyes: 2\n0x1F: 3\n~: 4\n1_000: 5\n'on': 6\n",
    "documents": b"# head\n---\n---\na: 1\n...\n---\n- 1\n- {b: 2}\n--- x\n",
    "quoted keys": b"\"a b\": 1\n'c''d': 2\n\"e\\tf\": 3\n",
    "anchors": b"a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n",
    "tags": b"a: !!str 1\nb: !!map {c: 1}\nd: !!seq [1]\nl:\n- !!str 1\n- x\n",
    "unknown tag": b"a: !custom {c: 1}\n",
    "duplicate keys": b"a: 1\na: 2\nb: {c: 1, c: 2}\n",
    "lone CR": b"a: 1\rb: 2\n",
    "bom": b"\xef\xbb\xbfa: 1\nb: 2\n",
    "no final newline": b"a: 1\nb:\n  c: 2",
    "tabs": b"a:\t1\nb: [\t1,\t2]\n",
    "nested flow": b"a: {b: [1, {c: d}], e: {}}\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_marks_as_libyaml(name: str) -> None:
    _compare(CASES[name])


def test_rapidyaml_answers_the_common_shapes() -> None:
    for name in ("block", "flow", "crlf", "unicode", "indentless", "quoted keys"):
        n, answered = _compare(CASES[name])
        assert answered == n, name


@pytest.mark.parametrize("name", ["lone CR", "bom"])
def test_libyaml_answers_files_rapidyaml_cannot_place(name: str) -> None:
    n, answered = _compare(CASES[name])
    assert n > 0 and answered == 0


@pytest.mark.parametrize("name", ["anchors", "tags", "block scalars", "empty values"])
def test_libyaml_answers_the_nodes_rapidyaml_cannot_place(name: str) -> None:
    """Tags, anchors, aliases, block scalars and empty values go to libyaml; the rest of the
    same document is still answered from rapidyaml's tree."""
    n, answered = _compare(CASES[name])
    assert 0 < answered < n


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file())


def test_fixtures_and_examples() -> None:
    total = answered = 0
    for f in _yaml_files(FIXTURES) + _yaml_files(ROOT / "examples"):
        n, a = _compare(f.read_bytes())
        total, answered = total + n, answered + a
    assert total > 10_000
    assert answered > 0.9 * total


@pytest.mark.slow
def test_bench_corpus(shared: Path) -> None:
    """Every file of ../shared/corpus/bench, up to 40 sampled paths per document (a different sample per file)."""
    files = _yaml_files(shared / "corpus" / "bench")
    assert files
    total = answered = 0
    for i, f in enumerate(files):
        n, a = _compare(f.read_bytes(), sample=40, seed=i)
        total, answered = total + n, answered + a
    assert answered > 0.9 * total
