"""Run one check on decoded objects, as a scan of one file would (per-object and cross-object).

Shared by the registry-wide tests that feed every check variants of its fixture objects
(test_fuzz_checks.py, test_absent_fields.py, test_scope.py).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES
from kubefort.config import config_from_doc, make_options
from kubefort.engine import Engine, EngineSettings
from kubefort.loaders.manifests import InputSpec, LoadedInput, add_object, load
from kubefort.model import InputRecord, Outcome, Path_, Source
from kubefort.registry import REGISTRY, CheckMeta

CHECKS_DIR = FIXTURES / "checks"
# every check that judges objects (the KF-INPUT checks with no function get their outcomes from loaders)
EVALUATED = [m for m in REGISTRY if m.target not in ("input", "audit")]  # audit checks: tests/test_audit_checks.py
EXPECT = "test.kubefort.io/"


@functools.cache
def fixture_objects(check_id: str) -> tuple[dict[str, Any], ...]:
    """The decoded objects of the check's fixture (read once; callers copy before changing them)."""
    path = CHECKS_DIR / f"{check_id}.yaml"
    if not path.is_file():
        pytest.skip(f"{check_id} has no fixture yet (test_checks.py requires one)")
    li = load(InputSpec("file", str(path), path.stat().st_size))
    return tuple(r.obj for r in li.resources)


def fixture_options(path: Path) -> dict[str, object]:
    """The options a fixture declares: `# kubefort-test-config:` (a .kubefort.yaml document, as
    JSON, its relative paths relative to the fixture), then `# kubefort-test-options:`."""
    text = path.read_text()
    options: dict[str, object] = {}
    c = re.search(r"^# kubefort-test-config: (.*)$", text, re.MULTILINE)
    if c:
        options.update(config_from_doc(json.loads(c.group(1)), path, REGISTRY).options)
    m = re.search(r"^# kubefort-test-options: (.*)$", text, re.MULTILINE)
    raw = json.loads(m.group(1)) if m else {}
    options.update({cid: make_options(REGISTRY.get(cid), v, path.name) for cid, v in raw.items()})
    return options


@functools.cache
def engine(check_id: str) -> Engine:
    """An engine that runs one check with the options its fixture declares."""
    options = fixture_options(CHECKS_DIR / f"{check_id}.yaml")
    return Engine(EngineSettings(check_ids=(check_id,), options=options), REGISTRY)


def run(meta: CheckMeta, docs: Sequence[object]) -> list[Outcome]:
    """The outcomes of `meta` on `docs` (one document each, as one file would give them)."""
    li = LoadedInput(InputRecord("fuzz.yaml", "file"))
    for i, doc in enumerate(docs):
        add_object(li, doc, Source("fuzz.yaml", i, i + 1), "fuzz.yaml")
    eng = engine(meta.id)
    part = eng.evaluate(li)
    return part.outcomes + eng.cross_object(part.collected)


def statuses(meta: CheckMeta, docs: Sequence[object], index: int) -> dict[str | None, str]:
    """container (None for the object or pod) -> status of `meta` on document `index` of `docs`."""
    out: dict[str | None, str] = {}
    for o in run(meta, docs):
        if o.check_id == meta.id and o.source is not None and o.source.doc_index == index:
            out[o.container] = o.status.value
    return out


def paths(value: object, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path inside a decoded object (list items: the first three), the test annotations left out."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and k.startswith(EXPECT):
                continue
            yield prefix + (k,)
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            yield prefix + (i,)
            yield from paths(v, prefix + (i,))


def get(obj: object, path: Path_) -> Any:
    cur: Any = obj
    for k in path:
        cur = cur[k]
    return cur


def replaced(obj: dict[str, Any], path: Path_, value: object) -> dict[str, Any]:
    """A copy of `obj` with the value at `path` replaced."""
    out = copy.deepcopy(obj)
    get(out, path[:-1])[path[-1]] = copy.deepcopy(value)
    return out


def deleted(obj: dict[str, Any], path: Path_) -> dict[str, Any]:
    """A copy of `obj` without the key or list item at `path`."""
    out = copy.deepcopy(obj)
    del get(out, path[:-1])[path[-1]]
    return out
