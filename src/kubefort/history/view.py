"""The view dict: everything `kubefort report html` shows, JSON-able, built from the store.

    view = build_view(store, target=None, since=now - 90 * 86400, now=now)

Keys (docs/history.md; `kubefort.history.html` renders them):

* `generated_at`, `since` (Unix times; since None: the whole history), `store` (its URL, password
  redacted), `target` (None: the fleet), `targets` [{key, kind, labels}];
* `scans`: every scan of the window in time order, {uid, target, kind, finished_at, complete,
  outcomes {status: n}, failed_by_severity {severity: n}} (from each scan's summary);
* `metrics`: the key metrics (`kubefort.history.aggregate`), {name, title, value, unit, available,
  reason, partial, definition, checks, trend [[t, v]]};
* `ttr`: time to remediate of the episodes closed in the window, `by_severity` {severity: {median_s,
  p90_s, count}}, and per UTC day from the window's start (or the first episode) to `now`:
  `fixed_per_day` [[day, episodes closed]], `open_per_day` [[day, findings open at its end]];
* `frameworks`: `kubefort.history.frameworks.framework_views` of the latest complete scan of each
  target;
* `top_checks` [{check_id, name, severity, open}], `top_namespaces` [{namespace, open}]: the ten
  with the most open findings (a Namespace object's findings count in that namespace; those of
  other cluster-scoped objects in none);
* `open_findings`: the open findings, most severe and oldest first, {fingerprint, target,
  check_id, check_name, severity, resource, where ("file:line", or kind/namespace/name), message,
  remediation, first_seen_at, age_s}: all of them, or the first `max_findings` (the page of a
  huge fleet stays small enough to open; 0: no limit);
* `open_totals`: what the whole list counts, whatever was kept: {count, by_severity {severity: n},
  targets (how many targets have one), listed (how many `open_findings` holds)}.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from kubefort.history import stats
from kubefort.history.aggregate import HistoryData, load, metrics
from kubefort.history.frameworks import history_frameworks
from kubefort.model import Severity

if TYPE_CHECKING:
    from kubefort.history.store import FindingRow, ScanRow, Store
    from kubefort.registry import Registry

TOP = 10
MAX_FINDINGS = 20_000  # `report html --max-findings`' default: ~4.5 MB of page
VIEW_METRIC_KEYS = (
    "name",
    "title",
    "value",
    "unit",
    "available",
    "reason",
    "partial",
    "definition",
    "checks",
    "trend",
)
_SEVERITY_RANK = {s.label: int(s) for s in Severity}


def _scan(s: ScanRow) -> dict[str, Any]:
    summary = s.summary or {}
    return {
        "uid": s.uid,
        "target": s.target,
        "kind": s.kind,
        "finished_at": s.finished_at,
        "complete": bool(s.complete),
        "outcomes": dict(summary.get("outcomes") or {}),
        "failed_by_severity": dict(summary.get("failed_by_severity") or {}),
    }


def where(f: FindingRow) -> str:
    """ "file:line" (or the file alone) when the finding has a file, else kind/namespace/name."""
    if f.file:
        return f"{f.file}:{f.line}" if f.line else str(f.file)
    r = f.resource or {}
    parts = [p for p in (r.get("kind"), r.get("namespace"), r.get("name")) if p]
    return "/".join(str(p) for p in parts)


def namespace_of(f: FindingRow) -> str | None:
    """The namespace a finding is in; a Namespace object's findings (no default-deny policy, no Pod
    Security label) are in that namespace, as the scan's Prometheus gauges place them."""
    r = f.resource or {}
    if r.get("kind") == "Namespace" and r.get("apiVersion") == "v1":
        return r.get("name")
    return r.get("namespace")


def _open_finding(f: FindingRow, names: dict[str, str], now: float) -> dict[str, Any]:
    return {
        "fingerprint": f.fingerprint,
        "target": f.target,
        "check_id": f.check_id,
        "check_name": names.get(f.check_id, ""),
        "severity": f.severity,
        "resource": dict(f.resource or {}),
        "where": where(f),
        "message": f.message,
        "remediation": f.remediation,
        "first_seen_at": f.first_seen_at,
        "age_s": max(now - f.first_seen_at, 0.0),
    }


def _ttr(data: HistoryData, now: float) -> dict[str, Any]:
    timed = stats.remediation_times(data.episodes, data.since)
    start = data.since if data.since is not None else min((e.opened_at for e in data.episodes), default=now)
    days = stats.day_range(start, now) if data.episodes or data.since is not None else []
    return {
        "by_severity": stats.by_severity((sev, d) for _, sev, _, d in timed),
        "fixed_per_day": stats.fixed_per_day(data.episodes, days),
        "open_per_day": stats.open_per_day(data.episodes, days),
    }


def _tops(open_rows: list[FindingRow], registry: Registry) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    by_check = Counter(f.check_id for f in open_rows)
    by_ns = Counter(ns for ns in map(namespace_of, open_rows) if ns)
    top_checks = []
    for cid, n in sorted(by_check.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]:
        try:
            meta = registry.get(cid)
            name, severity = meta.name, meta.severity.label
        except KeyError:  # a check this kubefort no longer has: what the findings say
            name, severity = "", next(f.severity for f in open_rows if f.check_id == cid)
        top_checks.append({"check_id": cid, "name": name, "severity": severity, "open": n})
    top_ns = [{"namespace": ns, "open": n} for ns, n in sorted(by_ns.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]
    return top_checks, top_ns


def view_from(
    data: HistoryData,
    *,
    store_url: str,
    targets: list[dict[str, Any]],
    registry: Registry,
    now: float,
    max_findings: int = MAX_FINDINGS,
) -> dict[str, Any]:
    """The view dict of loaded history data (module docstring)."""
    names = {m.id: m.name for m in registry}
    open_rows = list(data.open_findings)
    open_rows.sort(key=lambda f: (-_SEVERITY_RANK.get(f.severity, -1), f.first_seen_at, f.fingerprint))
    top_checks, top_ns = _tops(open_rows, registry)
    listed = open_rows[:max_findings] if max_findings > 0 else open_rows
    return {
        "generated_at": now,
        "since": data.since,
        "store": store_url,
        "target": data.target,
        "targets": targets,
        "scans": [_scan(s) for s in data.scans],
        "metrics": [{k: m.get(k) for k in VIEW_METRIC_KEYS} for m in metrics(data, now=now)],
        "ttr": _ttr(data, now),
        "frameworks": history_frameworks(data.scans, registry),
        "top_checks": top_checks,
        "top_namespaces": top_ns,
        "open_findings": [_open_finding(f, names, now) for f in listed],
        "open_totals": {
            "count": len(open_rows),
            "by_severity": dict(Counter(f.severity for f in open_rows)),
            "targets": len({f.target for f in open_rows}),
            "listed": len(listed),
        },
    }


def build_view(
    store: Store,
    *,
    target: str | None = None,
    since: float | None = None,
    now: float,
    max_findings: int = MAX_FINDINGS,
) -> dict[str, Any]:
    """The view dict of `store` for one target (None: the fleet) since `since` (module docstring)."""
    from kubefort.registry import load_builtin_checks

    data = load(store, target=target, since=since, open_findings=True)
    targets = [
        {"key": t.key, "kind": t.kind, "labels": dict(t.labels or {})}
        for t in store.targets()
        if target is None or t.key == target
    ]
    return view_from(
        data,
        store_url=str(store.url),
        targets=targets,
        registry=load_builtin_checks(),
        now=now,
        max_findings=max_findings,
    )
