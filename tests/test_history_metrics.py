"""The key security metrics: per scan (real scans of generated manifests, and audit/node results),
their statistics (time to remediate and detect), over the stored history (SQLite and a real
PostgreSQL), the Prometheus gauges and `kubefort metrics`."""

from __future__ import annotations

import json
import math
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from history_db import postgres, store_url  # noqa: F401 - fixtures
from kubefort.cli import cli
from kubefort.drivers.manifests import scan
from kubefort.engine import EngineSettings
from kubefort.engine.selection import select_checks
from kubefort.history import stats
from kubefort.history.aggregate import HistoryData, metrics, parse_since
from kubefort.history.metrics import METRICS, NO_IMAGE_DATA, scan_metrics
from kubefort.history.store import EpisodeRow, FindingRow, Store
from kubefort.history.target import TargetLabel
from kubefort.loaders.manifests import discover
from kubefort.model import Outcome, ResourceId, ScanResult, Severity, Source, Status
from kubefort.registry import load_builtin_checks
from kubefort.reporters import history_prometheus

REG = load_builtin_checks()
ALL = select_checks(REG)
DAY = 86_400.0
T0 = 1_750_000_000.0


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in entries}


def scan_dir(path: Path, check_ids: tuple[str, ...] = ALL) -> ScanResult:
    return scan(discover([str(path)]), EngineSettings(check_ids=check_ids, keep_passed=False), jobs=1)


# ---------------------------------------------------------------------------------------------
# generated manifests with known answers
# ---------------------------------------------------------------------------------------------
def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deny(ns: str, direction: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"deny-{direction.lower()}", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": [direction]},
    }


def role(i: int, wildcard: bool, cluster: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"role-{i}"}
    if not cluster:
        meta["namespace"] = "ns-0"
    verbs = ["*"] if wildcard else ["get", "list"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole" if cluster else "Role",
        "metadata": meta,
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": verbs}],
    }


def pod(i: int, containers: list[tuple[bool, bool]]) -> dict[str, Any]:
    """A Pod whose containers are (non_root, privileged)."""
    specs = []
    for j, (non_root, privileged) in enumerate(containers):
        sc: dict[str, Any] = {}
        if non_root:
            sc["runAsNonRoot"] = True
        if privileged:
            sc["privileged"] = True
        specs.append({"name": f"c{j}", "image": "registry.example.com/app:1.0", "securityContext": sc})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "namespace": "ns-0"},
        "spec": {"containers": specs},
    }


def write(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "all.yaml").write_text(yaml.safe_dump_all(docs))
    return path


namespaces_st = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=4)
roles_st = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=0, max_size=4)
pods_st = st.lists(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=3), min_size=0, max_size=3)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(namespaces=namespaces_st, roles=roles_st, pods=pods_st, secrets=st.integers(0, 2))
def test_scan_metrics_of_generated_manifests(tmp_path_factory, namespaces, roles, pods, secrets) -> None:
    docs: list[dict[str, Any]] = []
    for i, (ingress, egress) in enumerate(namespaces):
        docs.append(namespace(f"ns-{i}"))
        if ingress:
            docs.append(deny(f"ns-{i}", "Ingress"))
        if egress:
            docs.append(deny(f"ns-{i}", "Egress"))
    docs += [role(i, wildcard, cluster) for i, (wildcard, cluster) in enumerate(roles)]
    # a custom resource named like an RBAC role and a NetworkPolicy: neither is counted
    docs += [
        {"apiVersion": "example.com/v1", "kind": k, "metadata": {"name": "x", "namespace": "ns-0"}}
        for k in ("Role", "NetworkPolicy")
    ]
    docs += [pod(i, cs) for i, cs in enumerate(pods)]
    docs += [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"s{i}", "namespace": "ns-0"},
            "data": {"k": "dmFsdWU="},
        }
        for i in range(secrets)
    ]
    result = scan_dir(write(tmp_path_factory.mktemp("m"), docs))
    m = by_name(scan_metrics(result, REG, "manifests"))
    n_ns = len(namespaces)
    assert m["default_deny_ingress_namespaces"]["value"] == pytest.approx(sum(i for i, _ in namespaces) / n_ns)
    assert m["default_deny_ingress_namespaces"]["denominator"] == n_ns
    assert m["default_deny_egress_namespaces"]["value"] == pytest.approx(sum(e for _, e in namespaces) / n_ns)
    assert m["network_policies"]["value"] == sum(i + e for i, e in namespaces)
    assert m["rbac_roles"]["value"] == len(roles)
    if roles:
        assert m["least_privilege_roles"]["numerator"] == sum(not w for w, _ in roles)
        assert m["least_privilege_roles"]["denominator"] == len(roles)
    else:
        assert m["least_privilege_roles"] == {**m["least_privilege_roles"], "available": False, "value": None}
    containers = [c for cs in pods for c in cs]
    if containers:
        assert m["non_root_containers"]["numerator"] == sum(nr for nr, _ in containers)
        assert m["non_root_containers"]["denominator"] == len(containers)
    else:
        assert m["non_root_containers"]["available"] is False
        assert m["non_root_containers"]["reason"] == "no containers in scope"
    assert m["privileged_pods"]["value"] == sum(any(p for _, p in cs) for cs in pods)
    assert m["secret_leaks"]["value"] == secrets
    for e in m.values():
        assert e["partial"] is False, e  # nothing here is left unevaluated
        assert (e["value"] is None) is (not e["available"])
    json.dumps(scan_metrics(result, REG, "manifests"))  # JSON-able


def test_not_evaluated_objects_are_left_out_never_counted_as_passing(tmp_path: Path) -> None:
    good = pod(0, [(True, False)])
    broken = pod(1, [(True, False)])
    broken["spec"]["containers"][0]["securityContext"] = {"runAsNonRoot": "yes"}  # wrong type: not evaluated
    bad = pod(2, [(False, False)])
    m = by_name(scan_metrics(scan_dir(write(tmp_path, [good, broken, bad])), REG, "manifests"))
    nr = m["non_root_containers"]
    assert (nr["numerator"], nr["denominator"], nr["not_evaluated"], nr["partial"]) == (1, 2, 1, True)
    assert nr["value"] == 0.5
    assert "1 containers not evaluated" in nr["reason"]


def test_a_metric_whose_check_did_not_run_is_not_available(tmp_path: Path) -> None:
    path = write(tmp_path, [namespace("a"), pod(0, [(True, True)])])
    ids = tuple(c for c in ALL if c not in ("KF-NET-001", "KF-POD-001"))
    m = by_name(scan_metrics(scan_dir(path, ids), REG, "manifests"))
    assert m["default_deny_ingress_namespaces"] == {
        "name": "default_deny_ingress_namespaces",
        "unit": "ratio",
        "value": None,
        "available": False,
        "reason": "KF-NET-001 did not run in this manifests scan",
        "partial": False,
    }
    assert m["privileged_pods"]["value"] == 0  # KF-POD-021 ran: a lower bound, said so
    assert m["privileged_pods"]["partial"] is True
    assert m["privileged_pods"]["reason"] == "KF-POD-001 did not run"
    assert m["default_deny_egress_namespaces"]["available"] is True


@pytest.mark.parametrize("kind", ["manifests", "cluster", "snapshot", "node", "audit"])
def test_image_metrics_are_never_zero(kind: str) -> None:
    result = ScanResult("0", [], [], [], [])
    m = by_name(scan_metrics(result, REG, kind))
    for name in ("images_scanned", "vulnerabilities_per_image"):
        assert m[name]["available"] is False
        assert m[name]["value"] is None
        if kind in ("node", "audit"):
            assert (
                m[name]["reason"]
                == f"a {kind} scan reads no Kubernetes objects (scan manifests, a cluster or a snapshot)"
            )
        else:
            assert m[name]["reason"] == NO_IMAGE_DATA


def test_image_metrics_from_the_scans_image_summary() -> None:
    result = ScanResult("0", [], [], [], [])
    result.extras["images"] = {"images": 5, "scanned": 4, "vulnerabilities": 10, "scan_data_errors": 0}
    m = by_name(scan_metrics(result, REG, "manifests"))
    assert (m["images_scanned"]["value"], m["images_scanned"]["images"], m["images_scanned"]["partial"]) == (
        4,
        5,
        False,
    )
    v = m["vulnerabilities_per_image"]
    assert (v["value"], v["numerator"], v["denominator"]) == (2.5, 10, 4)
    result.extras["images"] = {"images": 3, "scanned": 0, "vulnerabilities": 0, "scan_data_errors": 1}
    m = by_name(scan_metrics(result, REG, "cluster"))
    assert (m["images_scanned"]["value"], m["images_scanned"]["partial"]) == (0, True)
    assert m["images_scanned"]["reason"] == "1 scan data inputs could not be read: their images count as not scanned"
    assert m["vulnerabilities_per_image"]["available"] is False
    assert m["vulnerabilities_per_image"]["reason"] == "none of the 3 images has a scan result"


def test_object_counts_need_an_object_scan() -> None:
    m = by_name(scan_metrics(ScanResult("0", [], [], [], []), REG, "node"))
    assert m["rbac_roles"]["available"] is False
    assert m["rbac_roles"]["reason"].startswith("a node scan reads no Kubernetes objects")


def test_catalogue_is_documented_and_unique() -> None:
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    for m in METRICS:
        assert m.unit in ("count", "ratio", "seconds", "requests/hour")
        assert m.definition.endswith(".") and m.title
        assert (m.compute is None) is (m.source == "history")
        for cid in m.checks:
            if not cid.endswith("*"):
                REG.get(cid)  # every feeding check exists
    docs = (Path(__file__).resolve().parent.parent / "docs" / "history.md").read_text()
    for m in METRICS:
        assert f"`{m.name}`" in docs, f"docs/history.md does not explain {m.name}"


# ---------------------------------------------------------------------------------------------
# node and audit results
# ---------------------------------------------------------------------------------------------
def outcome(check_id: str, status: Status, name: str = "x", event: dict[str, Any] | None = None) -> Outcome:
    rid = ResourceId("v1", "Node", None, name)
    return Outcome(
        check_id, status, rid, Source("f"), severity=Severity.HIGH, fingerprint=f"{check_id}-{name}", event=event
    )


@pytest.mark.parametrize(
    ("flag", "config", "expected"),
    [
        (Status.PASSED, Status.PASSED, 1.0),
        (Status.PASSED, Status.FAILED, 0.0),
        (Status.PASSED, Status.SUPPRESSED, 0.0),
        (Status.FAILED, None, 0.0),
        (Status.PASSED, None, None),  # the configuration was not judged: unknown, not encrypted
        (Status.PASSED, Status.NOT_EVALUATED, None),
        (Status.NOT_EVALUATED, None, None),
        (None, None, None),  # no API server on this node
    ],
)
def test_secrets_encrypted_at_rest(flag: Status | None, config: Status | None, expected: float | None) -> None:
    outs = [outcome("KF-CP-043", s) for s in (flag,) if s is not None]
    outs += [outcome("KF-CP-044", s) for s in (config,) if s is not None]
    result = ScanResult("0", outs, [], [], ["KF-CP-043", "KF-CP-044"])
    m = by_name(scan_metrics(result, REG, "node"))["secrets_encrypted_at_rest"]
    assert m["value"] == expected
    assert m["available"] is (expected is not None)
    if expected is None:
        assert m["reason"]


def audit_result(coverage: dict[str, Any] | None, total: int, first: str, last: str, found: int) -> ScanResult:
    audit: dict[str, Any] = {
        "events": {"total": 10, "first": first, "last": last},
        "secrets": {"total": total},
    }
    if coverage is not None:
        audit["coverage"] = coverage
    outs = [outcome("KF-AUDIT-001", Status.FAILED, f"e{i}") for i in range(found)]
    outs.append(outcome("KF-AUDIT-020", Status.SUPPRESSED, "s"))
    return ScanResult("0", outs, [], [], ["KF-AUDIT-001", "KF-AUDIT-020"], extras={"audit": audit})


@given(levels=st.lists(st.sampled_from(["None", "Metadata", "Request", "RequestResponse"]), min_size=1, max_size=30))
def test_audit_coverage_is_the_share_of_recorded_request_classes(levels: list[str]) -> None:
    rows = [{"kind": "Secrets", "level": lv} for lv in levels]
    r = audit_result({"version": 1, "error": None, "rows": rows}, 0, "2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", 0)
    m = by_name(scan_metrics(r, REG, "audit"))["audit_coverage"]
    recorded = sum(lv != "None" for lv in levels)
    assert (m["numerator"], m["denominator"]) == (recorded, len(levels))
    assert m["value"] == recorded / len(levels)


def test_audit_metrics() -> None:
    r = audit_result(None, 30, "2025-01-01T00:00:00Z", "2025-01-01T02:00:00Z", 4)
    m = by_name(scan_metrics(r, REG, "audit"))
    assert m["secret_access_rate"]["value"] == 15.0  # 30 requests in 2 hours
    assert m["suspicious_events"]["value"] == 5  # 4 failed + 1 suppressed
    assert m["audit_coverage"]["reason"] == "no audit Policy was given (kubefort audit --policy FILE)"
    r = audit_result({"version": 1, "error": "policy.yaml holds 2 Policies"}, 0, "", "", 0)
    m = by_name(scan_metrics(r, REG, "audit"))
    assert m["audit_coverage"]["reason"] == "the audit Policy could not be evaluated: policy.yaml holds 2 Policies"
    assert m["secret_access_rate"]["available"] is False
    manifest = by_name(scan_metrics(ScanResult("0", [], [], [], ["KF-AUDIT-001"]), REG, "manifests"))
    assert manifest["suspicious_events"]["available"] is False


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------
durations = st.lists(st.floats(0, 1e8, allow_nan=False), min_size=1, max_size=60)


@given(values=durations, q=st.sampled_from([0.5, 0.9, 0.99, 1.0]))
def test_nearest_rank(values: list[float], q: float) -> None:
    ordered = sorted(values)
    v = stats.nearest_rank(ordered, q)
    assert v in ordered
    assert sum(x <= v for x in ordered) >= q * len(ordered)  # at least q at or below it
    assert sum(x < v for x in ordered) < q * len(ordered)  # the smallest such value


@given(values=durations)
def test_summary(values: list[float]) -> None:
    s = stats.summary(values)
    assert s == {
        "median_s": statistics.median(values),
        "p90_s": sorted(values)[math.ceil(0.9 * len(values)) - 1],
        "count": len(values),
    }


def _ep(opened: float, fixed: float | None, sev: str = "high", target: str = "t") -> EpisodeRow:
    return EpisodeRow("fp", target, "KF-POD-001", sev, opened, fixed)


episodes_st = st.lists(
    st.tuples(st.floats(0, 20 * DAY), st.one_of(st.none(), st.floats(0, 20 * DAY))).map(
        lambda p: (p[0], None if p[1] is None else p[0] + p[1])
    ),
    max_size=40,
)


@given(eps=episodes_st, start=st.floats(0, 10 * DAY), length=st.integers(0, 25))
def test_open_and_fixed_per_day_match_a_direct_count(
    eps: list[tuple[float, float | None]], start: float, length: int
) -> None:
    rows = [_ep(T0 + o, None if f is None else T0 + f) for o, f in eps]
    days = stats.day_range(T0 + start, T0 + start + length * DAY)
    opened = stats.open_per_day(rows, days)
    fixed = stats.fixed_per_day(rows, days)
    for (d, n), (d2, k) in zip(opened, fixed, strict=True):
        end = d + DAY
        assert d == d2
        assert n == sum(1 for e in rows if e.opened_at < end and (e.fixed_at is None or e.fixed_at >= end))
        assert k == sum(1 for e in rows if e.fixed_at is not None and d <= e.fixed_at < end)


def test_day_range_is_utc_days() -> None:
    days = stats.day_range(T0, T0 + 2 * DAY)
    assert len(days) == 3 and all(d % DAY == 0 for d in days) and days[0] <= T0 < days[0] + DAY


# ---------------------------------------------------------------------------------------------
# over the history: pure (rows made by hand), then through real stores
# ---------------------------------------------------------------------------------------------
def _finding(target: str, sev: str, first: float, observed: float | None, state: str = "open") -> FindingRow:
    return FindingRow(
        "fp",
        target,
        "KF-AUDIT-001",
        sev,
        {"kind": "Pod", "namespace": "a", "name": "p"},
        None,
        None,
        None,
        None,
        "m",
        "r",
        state,
        first,
        first,
        None,
        observed,
        0,
    )


@given(
    eps=st.lists(
        st.tuples(st.sampled_from(["critical", "high", "low"]), st.floats(0, 30 * DAY), st.floats(0, 30 * DAY)),
        max_size=30,
    ),
    since=st.one_of(st.none(), st.floats(0, 40 * DAY)),
)
def test_time_to_remediate_per_severity(eps: list[tuple[str, float, float]], since: float | None) -> None:
    rows = [_ep(T0 + o, T0 + o + d, sev) for sev, o, d in eps]
    data = HistoryData(None, None if since is None else T0 + since, [], rows)
    m = by_name(metrics(data, now=T0 + 80 * DAY))
    kept = [(e.severity, e.fixed_at - e.opened_at) for e in rows if since is None or e.fixed_at >= T0 + since]
    med, p90 = m["time_to_remediate_median"], m["time_to_remediate_p90"]
    if not kept:
        assert med["available"] is p90["available"] is False
        assert med["value"] is None
        return
    ds = [d for _, d in kept]
    assert med["value"] == pytest.approx(statistics.median(ds))
    assert p90["value"] == pytest.approx(sorted(ds)[math.ceil(0.9 * len(ds)) - 1])
    for sev in ("critical", "high", "low"):
        of = [d for s, d in kept if s == sev]
        assert med["by_severity"][sev]["count"] == len(of)
        assert med["by_severity"][sev]["median_s"] == (pytest.approx(statistics.median(of)) if of else None)
    assert set(med["by_severity"]) == {"critical", "high", "medium", "low", "info"}


def test_time_to_detect_from_event_times() -> None:
    findings = [
        _finding("audit:a", "high", T0 + 100, T0 + 40),
        _finding("audit:a", "high", T0 + 200, T0 + 180),
        _finding("audit:b", "medium", T0 + 300, T0 + 310),  # clock skew: never below 0
        _finding("cluster:c", "high", T0 + 300, None),  # no event: not a detection
    ]
    m = by_name(metrics(HistoryData(None, None, [], [], findings), now=T0 + DAY))
    assert m["time_to_detect_median"]["value"] == 20
    assert m["time_to_detect_p90"]["value"] == 60
    assert {p["target"]: p["value"] for p in m["time_to_detect_median"]["per_target"]} == {"audit:a": 40, "audit:b": 0}
    assert m["time_to_detect_median"]["by_severity"]["high"]["count"] == 2


def test_time_to_detect_from_stored_audit_analyses(store_url: str) -> None:  # noqa: F811
    """Two analyses of one log source: findings detected 10 min and 1 h after their events; a
    manifest scan's findings have no event time and never count."""
    label = TargetLabel("audit:/var/log/kube-audit.log", "audit")

    def analysis(finished: float, events: dict[str, float]) -> ScanResult:
        outs = [
            outcome("KF-AUDIT-001", Status.FAILED, name, {"stageTimestamp": datetime.fromtimestamp(t, UTC).isoformat()})
            for name, t in events.items()
        ]
        extras = {"audit": {"events": {"first": None, "last": None}, "secrets": {"total": 0}}}
        return ScanResult("0", outs, [], [], ["KF-AUDIT-001"], finished_at=finished, extras=extras)

    with Store.open(store_url) as store:
        store.record(analysis(T0 + 600, {"a": T0}), REG, kind="audit", target=label)
        store.record(analysis(T0 + DAY, {"a": T0, "b": T0 + DAY - 3600}), REG, kind="audit", target=label)
        r = ScanResult("0", [outcome("KF-POD-001", Status.FAILED)], [], [], ["KF-POD-001"], finished_at=T0 + DAY)
        store.record(r, REG, kind="manifests", target=TargetLabel("repo:r", "repo"))
        from kubefort.history.metrics import history_metrics

        m = by_name(history_metrics(store, now=T0 + 2 * DAY))
        later = by_name(history_metrics(store, since=T0 + 3600, now=T0 + 2 * DAY))
    assert m["time_to_detect_median"]["value"] == (600 + 3600) / 2
    assert m["time_to_detect_p90"]["value"] == 3600
    assert m["time_to_detect_median"]["by_severity"]["high"]["count"] == 2
    assert m["suspicious_events"]["value"] == 2  # the latest analysis of the source
    assert later["time_to_detect_median"]["value"] == 3600  # only b was first seen in the window


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", T0 - 30 * DAY),
        ("12h", T0 - 12 * 3600),
        ("2w", T0 - 14 * DAY),
        ("90m", T0 - 5400),
        ("1.5d", T0 - 1.5 * DAY),
        ("2025-06-01", 1_748_736_000.0),
        ("2025-06-01T02:00:00+02:00", 1_748_736_000.0),
        ("2025-06-01T00:00:00Z", 1_748_736_000.0),
    ],
)
def test_parse_since(text: str, expected: float) -> None:
    assert parse_since(text, T0) == expected


@pytest.mark.parametrize("text", ["", "30", "d30", "yesterday", "30 days", "-3d"])
def test_parse_since_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since(text, T0)


def manifests_result(tmp_path: Path, name: str, namespaces: list[tuple[bool, bool]], finished: float) -> ScanResult:
    docs: list[dict[str, Any]] = []
    for i, (ingress, _egress) in enumerate(namespaces):
        docs.append(namespace(f"ns-{i}"))
        if ingress:
            docs.append(deny(f"ns-{i}", "Ingress"))
    docs.append(pod(0, [(False, True)]))
    result = scan_dir(write(tmp_path / name, docs))
    result.finished_at = finished
    return result


def test_history_metrics_per_target_fleet_and_trend(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    a, b = TargetLabel("repo:a", "repo"), TargetLabel("repo:b", "repo")
    with Store.open(store_url) as store:
        # target a: 1 of 4 namespaces, then 3 of 4; target b: 1 of 2
        store.record(
            manifests_result(tmp_path, "a1", [(True, 0), (0, 0), (0, 0), (0, 0)], T0), REG, kind="manifests", target=a
        )
        store.record(manifests_result(tmp_path, "b1", [(True, 0), (0, 0)], T0 + DAY), REG, kind="manifests", target=b)
        store.record(
            manifests_result(tmp_path, "a2", [(1, 0), (1, 0), (1, 0), (0, 0)], T0 + 2 * DAY),
            REG,
            kind="manifests",
            target=a,
        )
        from kubefort.history.metrics import history_metrics

        fleet = by_name(history_metrics(store, now=T0 + 3 * DAY))
        only_a = by_name(history_metrics(store, target="repo:a", now=T0 + 3 * DAY))
        recent = by_name(history_metrics(store, since=T0 + 1.5 * DAY, now=T0 + 3 * DAY))
    ing = fleet["default_deny_ingress_namespaces"]
    assert ing["value"] == pytest.approx(4 / 6)  # (3 + 1) namespaces of (4 + 2): not the mean of 0.75 and 0.5
    assert (ing["numerator"], ing["denominator"]) == (4, 6)
    assert ing["trend"] == [
        [T0, 0.25],
        [T0 + DAY, pytest.approx(round(2 / 6, 6))],
        [T0 + 2 * DAY, pytest.approx(round(4 / 6, 6))],
    ]
    assert {p["target"]: p["value"] for p in ing["per_target"]} == {"repo:a": 0.75, "repo:b": 0.5}
    assert only_a["default_deny_ingress_namespaces"]["trend"] == [[T0, 0.25], [T0 + 2 * DAY, 0.75]]
    assert fleet["privileged_pods"]["value"] == 2  # one per target: counts add up
    assert only_a["privileged_pods"]["value"] == 1
    assert recent["default_deny_ingress_namespaces"]["value"] == 0.75  # only a's second scan is in the window
    assert fleet["images_scanned"]["available"] is False
    assert fleet["images_scanned"]["reason"] == NO_IMAGE_DATA
    assert (
        fleet["open_findings"]["value"]
        == only_a["open_findings"]["value"] + fleet["open_findings"]["per_target"][1]["value"]
    )


def test_time_to_remediate_from_a_stored_history(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    """A privileged container fixed after two days, another after five: median 3.5 days."""
    t = TargetLabel("repo:x", "repo")
    insecure = [pod(0, [(True, True)]), pod(1, [(True, True)])]
    one_fixed = [pod(0, [(True, False)]), pod(1, [(True, True)])]
    both_fixed = [pod(0, [(True, False)]), pod(1, [(True, False)])]
    with Store.open(store_url) as store:
        for docs, at in ((insecure, T0), (one_fixed, T0 + 2 * DAY), (both_fixed, T0 + 5 * DAY)):
            r = scan_dir(write(tmp_path, docs), ("KF-POD-001",))  # the same file, edited: the same fingerprints
            r.finished_at = at
            store.record(r, REG, kind="manifests", target=t)
        from kubefort.history.metrics import history_metrics

        m = by_name(history_metrics(store, now=T0 + 6 * DAY))
    assert m["time_to_remediate_median"]["value"] == 3.5 * DAY
    assert m["time_to_remediate_p90"]["value"] == 5 * DAY
    assert m["time_to_remediate_median"]["by_severity"]["critical"] == {
        "median_s": 3.5 * DAY,
        "p90_s": 5 * DAY,
        "count": 2,
    }
    assert m["open_findings"]["value"] == 0
    assert m["privileged_pods"]["trend"] == [[T0, 2], [T0 + 2 * DAY, 1], [T0 + 5 * DAY, 0]]
    assert m["privileged_pods"]["partial"] is True  # KF-POD-021 did not run: a lower bound
    assert m["privileged_pods"]["reason"] == "KF-POD-021 did not run"


# ---------------------------------------------------------------------------------------------
# Prometheus and the command
# ---------------------------------------------------------------------------------------------
def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_prometheus_gauges(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        store.record(
            manifests_result(tmp_path, "a", [(True, 0), (0, 0)], T0),
            REG,
            kind="manifests",
            target=TargetLabel("repo:a", "repo"),
        )
        store.close()
    out = tmp_path / "posture.prom"
    res = CliRunner().invoke(cli, ["metrics", "--store", store_url, "-o", f"prometheus={out}"])
    assert res.exit_code == 0, res.output
    s = samples(out.read_text())
    assert s[("kubefort_posture_default_deny_ingress_namespaces_ratio", (("target", "repo:a"),))] == 0.5
    assert s[("kubefort_posture_default_deny_ingress_namespaces_ratio", (("target", "(fleet)"),))] == 0.5
    assert s[("kubefort_posture_privileged_pods", (("target", "repo:a"),))] == 1
    assert s[("kubefort_posture_metric_available", (("metric", "images_scanned"), ("target", "(fleet)")))] == 0
    assert not any(name.startswith("kubefort_posture_images_scanned") for name, _ in s)  # never 0: absent
    assert s[("kubefort_posture_open_findings", (("severity", "critical"), ("target", "repo:a")))] >= 1
    assert (
        "kubefort_posture_framework_controls",
        (("framework", "CIS"), ("state", "failing"), ("target", "repo:a")),
    ) in s
    assert not any(name.startswith("kubefort_posture_time_to_remediate") for name, _ in s)  # nothing fixed yet


def test_prometheus_time_to_remediate() -> None:
    eps = [
        _ep(T0, T0 + 100, "high", "a"),
        _ep(T0, T0 + 300, "high", "b"),
        _ep(T0, T0 + 1000, "low", "b"),
        _ep(T0, None),
    ]
    ms = metrics(HistoryData(None, None, [], eps), now=T0 + DAY)
    s = samples(history_prometheus.render(ms, {}, target=None, timestamp=T0 + DAY))
    ttr = "kubefort_posture_time_to_remediate_seconds"
    assert s[(ttr, (("quantile", "0.5"), ("severity", "all"), ("target", "(fleet)")))] == 300
    assert s[(ttr, (("quantile", "0.9"), ("severity", "all"), ("target", "(fleet)")))] == 1000
    assert s[(ttr, (("quantile", "0.5"), ("severity", "high"), ("target", "(fleet)")))] == 200
    assert s[(ttr, (("quantile", "0.5"), ("severity", "high"), ("target", "a")))] == 100
    assert (ttr, (("quantile", "0.5"), ("severity", "critical"), ("target", "a"))) not in s  # none measured
    n = "kubefort_posture_remediated_findings"
    assert s[(n, (("severity", "high"), ("target", "b")))] == 1
    assert s[(n, (("severity", "critical"), ("target", "b")))] == 0
    assert s[("kubefort_posture_open_findings", (("severity", "high"), ("target", "(fleet)")))] == 1
    only_b = samples(history_prometheus.render(ms, {}, target="b", timestamp=T0))
    assert not any(dict(labels).get("target") == "(fleet)" for _, labels in only_b)


def test_prometheus_names_follow_the_catalogue() -> None:
    for m in METRICS:
        name = history_prometheus.gauge_name({"name": m.name, "unit": m.unit})
        assert name.startswith("kubefort_posture_") and name.replace("_", "").isalnum()


def test_metrics_command_json(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        store.record(
            manifests_result(tmp_path, "a", [(True, 0)], T0),
            REG,
            kind="manifests",
            target=TargetLabel("repo:a", "repo"),
        )
    res = CliRunner().invoke(cli, ["metrics", "--store", store_url, "--since", "3650d", "-o", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [m["name"] for m in doc["metrics"]] == [m.name for m in METRICS]
    for m in doc["metrics"]:
        assert {"name", "value", "unit", "available", "definition", "title", "reason", "checks", "trend"} <= set(m)
        assert (m["value"] is None) is (not m["available"])
    assert doc["target"] is None and doc["scans"] == 1
    assert {f["framework"] for f in doc["frameworks"]} == {"CIS", "NSA-CISA", "PSS", "MITRE ATT&CK", "OWASP K8s Top 10"}
    table = CliRunner().invoke(cli, ["metrics", "--store", store_url, "--target", "repo:a"])
    assert table.exit_code == 0, table.output
    assert re.search(r"^Namespaces denying ingress by default +100\.0 % \(1 of 1\)$", table.output, re.MULTILINE)
    images = re.search(r"^Images scanned +not available \[(\d+)\]$", table.output, re.MULTILINE)
    vulns = re.search(r"^Vulnerabilities per image +not available \[(\d+)\]$", table.output, re.MULTILINE)
    assert images and vulns and images.group(1) == vulns.group(1)  # one note for both
    assert f"[{images.group(1)}] {NO_IMAGE_DATA}" in table.output.splitlines()


def test_metrics_command_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    res = CliRunner().invoke(cli, ["metrics", "--store", url, "--target", "repo:nope"])
    assert res.exit_code == 2
    assert "no target 'repo:nope'" in res.output
    res = CliRunner().invoke(cli, ["metrics", "--store", "mysql://x/y"])
    assert res.exit_code == 2
    assert "unsupported store URL scheme 'mysql'" in res.output
    res = CliRunner().invoke(cli, ["metrics", "--store", url, "--since", "yesterday"])
    assert res.exit_code == 2
    assert "neither a duration" in res.output
    res = CliRunner().invoke(cli, ["metrics", "--store", url, "-o", "sarif"])
    assert res.exit_code == 2
    assert "unknown format 'sarif'" in res.output


def test_time_to_remediate_vulnerabilities_reads_only_the_fixable_vulnerability_findings() -> None:
    rows = [
        EpisodeRow("a", "repo:x", "KF-IMG-007", "high", T0, T0 + 2 * DAY),
        EpisodeRow("b", "repo:x", "KF-IMG-007", "high", T0, T0 + 6 * DAY),
        EpisodeRow("c", "repo:x", "KF-POD-001", "critical", T0, T0 + 30 * DAY),  # not a vulnerability
        EpisodeRow("d", "repo:x", "KF-IMG-007", "critical", T0, None),  # still open
    ]
    m = by_name(metrics(HistoryData(None, None, [], rows), now=T0 + 40 * DAY))
    vm, vp = m["time_to_remediate_vulnerabilities_median"], m["time_to_remediate_vulnerabilities_p90"]
    assert (vm["value"], vp["value"]) == (4 * DAY, 6 * DAY)
    assert vm["by_severity"]["high"]["count"] == 2
    assert m["time_to_remediate_median"]["value"] == 6 * DAY  # all findings: 2, 6 and 30 days
    none = by_name(metrics(HistoryData(None, None, [], rows[2:]), now=T0 + 40 * DAY))
    assert none["time_to_remediate_vulnerabilities_median"]["available"] is False
    assert none["time_to_remediate_vulnerabilities_median"]["reason"].startswith("no KF-IMG-007 finding")
