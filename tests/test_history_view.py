"""The view dict `report html` renders (`build_view`), and the framework views it carries,
from real stores (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from history_db import postgres, store_url  # noqa: F401 - fixtures
from kubefort.history import frameworks
from kubefort.history.frameworks import control_state, framework_views, history_frameworks
from kubefort.history.store import FindingRow, ScanRow, Store
from kubefort.history.target import TargetLabel
from kubefort.history.view import VIEW_METRIC_KEYS, build_view, where
from kubefort.model import Status
from test_history_metrics import DAY, REG, T0, deny, namespace, pod, scan_dir, write

VIEW_KEYS = {
    "generated_at",
    "since",
    "store",
    "target",
    "targets",
    "scans",
    "metrics",
    "ttr",
    "frameworks",
    "top_checks",
    "top_namespaces",
    "open_findings",
    "open_totals",
}
OPEN_FINDING_KEYS = {
    "fingerprint",
    "target",
    "check_id",
    "check_name",
    "severity",
    "resource",
    "where",
    "message",
    "remediation",
    "first_seen_at",
    "age_s",
}


def record(
    store: Store, tmp_path: Path, key: str, docs: list[dict[str, Any]], at: float, ids: tuple[str, ...] | None = None
) -> None:
    r = scan_dir(write(tmp_path / key.replace(":", "_"), docs), *(ids,) if ids else ())
    r.finished_at = at
    store.record(r, REG, kind="manifests", target=TargetLabel(key, key.partition(":")[0]))


def test_view_of_a_fleet(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    ids = ("KF-POD-001", "KF-POD-006", "KF-NET-001")
    insecure = [namespace("ns-0"), pod(0, [(False, True)]), pod(1, [(True, True)])]
    fixed = [namespace("ns-0"), deny("ns-0", "Ingress"), pod(0, [(True, False)]), pod(1, [(True, True)])]
    with Store.open(store_url) as store:
        record(store, tmp_path, "repo:a", insecure, T0, ids)
        record(store, tmp_path, "repo:b", insecure, T0 + DAY, ids)
        record(store, tmp_path, "repo:a", fixed, T0 + 3 * DAY, ids)
        view = build_view(store, now=T0 + 4 * DAY)
        only_b = build_view(store, target="repo:b", since=T0 + DAY / 2, now=T0 + 4 * DAY)
        capped = [build_view(store, now=T0 + 4 * DAY, max_findings=n) for n in range(7)]
    json.dumps(view, allow_nan=False)  # JSON-able, no NaN
    assert set(view) == VIEW_KEYS
    assert view["generated_at"] == T0 + 4 * DAY and view["since"] is None and view["target"] is None
    assert view["store"] == store_url.replace("s3cret-pw", "***")
    assert [t["key"] for t in view["targets"]] == ["repo:a", "repo:b"]
    assert [(s["target"], s["finished_at"]) for s in view["scans"]] == [
        ("repo:a", T0),
        ("repo:b", T0 + DAY),
        ("repo:a", T0 + 3 * DAY),
    ]
    assert view["scans"][0]["outcomes"]["failed"] == 4  # 2 privileged, 1 may run as root, 1 namespace
    assert view["scans"][0]["failed_by_severity"]["critical"] == 2
    assert view["scans"][0]["complete"] is True
    for m in view["metrics"]:
        assert set(m) == set(VIEW_METRIC_KEYS)
    metrics = {m["name"]: m for m in view["metrics"]}
    assert metrics["privileged_pods"]["value"] == 3  # a: 1 (pod-1), b: 2
    assert metrics["privileged_pods"]["trend"] == [[T0, 2], [T0 + DAY, 4], [T0 + 3 * DAY, 3]]
    # a fixed pod-0's privileged container and its root user, and its namespace's ingress, after 3 days
    assert view["ttr"]["by_severity"]["critical"] == {"median_s": 3 * DAY, "p90_s": 3 * DAY, "count": 1}
    assert view["ttr"]["by_severity"]["medium"]["count"] == 2
    days = [d for d, _ in view["ttr"]["open_per_day"]]
    assert days[0] <= T0 < days[0] + DAY and days[-1] <= T0 + 4 * DAY < days[-1] + DAY
    assert view["ttr"]["open_per_day"][-1][1] == len(view["open_findings"]) == 5
    assert sum(n for _, n in view["ttr"]["fixed_per_day"]) == 3
    assert [c["open"] for c in view["top_checks"]] == sorted((c["open"] for c in view["top_checks"]), reverse=True)
    assert view["top_checks"][0] == {
        "check_id": "KF-POD-001",
        "name": "privileged-container",
        "severity": "critical",
        "open": 3,
    }
    assert view["top_namespaces"] == [{"namespace": "ns-0", "open": 5}]
    for f in view["open_findings"]:
        assert set(f) == OPEN_FINDING_KEYS
        assert (
            f["where"].endswith("all.yaml:" + f["where"].rsplit(":", 1)[1]) and f["where"].rsplit(":", 1)[1].isdigit()
        )
        assert f["age_s"] == T0 + 4 * DAY - f["first_seen_at"]
    sev_rank = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
    keys = [(-sev_rank[f["severity"]], f["first_seen_at"]) for f in view["open_findings"]]
    assert keys == sorted(keys)
    fw = {f["framework"]: f for f in view["frameworks"]}
    assert set(fw) == {"CIS", "NSA-CISA", "PSS", "MITRE ATT&CK", "OWASP K8s Top 10"}
    assert fw["CIS"]["failing"] >= 1  # 5.2.2 (privileged) fails on both targets
    assert only_b["target"] == "repo:b" and [s["target"] for s in only_b["scans"]] == ["repo:b"]
    assert [t["key"] for t in only_b["targets"]] == ["repo:b"]
    assert {f["target"] for f in only_b["open_findings"]} == {"repo:b"}
    # --max-findings: the first N of the same order; the totals, charts and tops still count all
    by_severity: dict[str, int] = {}
    for f in view["open_findings"]:
        by_severity[f["severity"]] = by_severity.get(f["severity"], 0) + 1
    assert view["open_totals"] == {"count": 5, "by_severity": by_severity, "targets": 2, "listed": 5}
    for n, v in enumerate(capped):
        keep = view["open_findings"] if n == 0 else view["open_findings"][:n]
        assert v["open_findings"] == keep, n
        assert v["open_totals"] == {**view["open_totals"], "listed": len(keep)}, n
        assert (v["top_checks"], v["top_namespaces"], v["ttr"]) == (
            view["top_checks"],
            view["top_namespaces"],
            view["ttr"],
        )


def test_view_of_an_empty_store(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path}/h.db") as store:
        view = build_view(store, since=T0 - 30 * DAY, now=T0)
    assert set(view) == VIEW_KEYS
    assert view["scans"] == view["open_findings"] == view["top_checks"] == []
    assert all(m["available"] is False and m["reason"] for m in view["metrics"])
    assert len(view["ttr"]["open_per_day"]) == 31 and all(n == 0 for _, n in view["ttr"]["open_per_day"])
    assert all(f["controls"] == 0 and f["share_passing"] is None for f in view["frameworks"])


def _row(**kw: Any) -> FindingRow:
    base: dict[str, Any] = {
        "fingerprint": "f",
        "target": "t",
        "check_id": "KF-POD-001",
        "severity": "high",
        "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"},
        "container": None,
        "file": None,
        "line": None,
        "path": None,
        "message": "",
        "remediation": "",
        "state": "open",
        "first_seen_at": 0.0,
        "last_seen_at": 0.0,
        "fixed_at": None,
        "observed_at": None,
        "reopened": 0,
    }
    return FindingRow(**{**base, **kw})


def test_where() -> None:
    assert where(_row(file="k8s/web.yaml", line=12)) == "k8s/web.yaml:12"
    assert where(_row(file="chart/templates/web.yaml")) == "chart/templates/web.yaml"
    assert where(_row()) == "Deployment/shop/web"
    assert (
        where(_row(resource={"apiVersion": "v1", "kind": "Namespace", "namespace": None, "name": "shop"}))
        == "Namespace/shop"
    )


# ---------------------------------------------------------------------------------------------
# frameworks
# ---------------------------------------------------------------------------------------------
count_st = st.fixed_dictionaries(
    {s.value: st.integers(0, 3) for s in Status},
)
checks_st = st.dictionaries(st.sampled_from(["KF-POD-001", "KF-POD-005", "KF-NET-001"]), count_st, max_size=3)


@given(counts=checks_st, run_only=st.booleans())
def test_control_state(counts: dict[str, dict[str, int]], run_only: bool) -> None:
    mapped = ("KF-POD-001", "KF-POD-005", "KF-NET-001")
    state = control_state(mapped, counts)
    failed = sum(c["failed"] + c["suppressed"] for c in counts.values())
    ne = sum(c["not-evaluated"] for c in counts.values())
    passed = sum(c["passed"] for c in counts.values())
    if failed:
        assert state == "failing"
    elif ne:
        assert state == "not-evaluated"  # never passing while something could not be judged
    elif passed:
        assert state == "passing"
    else:
        assert state == "not-covered"


@given(counts=st.dictionaries(st.sampled_from([m.id for m in REG][:60]), count_st, max_size=20))
def test_framework_views_add_up(counts: dict[str, dict[str, int]]) -> None:
    for fw in framework_views(counts, REG):
        total = len(frameworks.controls(REG)[fw["framework"]])
        assert fw["passing"] + fw["failing"] + fw["not_evaluated"] + fw["not_covered"] == total
        assert fw["controls"] == fw["passing"] + fw["failing"] + fw["not_evaluated"]
        if fw["controls"]:
            assert fw["share_passing"] == round(fw["passing"] / fw["controls"], 6)
        else:
            assert fw["share_passing"] is None
        assert len(fw["detail"]) == total


def test_controls_come_from_the_mappings() -> None:
    cs = frameworks.controls(REG)
    assert "KF-POD-001" in cs["CIS"]["5.2.2"]
    assert "KF-POD-001" in cs["PSS"]["baseline/privileged"]
    assert list(cs["CIS"]).index("1.2.9") < list(cs["CIS"]).index("1.2.10")  # numeric order


def _scan(target: str, at: float, complete: bool, counts: dict[str, dict[str, int]]) -> ScanRow:
    return ScanRow("u", target, "manifests", at, at, complete, "0", {}, {}, {}, counts, [])


def test_history_frameworks_read_the_latest_complete_scan_of_each_target() -> None:
    fail = {"KF-POD-001": {"passed": 0, "failed": 1}}
    ok = {"KF-POD-001": {"passed": 2, "failed": 0}}
    ne = {"KF-POD-001": {"passed": 5, "not-evaluated": 1}}
    scans = [
        _scan("a", T0, True, fail),
        _scan("a", T0 + 1, True, ok),
        _scan("a", T0 + 2, False, fail),
        _scan("b", T0, True, ne),
    ]

    def state(scans: list[ScanRow]) -> str:
        cis = next(f for f in history_frameworks(scans, REG) if f["framework"] == "CIS")
        return next(d["state"] for d in cis["detail"] if d["control"] == "5.2.2")

    assert state(scans[:2]) == "passing"
    assert state(scans[:3]) == "passing"  # the incomplete scan is not read
    assert state(scans) == "not-evaluated"  # b could not judge one object: the fleet's control is not passing
    assert state(scans[:1]) == "failing"
    assert state([scans[2]]) == "not-covered"  # no complete scan


@pytest.mark.parametrize("n", [0, 1, 3])
def test_merge_counts(n: int) -> None:
    merged = frameworks.merge_counts([{"KF-X-001": {"passed": 1, "failed": 2}}] * n)
    assert merged == ({"KF-X-001": {"passed": n, "failed": 2 * n}} if n else {})
