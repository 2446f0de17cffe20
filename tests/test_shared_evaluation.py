"""Checks judged together give exactly the outcomes each gives alone.

On one object the engine runs every per-object check on the same pod and container views, so
what one check derives from a view (a parsed image, the effective resources, the parsed
commands, the env entries, the labels, the PSS evaluation, a NotEvaluated reason) is kept in
the view's memo and handed to the next check that asks; pure functions of text (quantities,
image references, commands) are cached for the whole process; and the engine runs a target's
checks in one loop (`Recorder.run_all`). None of that may change an outcome: for the fixture
objects of every per-object check, mutated as tests/test_fuzz_checks.py mutates them (wrong
types, nulls, deleted keys, other values), an engine running all of them must give, check by
check, the outcome (status, container, message, path) that an engine running that check alone
gives on a fresh copy of the object. And a check the engine does not call because its options
leave it `off` would have judged no target of those objects.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkrun import fixture_objects, get, paths
from kubefort.engine import Engine, EngineSettings, Recorder
from kubefort.engine.exceptions import inline_ignores
from kubefort.kube.pods import find_pods
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import (
    CheckContext,
    InputRecord,
    NotApplicable,
    NotEvaluated,
    Outcome,
    Resource,
    Source,
    Violation,
    options_off,
)
from kubefort.registry import REGISTRY

PER_OBJECT = tuple(m.id for m in REGISTRY if m.target in ("object", "pod", "container"))
# the areas whose checks read pod specs (the shared views), with their fixture objects
WORKLOAD_AREAS = ("KF-POD-", "KF-PSS-", "KF-RES-", "KF-WL-", "KF-IMG-", "KF-SEC-", "KF-NET-014", "KF-META-")
SCALARS = st.none() | st.booleans() | st.integers(-3, 70000) | st.floats(allow_nan=True) | st.text(max_size=8)
VALUES = SCALARS | st.sampled_from(["", "0", "ALL", "latest", "100m", "1Gi", "sh", "-c", "sudo id", [], {}, [None]])
JSON = st.recursive(
    VALUES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=5,
)


@functools.cache
def _objects() -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    for cid in PER_OBJECT:
        if cid.startswith(WORKLOAD_AREAS):
            found += [o for o in fixture_objects(cid) if isinstance(o, dict)]
    return tuple(found)


@functools.cache
def _engine(check_ids: tuple[str, ...]) -> Engine:
    return Engine(EngineSettings(check_ids=check_ids, keep_passed=True), REGISTRY)


def _key(o: Outcome) -> tuple[Any, ...]:
    return (o.check_id, o.status.value, o.container, o.message, o.path)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(_objects())))
    for _ in range(draw(st.integers(0, 3))):
        where = list(paths(obj))
        if not where:
            break
        path = draw(st.sampled_from(where))
        parent = get(obj, path[:-1])
        if draw(st.booleans()):
            parent[path[-1]] = copy.deepcopy(draw(JSON))
        else:
            del parent[path[-1]]
    return obj


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(obj=mutated())
def test_checks_together_give_the_outcomes_each_gives_alone(obj: dict[str, Any]) -> None:
    together = sorted(map(_key, _engine(PER_OBJECT).check_object(copy.deepcopy(obj))), key=repr)
    alone = sorted(
        (
            _key(o)
            for cid in PER_OBJECT
            for o in _engine((cid,)).check_object(copy.deepcopy(obj))
            if o.check_id == cid  # each engine reports a malformed object (KF-INPUT-003): count it once
        ),
        key=repr,
    )
    assert [o for o in together if o[0] in PER_OBJECT] == alone


def test_the_sample_covers_the_shared_derivations() -> None:
    """The fixture objects reach every memoised derivation: images, resources, commands, env, labels."""
    text = repr(_objects())
    for field in ("'image'", "'resources'", "'command'", "'args'", "'env'", "'labels'", "'ports'", "'volumes'"):
        assert field in text, field


# per-object checks whose default options leave them off: the engine does not call them
# (`OffUntilSet`; the audit analyzer honours the same rule, tested by the KF-AUDIT-021 fixture)
OFF = [
    m
    for m in REGISTRY
    if m.target in ("object", "pod", "container") and m.options is not None and options_off(m.options())
]


def _targets(obj: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What the engine hands per-object checks for `obj`: the object, each pod, each (pod, container)."""
    li = LoadedInput(InputRecord("-", "object"))
    add_object(li, copy.deepcopy(obj), Source("-"), "-")
    found: list[tuple[Any, ...]] = []
    for res in li.resources:
        found.append((res,))
        try:
            for pod in find_pods(res):
                found.append((pod,))
                found += [(pod, c) for c in pod.containers()]
        except NotEvaluated:
            pass  # every pod and container check is not evaluated then, off or not
    return found


def test_some_checks_are_off_by_default() -> None:
    assert {"KF-RES-008", "KF-RES-012", "KF-IMG-004", "KF-IMG-006"} <= {m.id for m in OFF}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(obj=mutated())
def test_a_check_that_is_off_judges_no_target(obj: dict[str, Any]) -> None:
    """Not calling a check whose options say `off` changes no outcome: called, it would raise
    NotApplicable (no outcome) on every target it could be given."""
    for meta in OFF:
        assert meta.options is not None and meta.func is not None
        func: Any = meta.func  # a union of every target's signature: called as the engine calls it
        ctx = CheckContext(meta.options(), {})
        want = {"object": 1, "pod": 1, "container": 2}[meta.target]
        for target in _targets(obj):
            if len(target) == want and (meta.target != "object" or isinstance(target[0], Resource)):
                with pytest.raises(NotApplicable):
                    list(func(*target, ctx))


def _boom(*args: Any) -> Iterator[Violation]:
    yield from ()  # a generator, as checks are
    raise KeyError("a bug in a check")


def _twice(*args: Any) -> Iterator[Violation]:
    yield Violation("first finding", ("spec",))
    yield Violation("second finding")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(obj=mutated(), keep=st.booleans())
def test_running_a_targets_checks_together_records_what_running_each_records(obj: dict[str, Any], keep: bool) -> None:
    """`Recorder.run_all` (the engine's per-object loop) against `Recorder.run` check by check:
    the same outcomes in the same order (passed, failed with its findings joined, suppressed by an
    inline annotation, not evaluated, an internal error), and the same count of passes left out."""
    engine = _engine(PER_OBJECT)
    crash = dataclasses.replace(REGISTRY.get("KF-POD-001"), func=_boom)
    by_target = {"object": 1, "pod": 1, "container": 2}
    for target in _targets(obj):
        res = target[0] if isinstance(target[0], Resource) else target[0].resource
        metas = [
            m
            for m in REGISTRY
            if m.id in PER_OBJECT
            and by_target[m.target] == len(target)
            and (m.target == "object") == (target[0] is res)
        ]
        if len(target) == 2:
            metas += [crash, dataclasses.replace(REGISTRY.get("KF-POD-005"), func=_twice)]
        pods = [target[0]] if target[0] is not res else []
        ignores = inline_ignores(res, pods, REGISTRY)
        runs = [(m, m.func, engine.ctx[m.id]) for m in metas]
        container = target[1].name if len(target) == 2 else None
        base = target[-1].path if target[0] is not res else ()
        together = Recorder(engine.severity, lambda src: None, keep)
        together.run_all(runs, res, target, container, base, ignores)
        each = Recorder(engine.severity, lambda src: None, keep)
        for m, _func, ctx in runs:
            each.run(m, res, (*target, ctx), container, base, ignores)
        assert [_key(o) + (o.fingerprint, o.suppression) for o in together.outcomes] == [
            _key(o) + (o.fingerprint, o.suppression) for o in each.outcomes
        ]
        assert together.omitted == each.omitted
        assert together.omitted_by_check() == each.omitted_by_check()
        assert sum(together.omitted_by_check().values()) == together.omitted


@pytest.mark.parametrize("jobs", [1, 2])
def test_check_counts_are_the_same_whether_passes_are_kept_or_only_counted(jobs: int) -> None:
    """`ScanResult.check_counts` (what the history store keeps per scan): per check and status,
    the same whether the engine kept each pass as an outcome or only counted it, in one process
    or in workers."""
    from pathlib import Path

    from kubefort.drivers.manifests import scan
    from kubefort.loaders.manifests import discover

    root = Path(__file__).resolve().parent.parent / "examples"
    specs = discover([str(root)])
    ids = tuple(m.id for m in REGISTRY if m.target != "audit")
    kept = scan(specs, EngineSettings(check_ids=ids, keep_passed=True), jobs=jobs)
    counted = scan(specs, EngineSettings(check_ids=ids, keep_passed=False), jobs=jobs)
    assert counted.passed_omitted > 0
    assert counted.check_counts() == kept.check_counts()
    assert sum(c["passed"] for c in counted.check_counts().values()) == counted.counts()["passed"]
    assert set(counted.check_counts()) >= set(ids)
