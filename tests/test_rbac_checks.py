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


# ---------------------------------------------------------------------------------------------
# the release's default objects in the input (issue 12 item 17) and the release itself (item 21)
# ---------------------------------------------------------------------------------------------
_SUBJECT_CHECKS = {
    "KF-RBAC-016": lambda s: (
        (s["kind"], s["name"]) in (("User", "system:anonymous"), ("Group", "system:unauthenticated"))
    ),
    "KF-RBAC-017": lambda s: s["kind"] == "Group" and s["name"] in ("system:authenticated", "system:serviceaccounts"),
    "KF-RBAC-018": lambda s: s["kind"] == "ServiceAccount" and s["name"] == "default",
}
_EXTRA_SUBJECTS = (
    {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"},
    {"kind": "User", "name": "system:anonymous", "apiGroup": "rbac.authorization.k8s.io"},
    {"kind": "Group", "name": "system:unauthenticated", "apiGroup": "rbac.authorization.k8s.io"},
    {"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"},
    {"kind": "ServiceAccount", "name": "default", "namespace": "shop"},
)


def _default_bindings(version: str) -> list[dict]:
    from kubefort.kube.rbac.builtin import bootstrap_objects

    return [o for o in bootstrap_objects(version) if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]


def _binding_check_ids(registry) -> tuple[str, ...]:
    return tuple(m.id for m in registry if m.id.startswith("KF-RBAC-") and "RoleBinding" in m.kinds)


def _binding_outcomes(registry, tmp_path: Path, obj: dict, version: str) -> dict[str, object]:
    import json

    from kubefort.checks.rbac.common import RbacOptions

    ids = _binding_check_ids(registry)
    p = tmp_path / "in.json"
    p.write_text(json.dumps(obj))
    opts = dict.fromkeys(ids, RbacOptions(version))
    return {o.check_id: o for o in scan_file(p, ids, options=opts) if o.check_id.startswith("KF-RBAC-")}


def test_unchanged_defaults_are_out_of_scope_and_additions_are_judged(registry, tmp_path: Path):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kubefort.kube.rbac.builtin import shipped_versions

    @given(data=st.data())
    @settings(max_examples=60, deadline=None)
    def run(data: st.DataObject) -> None:
        version = data.draw(st.sampled_from(shipped_versions()))
        default = data.draw(st.sampled_from(_default_bindings(version)))
        obj = {**default, "metadata": dict(default["metadata"])}
        if data.draw(st.booleans()):  # the API server matches by name, whatever the labels say
            obj["metadata"].pop("labels", None)
        assert _binding_outcomes(registry, tmp_path, obj, version) == {}  # unchanged: no outcome at all
        extra = data.draw(st.sampled_from(_EXTRA_SUBJECTS))
        if any(s == extra for s in default.get("subjects") or ()):
            return
        obj["subjects"] = [*(default.get("subjects") or ()), extra]
        got = _binding_outcomes(registry, tmp_path, obj, version)
        for cid, picks in _SUBJECT_CHECKS.items():
            want = "failed" if picks(extra) else "passed"
            assert got[cid].status.value == want, (cid, obj["metadata"]["name"], got[cid].message)
            if want == "failed":  # the addition, never the release's own subjects
                assert got[cid].message.count(" to ") == 1 and extra["name"] in got[cid].message
        # every binding check judges the changed binding: an outcome for each
        assert {o.status.value for o in got.values()} <= {"passed", "failed"}
        other_kind = "KF-RBAC-006" if obj["kind"] == "ClusterRoleBinding" else "KF-RBAC-005"  # each takes one kind
        assert set(got) == set(_binding_check_ids(registry)) - {other_kind}

    run()


def test_kubernetes_version_decides_what_is_a_default(registry, tmp_path: Path):
    import json

    from click.testing import CliRunner

    from kubefort.cli.scan import scan

    # a default binding of 1.37 (not of 1.29): out of scope for 1.37, judged for 1.29
    obj = next(o for o in _default_bindings("1.37") if o["metadata"]["name"] == "system:cluster-trust-bundle-discovery")
    assert _binding_outcomes(registry, tmp_path, obj, "1.37") == {}
    got = _binding_outcomes(registry, tmp_path, obj, "1.29")
    assert got["KF-RBAC-017"].status.value == "failed"
    f = tmp_path / "in.json"
    for version, want in (("1.37", []), ("1.29", ["failed"])):
        r = CliRunner().invoke(
            scan,
            [str(f), "--checks", "KF-RBAC-017", "--kubernetes-version", version, "-o", "json", "--no-config"],
        )
        results = json.loads(r.stdout)["results"]
        assert [x["outcome"] for x in results if x["check_id"] == "KF-RBAC-017"] == want, r.stdout
    r = CliRunner().invoke(scan, [str(f), "--kubernetes-version", "0.9", "--no-config"])
    assert r.exit_code == 2 and "--kubernetes-version" in r.output and "not a Kubernetes version" not in r.output


def test_the_scan_takes_the_release_from_cluster_info(registry, tmp_path: Path):
    """Live scans and snapshots carry the API server's version in their ClusterInfo object."""
    import json

    obj = next(o for o in _default_bindings("1.37") if o["metadata"]["name"] == "system:cluster-trust-bundle-discovery")
    for git_version, want in (("v1.37.1", []), ("v1.29.3", ["failed"])):
        info = {
            "apiVersion": "kubefort.io/v1alpha1",
            "kind": "ClusterInfo",
            "metadata": {"name": "lab"},
            "serverVersion": {"gitVersion": git_version},
        }
        p = tmp_path / "cluster.json"
        p.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [info, obj]}))
        got = [o.status.value for o in scan_file(p, ("KF-RBAC-017",)) if o.check_id == "KF-RBAC-017"]
        assert got == want, git_version
