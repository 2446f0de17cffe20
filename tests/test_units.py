"""Analysis units: cross-object checks judge each PATH, Helm chart and kustomization on its own.

Two apps or two environments scanned together must not lend each other NetworkPolicies,
quotas, Namespace labels or RBAC: for any objects spread over several PATHs, the scan's
outcomes are exactly the union of the outcomes of scanning each PATH alone.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefort.engine import Engine, EngineSettings, Partial
from kubefort.engine.index import split_units
from kubefort.loaders.manifests import InputSpec, discover, load
from kubefort.model import Outcome, Resource, ResourceId, ScanResult, Source
from kubefort.registry import REGISTRY

CROSS = tuple(sorted(m.id for m in REGISTRY if m.target == "cluster"))
INPUT = tuple(sorted(m.id for m in REGISTRY if m.target == "input"))


def scan(paths: list[Path], checks: tuple[str, ...] = CROSS, jobs: int = 1) -> ScanResult:
    """`kubefort scan PATH...` through the public engine API (per-object, then cross-object checks)."""
    settings = EngineSettings(check_ids=tuple(sorted(set(checks) | set(INPUT))))
    engine = Engine(settings, REGISTRY)
    part = Partial()
    for spec in discover([str(p) for p in paths]):
        part.merge(engine.evaluate(load(spec, settings.load)))
    return engine.finish(part, jobs=jobs)


def key(o: Outcome) -> tuple[Any, ...]:
    loc = o.location
    return (
        o.check_id,
        o.status.value,
        str(o.resource),
        o.container,
        o.message,
        o.path,
        loc.file if loc else None,
        loc.line if loc else None,
        o.fingerprint,
    )


def dump(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return path


def deployment(ns: str, name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
            },
        },
    }


def deny_all(ns: str, name: str = "default-deny") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def statuses(result: ScanResult, check_id: str) -> dict[str, str]:
    return {str(o.resource): o.status.value for o in result.outcomes if o.check_id == check_id}


# ---------------------------------------------------------------------------------------------
# the examples the issue names


def test_a_policy_in_one_path_does_not_cover_a_pod_in_another(tmp_path: Path) -> None:
    shop = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    a = dump(tmp_path / "app-a" / "netpol.yaml", [shop, deny_all("shop")]).parent
    b = dump(tmp_path / "app-b" / "web.yaml", [shop, deployment("shop", "web", "web")]).parent
    apart = scan([a, b], ("KF-NET-003",))
    assert statuses(apart, "KF-NET-003") == {"Deployment/shop/web": "failed"}
    assert apart.warnings == []
    # one PATH holding both is one unit: the policy covers the pod, as applying both would
    together = scan([tmp_path], ("KF-NET-003",))
    assert statuses(together, "KF-NET-003") == {"Deployment/shop/web": "passed"}
    assert len(together.warnings) == 1 and together.warnings[0].startswith("Namespace/shop is defined 2 times")


def test_quotas_and_namespace_labels_of_one_path_do_not_judge_another(tmp_path: Path) -> None:
    """prod and dev both define Namespace shop; prod's quota and enforce label are not dev's."""
    restricted = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
    }
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "shop"},
        "spec": {"hard": {"pods": "10"}},
    }
    bare = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    prod = dump(tmp_path / "prod" / "ns.yaml", [restricted, quota]).parent
    dev = dump(tmp_path / "dev" / "ns.yaml", [bare, deployment("shop", "web", "web")]).parent
    result = scan([prod, dev], ("KF-RES-006", "KF-PSA-007"))
    got = sorted((o.check_id, o.source.file if o.source else "", o.status.value) for o in result.outcomes)
    # dev's shop enforces nothing: KF-PSA-007 does not apply to dev's Deployment (judged by
    # prod's restricted label it would fail); dev's shop has no quota
    assert got == [
        ("KF-RES-006", str(dev / "ns.yaml"), "failed"),
        ("KF-RES-006", str(prod / "ns.yaml"), "passed"),
    ]
    assert result.warnings == []  # not duplicates: different units


def test_each_chart_and_kustomization_under_a_path_is_its_own_unit(tmp_path: Path) -> None:
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "kz" / "base").mkdir(parents=True)
    (tmp_path / "kz" / "base" / "kustomization.yaml").write_text("resources: []\n")
    (tmp_path / "kz" / "prod").mkdir(parents=True)
    (tmp_path / "kz" / "prod" / "Kustomization").write_text("resources: [../base]\n")
    dump(tmp_path / "plain" / "a.yaml", [deny_all("x")])
    dump(tmp_path / "top.yml", [deny_all("y")])
    (tmp_path / "single.txt").write_text("{}\n")
    specs = discover([str(tmp_path), str(tmp_path / "single.txt"), "-"])
    got = [(s.kind, s.path, s.unit) for s in specs]
    root = str(tmp_path)
    assert got == [
        ("file", f"{root}/top.yml", root),
        ("helm", f"{root}/chart", f"{root}/chart"),
        ("kustomize", f"{root}/kz/base", f"{root}/kz/base"),
        ("kustomize", f"{root}/kz/prod", f"{root}/kz/prod"),
        ("file", f"{root}/plain/a.yaml", root),
        ("file", f"{root}/single.txt", f"{root}/single.txt"),
        ("stdin", "-", "-"),
    ]
    # a chart or kustomization named directly is a unit of its own too
    assert [(s.kind, s.unit) for s in discover([str(tmp_path / "chart")])] == [("helm", f"{root}/chart")]


def test_loaded_objects_carry_their_unit_and_it_survives_pickling(tmp_path: Path) -> None:
    f = dump(tmp_path / "d" / "list.yaml", [{"apiVersion": "v1", "kind": "List", "items": [deny_all("a")]}])
    (spec,) = discover([str(tmp_path / "d")])
    li = load(spec)
    (res,) = li.resources
    assert res.source.unit == str(tmp_path / "d") and res.source.item_path == ("items", 0)
    assert pickle.loads(pickle.dumps(res.source)) == res.source  # noqa: S301 - our own bytes, just made
    # inputs made by hand (no unit) stay one unit, as before units existed
    (hand,) = load(InputSpec("file", str(f))).resources
    assert hand.source.unit is None


def test_cross_object_workers_give_the_same_outcomes_as_one_process(tmp_path: Path) -> None:
    """More than 200 collected objects and jobs > 1: the checks run in forked workers."""
    units = []
    for u in range(3):
        objs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns{i}"}} for i in range(40)
        ]
        objs += [deny_all(f"ns{i}") for i in range(0, 40, 1 + u)]
        objs += [deployment(f"ns{i}", f"web{i}", "web") for i in range(40)]
        units.append(dump(tmp_path / f"u{u}" / "all.yaml", objs).parent)
    one = scan(units, jobs=1)
    two = scan(units, jobs=2)
    assert [key(o) for o in one.outcomes] == [key(o) for o in two.outcomes]
    web1 = sorted(
        (o.source.unit, o.status.value)
        for o in one.outcomes
        if o.check_id == "KF-NET-003" and o.resource and o.resource.name == "web1" and o.source
    )
    assert web1 == [(str(units[0]), "passed"), (str(units[1]), "failed"), (str(units[2]), "failed")]


# ---------------------------------------------------------------------------------------------
# the class: any objects, any split into PATHs

NAMESPACES = ("shop", "pay")
APPS = ("web", "db")


@st.composite
def objects(draw: st.DrawFn) -> dict[str, Any]:
    ns = draw(st.sampled_from(NAMESPACES))
    kind = draw(st.sampled_from(("Namespace", "NetworkPolicy", "Deployment", "ResourceQuota", "LimitRange", "RBAC")))
    name = draw(st.sampled_from(("a", "b")))
    if kind == "Namespace":
        labels = draw(st.sampled_from(({}, {"pod-security.kubernetes.io/enforce": "restricted"}, {"team": "x"})))
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}
    if kind == "NetworkPolicy":
        selector = draw(st.sampled_from(({}, {"matchLabels": {"app": "web"}}, {"matchLabels": {"app": "db"}})))
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"podSelector": selector, "policyTypes": draw(st.sampled_from((["Ingress"], ["Egress"])))},
        }
    if kind == "Deployment":
        return deployment(ns, name, draw(st.sampled_from(APPS)))
    if kind == "ResourceQuota":
        return {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"hard": {"limits.cpu": "4", "limits.memory": "4Gi", "requests.cpu": "2", "pods": "10"}},
        }
    if kind == "LimitRange":
        return {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "1", "memory": "1Gi"}}]},
        }
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}],
    }


def _unique(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inside one PATH, one definition per object (duplicates are tests/test_duplicates.py's)."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for o in objs:
        m = o["metadata"]
        seen[(o["kind"], m.get("namespace", ""), m["name"])] = o
    return list(seen.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(objects(), min_size=1, max_size=8).map(_unique), min_size=2, max_size=3))
def test_scanning_paths_together_is_the_union_of_scanning_each_alone(parts: list[list[dict[str, Any]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = [dump(Path(tmp) / f"p{i}" / "objects.yaml", objs).parent for i, objs in enumerate(parts)]
        together = Counter(key(o) for o in scan(paths).outcomes)
        alone: Counter[tuple[Any, ...]] = Counter()
        for p in paths:
            alone.update(key(o) for o in scan([p]).outcomes)
    assert together == alone


def test_split_units_keeps_input_order() -> None:
    def res(unit: str | None, name: str) -> tuple[Resource, bool]:
        return Resource(ResourceId("v1", "ConfigMap", "a", name), {}, Source("f", unit=unit)), False

    items = [res("x", "1"), res(None, "2"), res("x", "3"), res("y", "4"), res(None, "5")]
    got = [[r.id.name for r, _ in unit] for unit in split_units(items)]
    assert got == [["1", "3"], ["2", "5"], ["4"]]


@pytest.mark.parametrize("jobs", [1, 2])
def test_no_collected_objects_still_runs_nothing(jobs: int) -> None:
    engine = Engine(EngineSettings(check_ids=CROSS), REGISTRY)
    assert engine.cross_object([], jobs=jobs) == []


def test_scan_help_states_the_rule() -> None:
    from click.testing import CliRunner

    from kubefort.cli import cli

    out = CliRunner().invoke(cli, ["scan", "--help"], terminal_width=200).output
    assert "Each PATH, each Helm chart and each kustomization is analysed on its own" in out
    assert "the last definition wins" in out
