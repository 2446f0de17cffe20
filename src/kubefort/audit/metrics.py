"""Access metrics of an audit log (or of an `audit serve` process): bounded, fed every event.

    m = AuditMetrics()
    m.observe(ev, judged)        # every event; judged: the analyzer judges its request here
    m.finding(outcome)           # every outcome of an audit check (failed ones are counted)
    m.as_dict()                  # the JSON report's extras.audit (METRICS_VERSION)

What is counted (the guides' key metrics: who is refused, who reads Secrets, what looks
suspicious, how fast it is seen):

* `events`: every event read, `by_stage` (RequestReceived, ResponseStarted, ResponseComplete,
  Panic), `first`/`last` stageTimestamp;
* `requests`: requests judged (each request once, at its first response stage, as the analyzer
  judges them; RequestReceived events do not count twice);
* `access_violations`: requests refused with 401 Unauthorized or 403 Forbidden, `by_code`,
  `by_principal` (the user, or the impersonated user; a 401 has none: `anonymous@<source IP>`)
  and `by_resource` (`resource[.group][/subresource]`, or the path of a non-resource request);
* `secrets`: requests on core Secrets, `by_principal`, `by_namespace` and `by_verb`;
* `checks`: per audit check, the requests it judged (`evaluated`) and its findings (`findings`:
  failed outcomes before exceptions, the suspicious events);
* `time_to_detect`: when events carry the time they were received (`AuditEvent.received`, set
  by `audit serve`): received - stageTimestamp in seconds, `count`, `p50`, `p99`, `max`; p50 and
  p99 from a histogram with 1 % wide buckets (their error is under 1 %). Null for log files.

Memory is bounded: each `by_*` table keeps at most `cap` keys (the first seen); the counts of
the others are summed in its `other` member, so totals stay exact. Metrics of parts of a log
read in parallel merge (`merge`) in log order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubefort.audit.event import AuditEvent
from kubefort.model import Outcome, Status

METRICS_VERSION = "kubefort.audit.metrics/v1"
DEFAULT_CAP = 1000
_TTD_BASE = 1.01  # time-to-detect histogram: bucket i holds [1.01**i, 1.01**(i+1)) milliseconds


@dataclass(slots=True)
class BoundedCounter:
    """Counts per key for at most `cap` keys (the first seen); the rest add up in `other`."""

    cap: int = DEFAULT_CAP
    counts: dict[str, int] = field(default_factory=dict)
    other: int = 0

    def add(self, key: str, n: int = 1) -> None:
        counts = self.counts
        if key in counts:
            counts[key] += n
        elif len(counts) < self.cap:
            counts[key] = n
        else:
            self.other += n

    def merge(self, other: BoundedCounter) -> None:
        for k, n in other.counts.items():
            self.add(k, n)
        self.other += other.other

    def total(self) -> int:
        return sum(self.counts.values()) + self.other

    def as_dict(self) -> dict[str, Any]:
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return {"counts": dict(ranked), "other": self.other}


@dataclass(slots=True)
class Histogram:
    """Durations in seconds, in log-scale buckets (1 % wide, from 1 ms); exact count and max."""

    buckets: dict[int, int] = field(default_factory=dict)
    count: int = 0
    max: float = 0.0

    def add(self, seconds: float) -> None:
        ms = max(seconds * 1000.0, 1.0)
        i = int(math.log(ms, _TTD_BASE))
        self.buckets[i] = self.buckets.get(i, 0) + 1
        self.count += 1
        self.max = max(self.max, seconds)

    def merge(self, other: Histogram) -> None:
        for i, n in other.buckets.items():
            self.buckets[i] = self.buckets.get(i, 0) + n
        self.count += other.count
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float:
        """The q-quantile (0..1), as the middle of its bucket, in seconds (0 when empty)."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if seen >= rank:
                return min(self.max, math.pow(_TTD_BASE, i + 0.5) / 1000.0)
        return self.max  # pragma: no cover - the ranks add up to count


def _seconds(ts: str) -> float:
    try:
        t: float = datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return math.nan  # compares false both ways: an unreadable time never moves first/last
    return t


def _principal(ev: AuditEvent) -> str:
    p = ev.impersonated_user or ev.user
    if p:
        return p
    return f"anonymous@{ev.source_ips[0]}" if ev.source_ips else "anonymous"


def resource_key(ev: AuditEvent) -> str:
    """`resource[.group][/subresource]` of a resource request, else its path without the query."""
    if not ev.resource:
        return ev.request_uri.split("?", 1)[0] or "(unknown)"
    gr = f"{ev.resource}.{ev.api_group}" if ev.api_group else ev.resource
    return f"{gr}/{ev.subresource}" if ev.subresource else gr


class AuditMetrics:
    """The metrics of one analysis (module docstring)."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self.events = 0
        self.requests = 0
        self.by_stage = BoundedCounter(16)
        self.first = ""  # the earliest and latest stageTimestamps, as written
        self.last = ""
        self.denied_by_code = BoundedCounter(16)
        self.denied_by_principal = BoundedCounter(cap)
        self.denied_by_resource = BoundedCounter(cap)
        self.secrets_by_principal = BoundedCounter(cap)
        self.secrets_by_namespace = BoundedCounter(cap)
        self.secrets_by_verb = BoundedCounter(32)
        self.evaluated: dict[str, int] = {}  # check ID -> requests judged by it
        self.findings: dict[str, int] = {}  # check ID -> failed outcomes
        self.ttd = Histogram()

    # -- feeding -----------------------------------------------------------------------------
    def observe(self, ev: AuditEvent, judged: bool) -> None:
        """Every event, with whether its request is judged at this event (counted once)."""
        self.events += 1
        self.by_stage.add(ev.stage or "(none)")
        ts = ev.stage_timestamp
        if ts:
            self._times(ts, ev)
        if ev.received:
            t = ev.time
            if t is not None:
                self.ttd.add(max(0.0, ev.received - t))
        if judged:
            self.judge(ev)

    def judge(self, ev: AuditEvent) -> None:
        """The per-request counts of one judged request."""
        self.requests += 1
        code = ev.code
        if code in (401, 403):
            self.denied_by_code.add(str(code))
            self.denied_by_principal.add(_principal(ev))
            self.denied_by_resource.add(resource_key(ev))
        if ev.resource == "secrets" and not ev.api_group:
            self.secrets_by_principal.add(_principal(ev))
            self.secrets_by_namespace.add(ev.namespace or "(all namespaces)")
            self.secrets_by_verb.add(ev.verb or "(none)")

    def _times(self, ts: str, ev: AuditEvent) -> None:
        first, last = self.first, self.last
        if len(ts) == len(first) == len(last):  # the API server's fixed format compares as text
            if ts > last:
                self.last = ts
            elif ts < first:
                self.first = ts
            return
        self._extend(ts, ev.time)

    def _extend(self, ts: str, t: float | None) -> None:
        if t is None:
            return
        if not self.first or t < _seconds(self.first):
            self.first = ts
        if not self.last or t > _seconds(self.last):
            self.last = ts

    def evaluated_by(self, check_id: str, n: int = 1) -> None:
        self.evaluated[check_id] = self.evaluated.get(check_id, 0) + n

    def finding(self, o: Outcome) -> None:
        if o.status is Status.FAILED:
            self.findings[o.check_id] = self.findings.get(o.check_id, 0) + 1

    # -- combining and showing ---------------------------------------------------------------
    def merge(self, other: AuditMetrics) -> None:
        """Add the metrics of the next part of the log."""
        self.events += other.events
        self.requests += other.requests
        for mine, theirs in (
            (self.by_stage, other.by_stage),
            (self.denied_by_code, other.denied_by_code),
            (self.denied_by_principal, other.denied_by_principal),
            (self.denied_by_resource, other.denied_by_resource),
            (self.secrets_by_principal, other.secrets_by_principal),
            (self.secrets_by_namespace, other.secrets_by_namespace),
            (self.secrets_by_verb, other.secrets_by_verb),
        ):
            mine.merge(theirs)
        for ts in (other.first, other.last):
            if ts:
                self._extend(ts, _seconds(ts))
        for cid, n in other.evaluated.items():
            self.evaluated_by(cid, n)
        for cid, n in other.findings.items():
            self.findings[cid] = self.findings.get(cid, 0) + n
        self.ttd.merge(other.ttd)

    def as_dict(self) -> dict[str, Any]:
        """The metrics as the JSON report's `extras.audit` shows them (METRICS_VERSION)."""
        ttd = self.ttd
        checks = sorted(set(self.evaluated) | set(self.findings))
        return {
            "version": METRICS_VERSION,
            "events": {
                "total": self.events,
                "by_stage": dict(sorted(self.by_stage.counts.items())),
                "first": self.first or None,
                "last": self.last or None,
            },
            "requests": self.requests,
            "access_violations": {
                "total": self.denied_by_code.total(),
                "by_code": dict(sorted(self.denied_by_code.counts.items())),
                "by_principal": self.denied_by_principal.as_dict(),
                "by_resource": self.denied_by_resource.as_dict(),
            },
            "secrets": {
                "total": self.secrets_by_verb.total(),
                "by_principal": self.secrets_by_principal.as_dict(),
                "by_namespace": self.secrets_by_namespace.as_dict(),
                "by_verb": self.secrets_by_verb.as_dict(),
            },
            "checks": {
                cid: {"evaluated": self.evaluated.get(cid, 0), "findings": self.findings.get(cid, 0)} for cid in checks
            },
            "time_to_detect": {
                "count": ttd.count,
                "p50": round(ttd.quantile(0.5), 6),
                "p99": round(ttd.quantile(0.99), 6),
                "max": round(ttd.max, 6),
            }
            if ttd.count
            else None,
        }
