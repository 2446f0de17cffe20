"""Prometheus report: a finished ScanResult as gauges in the Prometheus text exposition format.

Meant for the node-exporter textfile collector (`-o prometheus=/path/kubefort.prom`) or any
scraper that reads a file. Rendered with prometheus_client into a fresh CollectorRegistry per
call, so nothing leaks into (or from) the process-wide default registry.

Metrics (all gauges; the file describes one scan):

* `kubefort_info{version}` 1
* `kubefort_findings{check_id,severity,namespace,kind}`: failed outcomes per label set
  (suppressed, passed and not-evaluated outcomes are not findings); a Namespace object's
  findings carry its own name as `namespace`
* `kubefort_findings_by_severity{severity}`: failed outcomes per severity, every severity
  present (0 included), so that alerts need no `or vector(0)`
* `kubefort_outcomes{status}`: outcomes per status, every status present
* `kubefort_checks_run`, `kubefort_objects_scanned`
* `kubefort_scan_duration_seconds`, `kubefort_scan_timestamp_seconds` (Unix time the scan
  finished, see `_timestamp`)
* `kubefort_incomplete`: 1 when an input failed or any target was not evaluated, else 0

`kubefort audit` adds its access metrics (`extras.audit`, kubefort/audit/metrics.py), gauges too:

* `kubefort_audit_events{stage}`, `kubefort_audit_requests` (requests judged, each once)
* `kubefort_audit_first_event_timestamp_seconds`, `kubefort_audit_last_event_timestamp_seconds`
* `kubefort_audit_access_violations{code}` (401/403), `..._by_principal{principal}`,
  `..._by_resource{resource}`
* `kubefort_audit_secret_requests_by_principal{principal}`, `..._by_namespace{namespace}`,
  `..._by_verb{verb}`
* `kubefort_audit_check_requests{check_id}` (requests each check judged),
  `kubefort_audit_check_findings{check_id}` (its findings, before exceptions)
* `kubefort_audit_time_to_detect_seconds{quantile}` (0.5, 0.99, 1 = max; `audit serve` only)

Principals, resources and namespaces are bounded by the metrics' key cap (1,000 per table); the
rest is one series whose label is `(other)`. They are names of users and service accounts, not of
pods, so they change as slowly as the cluster's identities.

Label cardinality is bounded on purpose. Every series lives in Prometheus' head block for
hours, and a textfile is re-read on every scrape: labels may only take values from small,
slowly changing sets. check_id (the catalog), severity (5), status (4), kind (the kinds in the
cluster) and namespace (the namespaces in the cluster) are such sets. Object names, container
names, file paths, messages and fingerprints are not: pods of Deployments and Jobs carry
generated names that change on every rollout or run, so each scan would create new series and
leave the old ones to go stale (a cardinality explosion that grows with time, not with the
cluster). Which objects fail is in the JSON report; the metrics say how many and where to look.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from kubefort.model import Outcome, ScanResult, Severity, Status
from kubefort.registry import Registry
from kubefort.reporters import is_complete, severity_counts

PREFIX = "kubefort"


def render(result: ScanResult, registry: Registry, *, timestamp: float | None = None) -> str:
    """The text exposition of `result` (one string ending in exactly one newline).

    `registry` is the check registry (unused: severities come from the outcomes, which carry the
    effective severity after configuration overrides); it keeps the signature of the other formats.
    """
    del registry
    reg = CollectorRegistry(auto_describe=False)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", doc, labelnames=labels, registry=reg)

    gauge("info", "kubefort version that produced this report (always 1).", ("version",)).labels(
        version=result.tool_version
    ).set(1)

    findings = gauge(
        "findings",
        "Failed outcomes (findings) per check, severity, namespace and kind; namespace is the "
        "Namespace's own name for Namespace objects, empty for other cluster-scoped objects and for "
        "findings on no object (kind empty too).",
        ("check_id", "severity", "namespace", "kind"),
    )
    per_key: Counter[tuple[str, str, str, str]] = Counter()
    for o in result.outcomes:
        if o.status is Status.FAILED:
            ns, kind = finding_place(o)
            per_key[(o.check_id, o.severity.label, ns, kind)] += 1
    for (check_id, sev, ns, kind), n in sorted(per_key.items()):
        findings.labels(check_id=check_id, severity=sev, namespace=ns, kind=kind).set(n)

    by_sev = gauge("findings_by_severity", "Failed outcomes per severity (every severity listed).", ("severity",))
    counts = severity_counts(result)
    for level in sorted(Severity):
        by_sev.labels(severity=level.label).set(counts[level.label])

    outcomes = gauge("outcomes", "Outcomes per status: passed, failed, suppressed, not-evaluated.", ("status",))
    status_counts = result.counts()
    for st in Status:
        outcomes.labels(status=st.value).set(status_counts[st.value])

    gauge("checks_run", "Checks selected for the scan.").set(len(result.checks_run))
    gauge("objects_scanned", "Kubernetes objects loaded and checked.").set(len(result.resources))
    gauge("scan_duration_seconds", "Wall-clock duration of the scan.").set(result.duration_s)
    gauge("scan_timestamp_seconds", "Unix time at which the scan finished.").set(_timestamp(result, timestamp))
    gauge(
        "incomplete",
        "1 when the scan is incomplete (an input failed to load or a target was not evaluated), else 0.",
    ).set(0 if is_complete(result) else 1)

    audit = result.extras.get("audit")
    if isinstance(audit, dict):
        audit_gauges(reg, audit)

    text = generate_latest(reg).decode("utf-8")
    return text if text.endswith("\n") else text + "\n"


def finding_place(o: Outcome) -> tuple[str, str]:
    """(namespace, kind) labels of an outcome. A Namespace object is placed in itself: its findings
    (no default-deny policy, no Pod Security label ...) are about that namespace."""
    if o.resource is None:
        return "", ""
    if o.resource.kind == "Namespace" and o.resource.api_version == "v1":
        return o.resource.name, "Namespace"
    return o.resource.namespace or "", o.resource.kind


def _timestamp(result: ScanResult, explicit: float | None) -> float:
    """When the scan finished: the explicit value, else the result's `finished_at` (Unix time),
    else now (a result built by hand has none). A scanned result renders the same text every time."""
    if explicit is not None:
        return explicit
    if result.finished_at > 0:
        return float(result.finished_at)
    return time.time()


OTHER = "(other)"  # the label of the counts beyond a table's key cap


def audit_gauges(reg: CollectorRegistry, audit: Mapping[str, Any]) -> None:
    """The access metrics of `kubefort audit` (the JSON report's extras.audit) as gauges in `reg`
    (module docstring); `audit serve` may add them to its own registry."""

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_audit_{name}", doc, labelnames=labels, registry=reg)

    def table(name: str, doc: str, label: str, data: Mapping[str, Any]) -> None:
        g = gauge(name, doc, (label,))
        for key, n in sorted((data.get("counts") or {}).items()):
            g.labels(key).set(n)
        if data.get("other"):
            g.labels(OTHER).set(data["other"])

    events = audit.get("events") or {}
    by_stage = gauge("events", "Audit events read, per stage.", ("stage",))
    for stage, n in sorted((events.get("by_stage") or {}).items()):
        by_stage.labels(stage).set(n)
    gauge("requests", "Requests judged (each request once, at its first response stage).").set(audit.get("requests", 0))
    for key, name in (("first", "first_event"), ("last", "last_event")):
        t = _unix(events.get(key))
        if t is not None:
            gauge(f"{name}_timestamp_seconds", f"stageTimestamp of the {key} event read (Unix time).").set(t)
    denied = audit.get("access_violations") or {}
    codes = gauge("access_violations", "Requests refused with 401 or 403, per code.", ("code",))
    for code, n in sorted((denied.get("by_code") or {}).items()):
        codes.labels(code).set(n)
    table(
        "access_violations_by_principal",
        "Requests refused with 401 or 403, per principal.",
        "principal",
        denied.get("by_principal") or {},
    )
    table(
        "access_violations_by_resource",
        "Requests refused with 401 or 403, per resource.",
        "resource",
        denied.get("by_resource") or {},
    )
    secrets = audit.get("secrets") or {}
    for key, label in (("by_principal", "principal"), ("by_namespace", "namespace"), ("by_verb", "verb")):
        table(
            f"secret_requests_{key}",
            f"Requests on Secrets, per {label}.",
            label,
            secrets.get(key) or {},
        )
    requests = gauge("check_requests", "Requests each audit check judged.", ("check_id",))
    findings = gauge("check_findings", "Findings of each audit check (before exceptions).", ("check_id",))
    for cid, c in sorted((audit.get("checks") or {}).items()):
        requests.labels(cid).set(c.get("evaluated", 0))
        findings.labels(cid).set(c.get("findings", 0))
    ttd = audit.get("time_to_detect")
    if ttd:
        g = gauge("time_to_detect_seconds", "Event received - stageTimestamp (audit serve).", ("quantile",))
        for q, key in (("0.5", "p50"), ("0.99", "p99"), ("1", "max")):
            g.labels(q).set(ttd[key])


def _unix(ts: object) -> float | None:
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return None
