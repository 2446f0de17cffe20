"""Statistics of the history: time to remediate and time to detect, per severity and per day.

Pure functions over the rows the store returns (`EpisodeRow`, `FindingRow`: anything with the
attributes read here). Percentiles are nearest-rank (the smallest value with at least q of the
values at or below it: always one of the durations measured); the median is the middle value, or
the mean of the two middle ones.

* time to remediate: `fixed_at - opened_at` of every closed episode (a finding reopened later
  starts a new episode, measured on its own);
* time to detect: `first_seen_at - observed_at` of every finding with an event time (audit
  findings: the event's stageTimestamp), never below 0 (clock skew between the API server and
  the machine that analysed the log).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from kubefort.model import Severity

DAY = 86_400.0
SEVERITIES = tuple(s.label for s in sorted(Severity, reverse=True))  # critical first


class EpisodeLike(Protocol):
    @property
    def target(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def opened_at(self) -> float: ...
    @property
    def fixed_at(self) -> float | None: ...


class FindingLike(Protocol):
    @property
    def target(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def first_seen_at(self) -> float: ...
    @property
    def observed_at(self) -> float | None: ...


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0 < q <= 1) of sorted, non-empty values by the nearest-rank method."""
    if not ordered:
        raise ValueError("no values")
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def summary(durations: Iterable[float]) -> dict[str, Any]:
    """{"median_s", "p90_s", "count"} of durations (seconds); median and p90 None when there are none."""
    ordered = sorted(durations)
    if not ordered:
        return {"median_s": None, "p90_s": None, "count": 0}
    return {"median_s": statistics.median(ordered), "p90_s": nearest_rank(ordered, 0.9), "count": len(ordered)}


def by_severity(pairs: Iterable[tuple[str, float]]) -> dict[str, dict[str, Any]]:
    """(severity, duration) pairs -> summary per severity, every severity present (critical first)."""
    groups: dict[str, list[float]] = {s: [] for s in SEVERITIES}
    for sev, d in pairs:
        groups.setdefault(sev, []).append(d)
    return {sev: summary(ds) for sev, ds in groups.items()}


Timed = tuple[str, str, float, float]  # (target, severity, when, duration in seconds)


def remediation_times(episodes: Iterable[EpisodeLike], since: float | None = None) -> list[Timed]:
    """(target, severity, fixed_at, duration) of every episode closed at or after `since`."""
    return [
        (e.target, e.severity, e.fixed_at, max(e.fixed_at - e.opened_at, 0.0))
        for e in episodes
        if e.fixed_at is not None and (since is None or e.fixed_at >= since)
    ]


def detection_times(findings: Iterable[FindingLike], since: float | None = None) -> list[Timed]:
    """(target, severity, first_seen_at, duration) of every finding with an event time, first
    seen at or after `since`."""
    return [
        (f.target, f.severity, f.first_seen_at, max(f.first_seen_at - f.observed_at, 0.0))
        for f in findings
        if f.observed_at is not None and (since is None or f.first_seen_at >= since)
    ]


def day_of(t: float) -> float:
    """The start (UTC midnight, Unix time) of the day holding t."""
    return math.floor(t / DAY) * DAY


def day_range(start: float, end: float) -> list[float]:
    """Every day from the one holding `start` to the one holding `end` (at most ten years of days)."""
    first, last = day_of(start), day_of(end)
    first = max(first, last - 3650 * DAY)
    n = round((last - first) / DAY)
    return [first + i * DAY for i in range(n + 1)]


def fixed_per_day(episodes: Iterable[EpisodeLike], days: Sequence[float]) -> list[list[float]]:
    """[[day, episodes closed that day]] for every day of `days` (0 included)."""
    counts = dict.fromkeys(days, 0)
    for e in episodes:
        if e.fixed_at is not None:
            d = day_of(e.fixed_at)
            if d in counts:
                counts[d] += 1
    return [[d, counts[d]] for d in days]


def open_per_day(episodes: Iterable[EpisodeLike], days: Sequence[float]) -> list[list[float]]:
    """[[day, findings open at the end of that day]]: an episode is open from opened_at until
    fixed_at (open at the end of day d when opened_at < d + 1 day <= fixed_at, or never fixed)."""
    if not days:
        return []
    first, last = days[0], days[-1]
    delta: dict[float, int] = {}
    base = 0  # episodes open at the end of the day before `first`

    def add(t: float, n: int) -> None:
        nonlocal base
        d = day_of(t)
        if d < first:
            base += n
        elif d <= last:
            delta[d] = delta.get(d, 0) + n

    for e in episodes:
        add(e.opened_at, 1)
        if e.fixed_at is not None:
            add(e.fixed_at, -1)
    out: list[list[float]] = []
    running = base
    for d in days:
        running += delta.get(d, 0)
        out.append([d, running])
    return out
