"""Objects defined more than once in one analysis unit.

Each definition keeps its own per-object outcomes; the scan warns with every location (also
as data in the JSON report's extras); cross-object checks see the last definition, as
`kubectl apply` of the unit would leave the cluster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kubefort.cli import cli
from kubefort.engine import Engine, EngineSettings, Partial
from kubefort.engine.index import duplicates, effective, identity
from kubefort.loaders.manifests import discover, load
from kubefort.model import Resource, ResourceId, ScanResult, Source, Status
from kubefort.registry import REGISTRY

INPUT = tuple(sorted(m.id for m in REGISTRY if m.target == "input"))


def scan(paths: list[Path], checks: tuple[str, ...]) -> ScanResult:
    settings = EngineSettings(check_ids=tuple(sorted(set(checks) | set(INPUT))))
    engine = Engine(settings, REGISTRY)
    part = Partial()
    for spec in discover([str(p) for p in paths]):
        part.merge(engine.evaluate(load(spec, settings.load)))
    return engine.finish(part)


def dump(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return path


def pod(name: str, ns: str = "shop", privileged: bool = True, api: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25", "securityContext": {"privileged": privileged}}]},
    }


def test_every_copy_keeps_its_findings_and_the_warning_names_every_location(tmp_path: Path) -> None:
    a = dump(tmp_path / "app" / "a.yaml", [pod("web")])
    b = dump(tmp_path / "app" / "b.yaml", [pod("other"), pod("web")])
    result = scan([tmp_path / "app"], ("KF-POD-001",))
    failed = sorted(
        (o.location.file, o.location.line)
        for o in result.outcomes
        if o.status is Status.FAILED and o.location and o.resource and o.resource.name == "web"
    )
    assert failed == [(str(a), 11), (str(b), 23)]
    fingerprints = {o.fingerprint for o in result.outcomes if o.resource and o.resource.name == "web"}
    assert len(fingerprints) == 2  # the file is part of the fingerprint: a baseline tells them apart
    assert result.warnings == [
        f"Pod/shop/web is defined 2 times in {tmp_path / 'app'}: {a}:1, {b}:13; cross-object checks use "
        "the last definition (scan separate apps or environments as separate PATHs)"
    ]
    assert result.extras["duplicates"] == [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "namespace": "shop",
            "name": "web",
            "unit": str(tmp_path / "app"),
            "definitions": [
                {"apiVersion": "v1", "file": str(a), "line": 1},
                {"apiVersion": "v1", "file": str(b), "line": 13},
            ],
        }
    ]


def test_copies_in_one_file_each_keep_their_outcomes(tmp_path: Path) -> None:
    f = dump(tmp_path / "d" / "x.yaml", [pod("web"), pod("web", privileged=False), pod("web")])
    result = scan([tmp_path / "d"], ("KF-POD-001",))
    got = sorted((o.status.value, o.location.line if o.location else None) for o in result.outcomes)
    assert got == [("failed", 11), ("failed", 35), ("passed", None)]
    assert result.warnings == [
        f"Pod/shop/web is defined 3 times in {tmp_path / 'd'}: {f}:1, {f}:13, {f}:25; cross-object checks "
        "use the last definition (scan separate apps or environments as separate PATHs)"
    ]


def test_copies_in_different_units_are_not_duplicates(tmp_path: Path) -> None:
    dump(tmp_path / "dev" / "x.yaml", [pod("web")])
    dump(tmp_path / "prod" / "x.yaml", [pod("web")])
    result = scan([tmp_path / "dev", tmp_path / "prod"], ("KF-POD-001",))
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.FAILED]
    assert result.warnings == [] and "duplicates" not in result.extras


def test_the_last_definition_is_what_cross_object_checks_see(tmp_path: Path) -> None:
    """A NetworkPolicy redefined later in the unit: only the last one selects (or not) the pod."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}

    def policy(selector: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"podSelector": selector, "policyTypes": ["Ingress"]},
        }

    everything, nothing = policy({}), policy({"matchLabels": {"app": "none"}})
    for first, last, expected in ((everything, nothing, "failed"), (nothing, everything, "passed")):
        d = tmp_path / expected
        dump(d / "1.yaml", [ns, first, pod("web")])
        dump(d / "2.yaml", [last])
        result = scan([d], ("KF-NET-003",))
        assert [(str(o.resource), o.status.value) for o in result.outcomes] == [("Pod/shop/web", expected)]
        assert len(result.warnings) == 1 and "NetworkPolicy/shop/p is defined 2 times" in result.warnings[0]


def test_cli_reports_the_warning_in_table_and_json(tmp_path: Path) -> None:
    dump(tmp_path / "a.yaml", [pod("web")])
    dump(tmp_path / "b.yaml", [pod("web")])
    runner = CliRunner()
    table = runner.invoke(cli, ["scan", str(tmp_path), "--checks", "KF-POD-001", "--no-color"])
    assert "Pod/shop/web is defined 2 times" in table.output
    out = runner.invoke(cli, ["scan", str(tmp_path), "--checks", "KF-POD-001", "-o", "json"])
    report = json.loads(out.stdout)
    assert [w for w in report["warnings"] if "defined 2 times" in w] != []
    assert [d["name"] for d in report["extras"]["duplicates"]] == ["web"]
    assert len([r for r in report["results"] if r["outcome"] == "failed"]) == 2


# ---------------------------------------------------------------------------------------------
# the identity rule and "last wins", over the class of objects

API_VERSIONS = ("v1", "apps/v1", "apps/v1beta1", "example.com/v1", "example.com/v2")
NAMES = ("web", "db", "(no name)", "gen-*")

rids = st.builds(
    ResourceId,
    st.sampled_from(API_VERSIONS),
    st.sampled_from(("Deployment", "ConfigMap")),
    st.sampled_from((None, "a", "b")),
    st.sampled_from(NAMES),
)
items = st.lists(st.tuples(rids, st.sampled_from((None, "u1", "u2"))), max_size=12)


def test_identity_is_group_kind_namespace_name() -> None:
    assert identity(ResourceId("apps/v1", "Deployment", "a", "web")) == ("apps", "Deployment", "a", "web")
    assert identity(ResourceId("apps/v1beta1", "Deployment", "a", "web")) == ("apps", "Deployment", "a", "web")
    assert identity(ResourceId("v1", "ConfigMap", None, "c")) == ("", "ConfigMap", None, "c")
    assert identity(ResourceId("v1", "Pod", "a", "(no name)")) is None
    assert identity(ResourceId("v1", "Pod", "a", "gen-*")) is None


@given(items)
def test_duplicates_group_exactly_the_same_object_in_the_same_unit(given_items: list[tuple[ResourceId, Any]]) -> None:
    objects = [(rid, Source(f"f{i}", unit=unit)) for i, (rid, unit) in enumerate(given_items)]
    groups = duplicates(objects)
    grouped = [pair for g in groups for pair in g]
    assert len(grouped) == len({id(p) for p in grouped})  # nobody is in two groups
    for g in groups:
        assert len(g) > 1
        assert len({(identity(r), s.unit) for r, s in g}) == 1 and identity(g[0][0]) is not None
        assert [objects.index(p) for p in g] == sorted(objects.index(p) for p in g)
    for p in objects:  # an object left out has no twin in its unit
        if p not in grouped:
            twins = [q for q in objects if q[1].unit == p[1].unit and identity(q[0]) == identity(p[0])]
            assert identity(p[0]) is None or twins == [p]


@given(items)
def test_effective_keeps_the_last_definition_of_each_object_in_order(given_items: list[tuple[ResourceId, Any]]) -> None:
    collected = [(Resource(rid, {"i": i}, Source(f"f{i}")), False) for i, (rid, _) in enumerate(given_items)]
    kept = effective(collected)
    positions = [collected.index(c) for c in kept]
    assert positions == sorted(positions)
    for i, (res, _) in enumerate(collected):
        key = identity(res.id)
        later = [j for j in range(i + 1, len(collected)) if key is not None and identity(collected[j][0].id) == key]
        assert (i in positions) == (not later)


def test_many_duplicates_name_the_first_few_and_count_the_rest(tmp_path: Path) -> None:
    from kubefort.engine.index import MAX_DUPLICATE_WARNINGS

    n = MAX_DUPLICATE_WARNINGS + 7
    dump(tmp_path / "app" / "a.yaml", [pod(f"p{i}") for i in range(n)])
    dump(tmp_path / "app" / "b.yaml", [pod(f"p{i}") for i in range(n)])
    result = scan([tmp_path / "app"], ("KF-POD-001",))
    named = [w for w in result.warnings if "is defined 2 times" in w]
    assert len(named) == MAX_DUPLICATE_WARNINGS
    assert "7 more objects defined more than once in one analysis unit" in result.warnings[-1]
    assert len(result.extras["duplicates"]) == n  # the JSON report keeps every one
