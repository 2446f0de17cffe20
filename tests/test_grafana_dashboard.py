"""deploy/grafana/kubefort-posture.json: valid dashboard JSON whose every query reads a metric
kubefort emits (`kubefort metrics -o prometheus` and `kubefort scan -o prometheus`), with a panel
for every key metric."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubefort.history.aggregate import HistoryData, metrics
from kubefort.history.frameworks import framework_views
from kubefort.history.metrics import METRICS
from kubefort.history.store import EpisodeRow, FindingRow, ScanRow
from kubefort.model import Outcome, ResourceId, ScanResult, Severity, Source, Status
from kubefort.registry import load_builtin_checks
from kubefort.reporters import history_prometheus, prometheus

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "kubefort-posture.json"
NAME = re.compile(r"\bkubefort_[a-z0-9_]+\b")
PROMQL_WORDS = {"sum", "by", "topk", "max", "time"}
T0 = 1_750_000_000.0


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    out = [t["expr"] for p in panels() for t in p["targets"]]
    for var in dashboard()["templating"]["list"]:
        if var["type"] == "query":
            out.append(var["query"]["query"])
    return out


def emitted() -> set[str]:
    """Every metric family name kubefort's two Prometheus reports can write, from real renders
    with every metric available (so that no family is missing because its data was)."""
    reg = load_builtin_checks()
    scan_metrics = [
        {"name": m.name, "unit": m.unit, "value": 1, "available": True, "numerator": 1, "denominator": 1}
        for m in METRICS
        if m.source == "scan"
    ]
    scans = [ScanRow("u", "t", "manifests", T0, T0, True, "0", {}, {}, {}, {"KF-POD-001": {"passed": 1}}, scan_metrics)]
    finding = FindingRow(
        "f", "t", "KF-AUDIT-001", "high", {}, None, None, None, None, "", "", "open", T0, T0, None, T0 - 5, 0
    )
    episodes = [EpisodeRow("f", "t", "KF-POD-001", "high", T0 - 100, T0)]
    ms = metrics(HistoryData(None, None, scans, episodes, [finding]), now=T0)
    fws = {"t": framework_views({"KF-POD-001": {"passed": 1}}, reg)}
    text = history_prometheus.render(ms, fws, target=None, timestamp=T0)
    audit = {
        "events": {
            "total": 1,
            "by_stage": {"ResponseComplete": 1},
            "first": "2025-01-01T00:00:00Z",
            "last": "2025-01-01T00:00:00Z",
        },
        "requests": 1,
        "access_violations": {
            "total": 1,
            "by_code": {"403": 1},
            "by_principal": {"counts": {"a": 1}},
            "by_resource": {"counts": {"r": 1}},
        },
        "secrets": {
            "total": 1,
            "by_principal": {"counts": {"a": 1}},
            "by_namespace": {"counts": {"n": 1}},
            "by_verb": {"counts": {"get": 1}},
        },
        "checks": {"KF-AUDIT-001": {"evaluated": 1, "findings": 1}},
        "time_to_detect": {"count": 1, "p50": 1.0, "p99": 1.0, "max": 1.0},
    }
    o = Outcome("KF-POD-001", Status.FAILED, ResourceId("v1", "Pod", "a", "p"), Source("f"), severity=Severity.HIGH)
    text += prometheus.render(
        ScanResult("0", [o], [], [], ["KF-POD-001"], finished_at=T0, extras={"audit": audit}), reg
    )
    names = set()
    for fam in text_string_to_metric_families(text):
        names.add(fam.name)
        names.update(s.name for s in fam.samples)
    return names


def test_dashboard_is_valid_json_with_unique_ids_and_layout() -> None:
    d = dashboard()
    assert d["uid"] == "kubefort-posture" and d["title"] and isinstance(d["schemaVersion"], int)
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0
    for p in panels():
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"
    names = [v["name"] for v in d["templating"]["list"]]
    assert names == ["datasource", "target"]


def test_every_queried_metric_is_one_kubefort_emits() -> None:
    known = emitted()
    used = {n for e in exprs() for n in NAME.findall(e)}
    assert used, "the dashboard queries nothing"
    assert used <= known, f"queried but never emitted: {sorted(used - known)}"


@pytest.mark.parametrize("metric", [m.name for m in METRICS])
def test_every_key_metric_has_a_panel(metric: str) -> None:
    m = next(x for x in METRICS if x.name == metric)
    if m.source == "history":
        base = metric.rsplit("_", 1)[0] if metric.startswith("time_to_") else metric
        pattern = f"kubefort_posture_{base}"
    else:
        pattern = history_prometheus.gauge_name({"name": m.name, "unit": m.unit})
    assert any(pattern in e for e in exprs()), f"no panel reads {metric}"


def test_queries_select_the_target_variable() -> None:
    for e in exprs():
        if "kubefort_posture_" in e and "timestamp" not in e and "label_values" not in e:
            assert 'target="$target"' in e, e


def test_promql_uses_only_known_words() -> None:
    for e in exprs():
        if "label_values" in e:
            continue
        words = set(re.findall(r"\b([a-z_]+)\s*\(", e))
        assert words <= PROMQL_WORDS, e
