"""Prometheus report of the key security metrics (`kubefort metrics -o prometheus`): gauges in the
text exposition format, for the node-exporter textfile collector or any scraper that reads a file.

Rendered with prometheus_client into a fresh CollectorRegistry per call, as the scan's report
(kubefort/reporters/prometheus.py) is. Every family is `kubefort_posture_*`, so this text can share
one file with a scan's gauges (the in-cluster CronJob writes both into `kubefort.prom`).

Gauges (labels: `target` is a store target key, or `(fleet)` for the fleet aggregate that
`kubefort metrics` computes when no --target is given; never sum over `target` including it):

* `kubefort_posture_<metric>{target}` for every scan metric of the catalogue, with the unit as
  suffix: `_ratio` (0..1), `_per_hour`, none for counts (`kubefort_posture_privileged_pods`);
  `kubefort_posture_open_findings{target,severity}` (every severity, 0 included). A metric that is
  not available has no series (never 0): `kubefort_posture_metric_available{metric,target}` says
  1 or 0, `kubefort_posture_metric_partial{metric,target}` 1 when some objects in scope were not
  evaluated;
* `kubefort_posture_time_to_remediate_seconds{target,severity,quantile}` (quantile 0.5 and 0.9;
  severity `all` too) and `kubefort_posture_remediated_findings{target,severity}` (episodes
  measured); the same for detection: `kubefort_posture_time_to_detect_seconds`,
  `kubefort_posture_detected_findings`, and for vulnerabilities (KF-IMG-007 findings):
  `kubefort_posture_time_to_remediate_vulnerabilities_seconds`,
  `kubefort_posture_remediated_vulnerabilities`;
* `kubefort_posture_framework_controls{target,framework,state}` (state passing, failing,
  not-evaluated, not-covered) and `kubefort_posture_framework_passing_ratio{target,framework}`
  (passing over the controls covered; absent when none is);
* `kubefort_posture_timestamp_seconds`: when the metrics were computed (Unix time).

Cardinality: targets (the store's scan targets), severities (5), frameworks (5), states (4) and
the metric catalogue: small, slowly changing sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from kubefort.history.stats import SEVERITIES

PREFIX = "kubefort_posture"
FLEET = "(fleet)"
SUFFIX = {"count": "", "ratio": "_ratio", "seconds": "_seconds", "requests/hour": "_per_hour"}
DURATIONS = (
    ("time_to_remediate", "remediated_findings", "Time to remediate: fixed - opened of the remediated episodes"),
    ("time_to_detect", "detected_findings", "Time to detect: detection - event time of the audit findings"),
    (
        "time_to_remediate_vulnerabilities",
        "remediated_vulnerabilities",
        "Time to remediate vulnerabilities: fixed - opened of the remediated KF-IMG-007 episodes",
    ),
)
STATES = ("passing", "failing", "not_evaluated", "not_covered")


def gauge_name(metric: Mapping[str, Any]) -> str:
    """The gauge of a scan metric: `kubefort_posture_<name>` with its unit's suffix."""
    return f"{PREFIX}_{metric['name']}{SUFFIX.get(str(metric['unit']), '')}"


def _series(metric: Mapping[str, Any], target: str | None) -> list[tuple[str, Mapping[str, Any]]]:
    """(target label, entry) of a metric: each target's entry, and the fleet's without --target."""
    rows: list[tuple[str, Mapping[str, Any]]] = [(str(p["target"]), p) for p in metric.get("per_target") or ()]
    if target is None:
        rows.append((FLEET, metric))
    return rows


def render(
    metrics: Sequence[Mapping[str, Any]],
    frameworks: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    target: str | None,
    timestamp: float,
) -> str:
    """The text exposition of `kubefort metrics` (`history_metrics` output, and the framework
    views per target key, `FLEET` for the fleet's): one string ending in one newline."""
    reg = CollectorRegistry(auto_describe=False)

    def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
        return Gauge(name, doc, labelnames=labels, registry=reg)

    available = gauge(
        f"{PREFIX}_metric_available", "1 when the metric has a value for the target, else 0.", ("metric", "target")
    )
    partial = gauge(
        f"{PREFIX}_metric_partial",
        "1 when the value leaves out objects in scope that were not evaluated (a count is then a lower bound).",
        ("metric", "target"),
    )
    by_name = {str(m["name"]): m for m in metrics}
    for m in metrics:
        name = str(m["name"])
        rows = _series(m, target)
        for t, entry in rows:
            available.labels(name, t).set(1 if entry.get("available") else 0)
            partial.labels(name, t).set(1 if entry.get("partial") else 0)
        if name == "open_findings":
            _open_findings(gauge, rows, m)
        elif m["unit"] != "seconds":
            g = gauge(gauge_name(m), f"{m['title']}: {m['definition']}", ("target",))
            for t, entry in rows:
                if entry.get("available") and entry.get("value") is not None:
                    g.labels(t).set(entry["value"])
    for base, count_name, doc in DURATIONS:
        _durations(gauge, base, count_name, doc, by_name, target)
    _frameworks(gauge, frameworks)
    gauge(f"{PREFIX}_timestamp_seconds", "Unix time the metrics were computed.", ()).set(timestamp)
    text = generate_latest(reg).decode("utf-8")
    return text if text.endswith("\n") else text + "\n"


def _open_findings(gauge: Any, rows: Iterable[tuple[str, Mapping[str, Any]]], m: Mapping[str, Any]) -> None:
    g = gauge(f"{PREFIX}_open_findings", f"{m['title']} per severity: {m['definition']}", ("target", "severity"))
    for t, entry in rows:
        if not entry.get("available"):
            continue
        counts = entry.get("by_severity") or {}
        for sev in SEVERITIES:
            g.labels(t, sev).set(counts.get(sev, 0))


def _durations(
    gauge: Any, base: str, count_name: str, doc: str, by_name: Mapping[str, Mapping[str, Any]], target: str | None
) -> None:
    median, p90 = by_name.get(f"{base}_median"), by_name.get(f"{base}_p90")
    if median is None or p90 is None:
        return
    g = gauge(
        f"{PREFIX}_{base}_seconds",
        f"{doc} (nearest-rank quantiles), per severity and over all (severity=all).",
        ("target", "severity", "quantile"),
    )
    n = gauge(
        f"{PREFIX}_{count_name}", f"Findings measured by {PREFIX}_{base}_seconds, per severity.", ("target", "severity")
    )
    for metric, quantile, key in ((median, "0.5", "median_s"), (p90, "0.9", "p90_s")):
        for t, entry in _series(metric, target):
            if not entry.get("available"):
                continue
            if entry.get("value") is not None:
                g.labels(t, "all", quantile).set(entry["value"])
            for sev, s in (entry.get("by_severity") or {}).items():
                if s.get(key) is not None:
                    g.labels(t, sev, quantile).set(s[key])
                if quantile == "0.5":
                    n.labels(t, sev).set(s.get("count", 0))


def _frameworks(gauge: Any, frameworks: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    controls = gauge(
        f"{PREFIX}_framework_controls",
        "Controls of a framework per state (passing, failing, not-evaluated, not-covered), latest complete scans.",
        ("target", "framework", "state"),
    )
    share = gauge(
        f"{PREFIX}_framework_passing_ratio",
        "Controls passing over controls covered (passing + failing + not evaluated), latest complete scans.",
        ("target", "framework"),
    )
    for t, views in sorted(frameworks.items()):
        for fw in views:
            for state in STATES:
                controls.labels(t, fw["framework"], state.replace("_", "-")).set(fw.get(state, 0))
            if fw.get("share_passing") is not None:
                share.labels(t, fw["framework"]).set(fw["share_passing"])
