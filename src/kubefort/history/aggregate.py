"""The key metrics over the stored history: latest value per target, fleet aggregate, trends.

`load(store, target=..., since=...)` reads what the metrics need: the scans of the window with
their precomputed metrics, the episodes (open findings are the open episodes), and the findings of
the targets analysed by `kubefort audit` in the window (their event times give time to detect); the
HTML view also reads the open findings (`open_findings=True`). `metrics(data, now=...)` computes
every metric of `kubefort.history.metrics.METRICS` from it.

Per target, a scan metric's value is the one of the target's latest scan (in the window) where it
was available (`as_of` says when). Without `--target` the value is the fleet's:

* counts (roles, NetworkPolicies, privileged pods, violations, suspicious events, leaks, open
  findings): the sum over the targets;
* ratios and rates: the sum of the targets' numerators over the sum of their denominators (so
  each namespace, container, role, API server or audit hour weighs the same, whatever target it
  belongs to), never a mean of ratios;
* time to remediate and to detect: the median and p90 of every episode (finding) of the fleet
  pooled.

A target whose latest scan is partial makes the aggregate partial. `trend` holds one point per
scan that carried the metric: the value (for the fleet, the aggregate of every target's latest
value) just after that scan; for time to remediate and detect one point per day with fixes (or
detections), the statistic of that day's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubefort.history import stats
from kubefort.history.metrics import FIXABLE_VULNS, METRICS, Metric

if TYPE_CHECKING:
    from kubefort.history.store import EpisodeRow, FindingRow, ScanRow, Store

ROUND = 6  # decimals kept in values and trends (ratios and rates; counts stay exact)


@dataclass(frozen=True, slots=True)
class HistoryData:
    """What one history view reads from the store."""

    target: str | None
    since: float | None
    scans: Sequence[ScanRow]  # finished_at order
    episodes: Sequence[EpisodeRow]
    detections: Sequence[FindingRow] = ()  # findings of the audit targets (time to detect)
    open_findings: Sequence[FindingRow] = ()  # loaded for the HTML view only


def load(
    store: Store, *, target: str | None = None, since: float | None = None, open_findings: bool = False
) -> HistoryData:
    """The history of `target` (None: every target) since `since` (module docstring). Findings are
    read only where needed: the whole table of a long history is never loaded."""
    scans = store.scans(target=target, since=since)
    audited = sorted({s.target for s in scans if s.kind == "audit"})
    detections = [f for t in audited for f in store.findings(target=t) if f.observed_at is not None]
    return HistoryData(
        target,
        since,
        scans,
        store.episodes(target=target),
        detections,
        store.findings(target=target, state="open") if open_findings else (),
    )


_SINCE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_since(text: str, now: float) -> float:
    """`--since`: a duration back from `now` (`30d`, `12h`, `2w`, `90m`, `45s`) or an ISO 8601
    date or time (`2025-06-01`, `2025-06-01T12:00:00+02:00`; UTC when it names no zone), as Unix
    time. ValueError with the accepted forms otherwise."""
    t = text.strip()
    m = _SINCE.match(t.lower())
    if m:
        return now - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        when = datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30d, 12h, 2w, 90m) nor an ISO date (2025-06-01, 2025-06-01T12:00:00Z)"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _num(x: float) -> float:
    return x if isinstance(x, int) else round(x, ROUND)


# ---------------------------------------------------------------------------------------------
# scan metrics
# ---------------------------------------------------------------------------------------------
class _Fleet:
    """Running aggregate of the targets' latest available values of one metric (O(1) per update)."""

    def __init__(self, ratio: bool) -> None:
        self.ratio = ratio
        self.latest: dict[str, tuple[dict[str, Any], float]] = {}
        self.num = self.den = 0.0
        self.total: float = 0
        self.partial = self.ne = 0

    def _add(self, e: dict[str, Any], sign: int) -> None:
        if self.ratio:
            self.num += sign * float(e.get("numerator") or 0)
            self.den += sign * float(e.get("denominator") or 0)
        else:
            self.total += sign * e["value"]
        self.partial += sign * bool(e.get("partial"))
        self.ne += sign * int(e.get("not_evaluated") or 0)

    def update(self, target: str, entry: dict[str, Any], at: float) -> None:
        old = self.latest.get(target)
        if old is not None:
            self._add(old[0], -1)
        self._add(entry, 1)
        self.latest[target] = (entry, at)

    def value(self) -> tuple[float | None, bool, int]:
        """(value, partial, not_evaluated) of the aggregate."""
        value = (self.num / self.den if self.den > 0 else None) if self.ratio else self.total
        return value, self.partial > 0, self.ne


Indexed = Sequence[tuple["ScanRow", dict[str, dict[str, Any]]]]  # each scan with its metrics by name


def _scan_metric(m: Metric, scans: Indexed, fleet: bool) -> dict[str, Any]:
    agg = _Fleet(ratio=m.unit != "count")
    trend: list[list[float]] = []
    last_reason: dict[str, str] = {}
    for s, by_name in scans:
        entry = by_name.get(m.name)
        if entry is None:
            last_reason[s.target] = "not recorded for this scan (stored by an older kubefort)"
            continue
        if not entry.get("available"):
            last_reason[s.target] = str(entry.get("reason") or "not available")
            continue
        last_reason.pop(s.target, None)
        agg.update(s.target, entry, s.finished_at)
        value, _partial, _ne = agg.value() if fleet else (entry["value"], False, 0)
        if value is not None:
            trend.append([s.finished_at, _num(value)])
    per_target = [
        {
            "target": t,
            "value": _num(e["value"]),
            "available": True,
            "partial": bool(e.get("partial")),
            "reason": e.get("reason"),
            "as_of": at,
            **{k: e[k] for k in ("numerator", "denominator", "not_evaluated") if k in e},
        }
        for t, (e, at) in sorted(agg.latest.items())
    ]
    out: dict[str, Any] = {"per_target": per_target, "trend": trend}
    value, partial, ne = agg.value()
    if not agg.latest or value is None:
        reasons = sorted(set(last_reason.values())) or ["no scan stored" + (" in the window" if scans else "")]
        if not scans:
            reasons = ["no scan stored for this target or window"]
        out.update(value=None, available=False, partial=False, reason="; ".join(reasons))
        return out
    reason = None
    if partial:
        reason = "; ".join(sorted({str(p["reason"]) for p in per_target if p["partial"] and p["reason"]}))
    out.update(
        value=_num(value),
        available=True,
        partial=partial,
        reason=reason,
        as_of=max(at for _, at in agg.latest.values()),
    )
    if agg.ratio:
        out.update(numerator=_num(agg.num), denominator=_num(agg.den))
    if ne:
        out["not_evaluated"] = ne
    return out


# ---------------------------------------------------------------------------------------------
# history metrics
# ---------------------------------------------------------------------------------------------
def _durations(rows: Sequence[stats.Timed], empty_reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The median and p90 metrics of (target, severity, time, duration) rows: each group sorted
    once, both statistics read from it."""
    if not rows:
        empty: dict[str, Any] = {
            "value": None,
            "available": False,
            "partial": False,
            "reason": empty_reason,
            "trend": [],
            "per_target": [],
        }
        return empty, dict(empty)
    targets: dict[str, list[tuple[str, float]]] = {}
    days: dict[float, list[float]] = {}
    for t, sev, at, d in rows:
        targets.setdefault(t, []).append((sev, d))
        days.setdefault(stats.day_of(at), []).append(d)
    overall = stats.summary(d for *_, d in rows)
    by_sev = stats.by_severity((sev, d) for _, sev, _, d in rows)
    per_target = [
        (t, stats.summary(d for _, d in pairs), stats.by_severity(pairs)) for t, pairs in sorted(targets.items())
    ]
    daily = [(day, stats.summary(ds)) for day, ds in sorted(days.items())]
    out = []
    for key in ("median_s", "p90_s"):
        out.append(
            {
                "value": overall[key],
                "available": True,
                "partial": False,
                "reason": None,
                "count": len(rows),
                "by_severity": by_sev,
                "per_target": [
                    {
                        "target": t,
                        "value": summary[key],
                        "available": True,
                        "partial": False,
                        "count": summary["count"],
                        "by_severity": sevs,
                    }
                    for t, summary, sevs in per_target
                ],
                "trend": [[day, summary[key]] for day, summary in daily],
            }
        )
    return out[0], out[1]


def _open_findings(data: HistoryData) -> dict[str, Any]:
    """Open findings now: the episodes not closed (a finding has at most one open episode)."""
    if not data.scans and not data.episodes:
        return {
            "value": None,
            "available": False,
            "partial": False,
            "reason": "no scan stored for this target or window",
            "trend": [],
            "per_target": [],
        }
    by_target: dict[str, Counter[str]] = {s.target: Counter() for s in data.scans}
    for e in data.episodes:
        if e.fixed_at is None:
            by_target.setdefault(e.target, Counter())[e.severity] += 1
    total: Counter[str] = Counter()
    for c in by_target.values():
        total.update(c)
    # trend: failed outcomes of each target's latest scan (its findings), summed over the targets
    latest: dict[str, int] = {}
    trend: list[list[float]] = []
    for s in data.scans:
        latest[s.target] = int(((s.summary or {}).get("outcomes") or {}).get("failed", 0))
        trend.append([s.finished_at, sum(latest.values()) if data.target is None else latest[s.target]])
    return {
        "value": sum(total.values()),
        "available": True,
        "partial": False,
        "reason": None,
        "by_severity": _severity_counts(total),
        "per_target": [
            {
                "target": t,
                "value": sum(c.values()),
                "available": True,
                "partial": False,
                "by_severity": _severity_counts(c),
            }
            for t, c in sorted(by_target.items())
        ],
        "trend": trend,
    }


def _severity_counts(c: Counter[str]) -> dict[str, int]:
    return {sev: c.get(sev, 0) for sev in stats.SEVERITIES}


NO_FIX = "no finding was fixed in the window yet (fixed: absent from a later complete scan of its target)"
NO_VULN_FIX = (
    "no KF-IMG-007 finding (a fixable critical or high vulnerability unpatched too long) was fixed in the "
    "window yet: it needs scans with image scan data (image_scans in .kubefort.yaml)"
)
NO_DETECTION = (
    "no audit finding with an event time is stored: time to detect comes from audit analyses (kubefort audit --store)"
)


def metrics(data: HistoryData, *, now: float) -> list[dict[str, Any]]:
    """Every metric of the catalogue, in catalogue order (the `kubefort metrics` JSON list)."""
    del now  # the window ends with the newest scan; kept for the signature of the views
    fleet = data.target is None
    ttr = stats.remediation_times(data.episodes, data.since)
    ttd = stats.detection_times(data.detections, data.since)
    ttr_median, ttr_p90 = _durations(ttr, NO_FIX)
    vulns = stats.remediation_times((e for e in data.episodes if e.check_id == FIXABLE_VULNS), data.since)
    vuln_median, vuln_p90 = _durations(vulns, NO_VULN_FIX)
    ttd_median, ttd_p90 = _durations(ttd, NO_DETECTION)
    history = {
        "open_findings": _open_findings(data),
        "time_to_remediate_median": ttr_median,
        "time_to_remediate_p90": ttr_p90,
        "time_to_remediate_vulnerabilities_median": vuln_median,
        "time_to_remediate_vulnerabilities_p90": vuln_p90,
        "time_to_detect_median": ttd_median,
        "time_to_detect_p90": ttd_p90,
    }
    indexed = [(s, {str(e.get("name")): e for e in s.metrics or ()}) for s in data.scans]
    out: list[dict[str, Any]] = []
    for m in METRICS:
        body = history[m.name] if m.source == "history" else _scan_metric(m, indexed, fleet)
        out.append(
            {
                "name": m.name,
                "title": m.title,
                "unit": m.unit,
                "practice": m.practice,
                "definition": m.definition,
                "checks": list(m.checks),
                **body,
            }
        )
    return out


def history_metrics(
    store: Store, *, target: str | None = None, since: float | None = None, now: float
) -> list[dict[str, Any]]:
    return metrics(load(store, target=target, since=since), now=now)
