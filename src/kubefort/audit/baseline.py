"""The usage baseline: what each principal did while kubefort was learning, for first-seen detection.

A principal is the identity a request acted as (`AuditEvent.principal`: the impersonated user when
there is one). An action is the verb and the resource, namespace-agnostic:
`get secrets`, `create pods/exec`, `patch deployments.apps`,
`update clusterrolebindings.rbac.authorization.k8s.io` (`action_of`). Namespaces are left out on
purpose: controllers and operators work in namespaces created after the learning window, and a
per-namespace baseline would flag each new namespace as new behaviour. Non-resource requests
(`/healthz`, discovery) are not actions.

What is learned: every request the API server allowed (response code below 400, or none
recorded), once per request (a response stage), whose `stageTimestamp` falls in the learning
window. The window starts at the first such event's time and lasts `learn_for` seconds; an event
is in it by its own timestamp, so an out-of-order event stamped inside the window is still
learned, and its place in the log does not matter.

Sources, combined:
- a stored file from an earlier run (`UsageBaseline.load`): what it holds is known;
- learning on this log (`learn_for`): the first `learn_for` seconds of the log are learned (and
  not judged by the first-seen check).

The driver owns the baseline (`AuditServices.baseline`): it calls `observe(ev)` for every event it
reads (the order relative to `AuditAnalyzer.feed` does not matter) and `save(path)` at the end.

Stored format (JSON, `version` 1, times RFC 3339 UTC):

    {"kind": "KubefortUsageBaseline", "version": 1,
     "window": {"from": "2026-11-30T10:00:00.000000Z", "until": "2026-12-07T10:00:00.000000Z"},
     "dropped": 0,
     "principals": {"system:serviceaccount:shop:web": {"get secrets": ["<first seen>", "<last seen>"]}}}

`dropped` counts (principal, action) pairs not kept because the baseline held `max_entries`
already (memory is bounded: a flood of distinct principals cannot grow it further).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubefort.audit.analyzer import RESPONSE_STAGES
from kubefort.audit.event import AuditEvent
from kubefort.fileio import write_atomically

KIND = "KubefortUsageBaseline"
VERSION = 1
DEFAULT_MAX_ENTRIES = 200_000
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")


class BaselineError(Exception):
    """A stored baseline kubefort cannot read (the message names the file and the field)."""


def parse_duration(text: str) -> float:
    """`7d`, `12h`, `90m`, `3600s`, `1w`, `1d12h` -> seconds; ValueError for anything else."""
    t = text.strip()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not t or pos != len(t) or total <= 0:
        raise ValueError(f"{text!r} is not a duration (for example 7d, 12h, 90m, 1d12h)")
    return total


def action_of(ev: AuditEvent) -> str:
    """`verb resource[.group][/subresource]` ("" for a non-resource request)."""
    gr = ev.group_resource
    if not gr:
        return ""
    return f"{ev.verb} {gr}/{ev.subresource}" if ev.subresource else f"{ev.verb} {gr}"


def allowed(ev: AuditEvent) -> bool:
    """The API server let the request through (what a principal did, not what it tried)."""
    return ev.code is None or 100 <= ev.code < 400


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(v: Any, where: str) -> float:
    if not isinstance(v, str):
        raise BaselineError(f"{where} is {type(v).__name__}, expected an RFC 3339 time")
    try:
        return datetime.fromisoformat(v).timestamp()
    except ValueError:
        raise BaselineError(f"{where} {v!r} is not an RFC 3339 time") from None


class UsageBaseline:
    """Principal -> action -> [first seen, last seen] (Unix times), with the learning window."""

    def __init__(self, learn_for: float | None = None, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if learn_for is not None and learn_for <= 0:
            raise ValueError("learn_for must be positive")
        self.learn_for = learn_for
        self.max_entries = max_entries
        self.principals: dict[str, dict[str, list[float]]] = {}
        self.entries = 0
        self.dropped = 0
        self.window_start: float | None = None  # earliest time learned (this run or a stored file)
        self.window_end: float | None = None  # the end of this run's learning window, once it started
        self.stored_window: tuple[float, float] | None = None

    # -- learning ------------------------------------------------------------------------------
    def learning(self, t: float | None) -> bool:
        """Whether an event stamped `t` is in this run's learning window (before the first event
        it is: that event opens the window)."""
        if self.learn_for is None or t is None:
            return False
        return self.window_end is None or t < self.window_end

    def observe(self, ev: AuditEvent) -> bool:
        """Learn the event's action if it is in the learning window (see the module docstring);
        True if it was learned. Idempotent: the same request seen twice changes nothing."""
        if self.learn_for is None or ev.stage not in RESPONSE_STAGES or not allowed(ev):
            return False
        return self.learn(ev.time, ev.principal, action_of(ev))

    def learn(self, t: float | None, principal: str, action: str) -> bool:
        """`observe` for an allowed request already read: its time, principal and action."""
        if self.learn_for is None or t is None or not principal or not action:
            return False
        end = self.window_end
        if end is None:
            end = self.window_end = t + self.learn_for
        if t >= end:
            return False
        self.record(principal, action, t, t)
        return True

    def record(self, principal: str, action: str, first: float, last: float) -> None:
        actions = self.principals.get(principal)
        if actions is None:
            if self.entries >= self.max_entries:
                self.dropped += 1
                return
            actions = self.principals[principal] = {}
        seen = actions.get(action)
        if seen is None:
            if self.entries >= self.max_entries:
                self.dropped += 1
                return
            actions[action] = [first, last]
            self.entries += 1
        else:
            seen[0] = min(seen[0], first)
            seen[1] = max(seen[1], last)
        if self.window_start is None or first < self.window_start:
            self.window_start = first

    # -- questions -----------------------------------------------------------------------------
    def knows(self, principal: str, action: str) -> bool:
        actions = self.principals.get(principal)
        return actions is not None and action in actions

    def knows_any(self, principal: str, actions: Iterable[str]) -> bool:
        known = self.principals.get(principal)
        return known is not None and any(a in known for a in actions)

    def summary(self) -> dict[str, Any]:
        """For reports: how much the baseline holds and the window it covers (the stored file's
        and this run's learning window together)."""
        starts: list[float] = []
        ends: list[float] = []
        if self.stored_window is not None:
            starts.append(self.stored_window[0])
            ends.append(self.stored_window[1])
        if self.window_start is not None:
            starts.append(self.window_start)
        if self.window_end is not None:
            ends.append(self.window_end)
        return {
            "principals": len(self.principals),
            "actions": self.entries,
            "dropped": self.dropped,
            "window": {"from": _stamp(min(starts)) if starts else None, "until": _stamp(max(ends)) if ends else None},
        }

    # -- storage -------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        window = self.summary()["window"]
        return {
            "kind": KIND,
            "version": VERSION,
            "window": window,
            "dropped": self.dropped,
            "principals": {
                p: {a: [_stamp(s[0]), _stamp(s[1])] for a, s in sorted(acts.items())}
                for p, acts in sorted(self.principals.items())
            },
        }

    def save(self, path: str | Path) -> None:
        """Write the baseline atomically (OSError naming the file on failure)."""
        write_atomically(path, json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n")

    @classmethod
    def from_json(
        cls, data: Any, where: str = "baseline", learn_for: float | None = None, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> UsageBaseline:
        """A stored baseline (see the module docstring); BaselineError naming the bad field."""
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise BaselineError(f"{where}: not a kubefort usage baseline (kind {KIND} expected)")
        if data.get("version") != VERSION:
            raise BaselineError(
                f"{where}: usage baseline version {data.get('version')!r}; this kubefort reads version {VERSION}"
            )
        b = cls(learn_for, max(max_entries, 1))
        principals = data.get("principals")
        if not isinstance(principals, dict):
            raise BaselineError(f"{where}: principals is {type(principals).__name__}, expected an object")
        for p, acts in principals.items():
            if not isinstance(acts, dict):
                raise BaselineError(f"{where}: principals[{p!r}] is {type(acts).__name__}, expected an object")
            for a, seen in acts.items():
                at = f"{where}: principals[{p!r}][{a!r}]"
                if not isinstance(seen, list) or len(seen) != 2:
                    raise BaselineError(f"{at} is not [first seen, last seen]")
                b.record(p, a, _time(seen[0], at + "[0]"), _time(seen[1], at + "[1]"))
        window = data.get("window")
        if isinstance(window, dict) and window.get("from") and window.get("until"):
            b.stored_window = (
                _time(window["from"], f"{where}: window.from"),
                _time(window["until"], f"{where}: window.until"),
            )
        dropped = data.get("dropped", 0)
        b.dropped += dropped if isinstance(dropped, int) and not isinstance(dropped, bool) else 0
        return b

    @classmethod
    def load(
        cls, path: str | Path, learn_for: float | None = None, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> UsageBaseline:
        """Read a stored baseline (OSError if unreadable, BaselineError if not a valid one)."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_json(data, str(path), learn_for, max_entries)
