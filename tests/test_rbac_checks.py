"""KF-RBAC checks on their fixtures (the same exact-outcome harness as test_checks.py), plus
metadata and cross-check behaviour.

The module `kubefort.checks.rbac` is imported inside the tests, not at collection, so that the
registry other test modules see at collection time does not depend on test order.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from conftest import FIXTURES, scan_file, scan_text
from test_checks import _annotation, _expectations

FIXTURE_FILES = sorted((FIXTURES / "checks").glob("KF-RBAC-*.yaml"))


@pytest.fixture(scope="module")
def registry():
    import kubefort.checks.rbac  # noqa: F401
    from kubefort.registry import REGISTRY

    return REGISTRY


def test_every_rbac_check_has_a_fixture(registry):
    ids = {m.id for m in registry if m.id.startswith("KF-RBAC-")}
    assert ids == {p.stem for p in FIXTURE_FILES}


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_rbac_fixture_exact_outcomes(registry, path: Path):
    meta = registry.get(path.stem)
    expected = _expectations(path)
    statuses = {s for exp in expected.values() for s in exp.values()}
    assert {"failed", "passed"} <= statuses
    outcomes = [o for o in scan_file(path, (meta.id,)) if o.check_id == meta.id]
    actual: dict[str, dict[str | None, str]] = defaultdict(dict)
    for o in outcomes:
        assert None not in actual[o.resource.name], f"two outcomes for {o.resource.name}"
        actual[o.resource.name][None] = o.status.value
    assert dict(actual) == expected, "\n".join(f"{o.resource.name}: {o.status.value} {o.message}" for o in outcomes)
    for o in outcomes:
        if o.status.value != "passed":
            assert o.location is not None and o.location.line is not None, o
            assert o.fingerprint and o.message
        line = _annotation(path, o.resource.name, "test.kubefort.io/line")
        if line and o.status.value == "failed":
            assert o.location.line == int(line), (o.resource.name, o.location)
        msg = _annotation(path, o.resource.name, "test.kubefort.io/message")
        if msg and o.status.value == "failed":
            assert msg in o.message, o.message


def test_rbac_check_metadata(registry):
    from kubefort.registry import REQUIRED_SECTIONS

    for m in registry:
        if not m.id.startswith("KF-RBAC-"):
            continue
        assert m.target == "cluster" and m.kinds
        sections = m.sections()
        for s in REQUIRED_SECTIONS:
            assert sections.get(s), f"{m.id} lacks '## {s}'"
        maps = m.mappings.as_dict()
        assert "mitre" in maps and "owasp" in maps and "nsa" in maps, m.id
        assert m.func.__name__ == m.name.replace("-", "_")
        assert m.remediation.endswith(".") and not m.title.endswith(".")


def test_one_policy_per_scan(registry, tmp_path: Path):
    """Every RBAC check of a scan shares one Policy (built once per cluster index)."""
    from kubefort.checks import rbac as checks
    from kubefort.engine import Index as ClusterIndex
    from kubefort.kube.rbac import Policy

    built = []
    orig = Policy.__init__

    def counting(self, *a, **kw):
        built.append(1)
        orig(self, *a, **kw)

    Policy.__init__ = counting
    try:
        ids = tuple(m.id for m in registry if m.id.startswith("KF-RBAC-"))
        scan_file(FIXTURES / "checks" / "KF-RBAC-006.yaml", ids)
    finally:
        Policy.__init__ = orig
    assert len(built) == 1
    assert checks.policy_for(ClusterIndex([])) is not None


def test_rbac_checks_in_a_full_scan_do_not_judge_unrelated_objects(registry, tmp_path: Path):
    text = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: shop}
roleRef: {kind: ClusterRole, name: view, apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: Group, name: devs}]
"""
    ids = tuple(m.id for m in registry if m.id.startswith("KF-RBAC-"))
    outs = [o for o in scan_text(tmp_path, text, checks=ids) if o.check_id.startswith("KF-RBAC-")]
    assert {o.resource.name for o in outs} == {"rb"}
    assert {o.status.value for o in outs} == {"passed"}
