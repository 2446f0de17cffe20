"""Every object in scope of a check gets an outcome, or a not-applicable reason its docs give (issue 12, item 17).

A check runs on every object of its `kinds` (object and cross-object checks) or on every pod and
container found (pod and container checks). For each such target the engine must record exactly
one outcome, unless the check raises NotApplicable: the target is outside the check's documented
scope. That scope must be written down where users read it: a "## Not applicable when" (or
"## Scope") section of the check's docstring, which `kubefort explain` shows, naming the reason
the check gives.

Each check runs on its fixture objects, and on each of them sent as another API group's kind
(a custom resource that reuses the kind's name) and as a version the API server does not serve.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest

from checkrun import EVALUATED, engine, fixture_objects
from kubefort import docs
from kubefort.engine import Engine, EngineSettings
from kubefort.kube.pods import ContainerView, PodView
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, NotApplicable, Resource, Source
from kubefort.registry import REGISTRY, CheckMeta, Registry

SECTIONS = ("Not applicable when", "Scope")
Target = tuple[int, str | None]  # (document index, container name)


def scope_text(meta: CheckMeta) -> str:
    """The check's documented scope (the sections' text, whitespace normalised), "" if none."""
    sections = meta.sections()
    return " ".join(" ".join(sections.get(s, "").split()) for s in SECTIONS).strip()


def _target(args: tuple[Any, ...]) -> Target:
    first = args[0]
    res: Resource = first.resource if isinstance(first, PodView) else first
    container = args[1].name if len(args) > 2 and isinstance(args[1], ContainerView) else None
    return res.source.doc_index, container


class Probe:
    """One check, wrapped to record every target it was called on and every NotApplicable."""

    def __init__(self, meta: CheckMeta, *, defaults: bool = False) -> None:
        self.meta = meta
        self.called: list[Target] = []
        self.not_applicable: list[tuple[Target, str]] = []
        func = meta.func
        assert func is not None

        def probe(*args: Any) -> Iterable[Any]:
            target = _target(args)
            self.called.append(target)
            try:
                return list(func(*args))
            except NotApplicable as exc:
                self.not_applicable.append((target, str(exc)))
                raise

        registry = Registry()
        registry.add(dataclasses.replace(meta, func=probe))
        options = {} if defaults else _options(meta)  # defaults: the check as a scan without config runs it
        self.engine = Engine(EngineSettings(check_ids=(meta.id,), options=options), registry)

    def run(self, docs: list[Any]) -> Counter[Target]:
        """Outcomes per target of the check on `docs`."""
        self.called.clear()
        self.not_applicable.clear()
        li = LoadedInput(InputRecord("scope.yaml", "file"))
        for i, doc in enumerate(docs):
            add_object(li, doc, Source("scope.yaml", i, i + 1), "scope.yaml")
        part = self.engine.evaluate(li)
        outcomes = part.outcomes + self.engine.cross_object(part.collected)
        return Counter(
            (o.source.doc_index, o.container if self.meta.target == "container" else None)
            for o in outcomes
            if o.check_id == self.meta.id and o.source is not None
        )


def _options(meta: CheckMeta) -> dict[str, object]:
    return engine(meta.id).settings.options


def _variants(objs: tuple[dict[str, Any], ...]) -> Iterable[list[Any]]:
    """The fixture, then each object as a custom resource and as an unserved built-in version."""
    yield list(objs)
    for i, obj in enumerate(objs):
        for api_version in ("example.com/v1", "apps/v1beta9" if obj.get("apiVersion") != "apps/v1beta9" else "v1"):
            yield [*objs[:i], {**obj, "apiVersion": api_version}, *objs[i + 1 :]]


@pytest.mark.parametrize("meta", EVALUATED, ids=lambda m: m.id)
def test_every_target_gets_one_outcome_or_a_documented_not_applicable(meta: CheckMeta) -> None:
    probes = [Probe(meta)] + ([Probe(meta, defaults=True)] if meta.options is not None else [])
    undocumented: set[str] = set()
    for probe, objs in ((p, d) for p in probes for d in _variants(fixture_objects(meta.id))):
        outcomes = probe.run(objs)
        skipped = Counter(t for t, _reason in probe.not_applicable)
        called = Counter(probe.called)
        # the engine runs the check once per target and records exactly one outcome unless it is
        # out of scope (targets without a call are those the engine judged itself: malformed pods)
        for target, n in called.items():
            assert n == 1, f"{meta.id} ran {n} times on {target}"
            assert outcomes[target] + skipped[target] == 1, (target, outcomes[target], skipped[target])
        for _target, reason in probe.not_applicable:
            text = scope_text(meta)
            if not text or (reason and " ".join(reason.split()).lower() not in text.lower()):
                undocumented.add(reason or "(no reason given)")
    assert not undocumented, (
        f"{meta.id} leaves targets without an outcome for reasons its docs do not give; add a "
        f"'## Not applicable when' section naming them: {sorted(undocumented)}"
    )


@pytest.mark.parametrize("meta", [m for m in EVALUATED if m.target in ("object", "cluster") and m.kinds])
def test_object_checks_run_on_every_object_of_their_kinds(meta: CheckMeta) -> None:
    """No object of a check's kinds is passed over: the check is called on each (cross-object
    checks on each the index holds, their kinds only)."""
    probe = Probe(meta)
    objs = fixture_objects(meta.id)
    probe.run(list(objs))
    kinds = meta.kinds or frozenset()
    expected = {i for i, o in enumerate(objs) if o.get("kind") in kinds}
    if "@pods" in kinds or "@namespaced-pods" in kinds:
        expected = {t[0] for t in probe.called} | expected
    assert {t[0] for t in probe.called} == expected


def test_explain_shows_the_scope() -> None:
    """`kubefort explain` renders the section (it renders the whole docstring)."""
    meta = REGISTRY.get("KF-RES-006")
    text = docs.explain(meta, "markdown")
    assert re.search(r"^## Not applicable when$", text, re.MULTILINE)
    assert "system namespace (kube-system, kube-public, kube-node-lease)" in text
