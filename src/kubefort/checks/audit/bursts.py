"""KF-AUDIT-023: bursts of refused requests (401/403) from one principal or address."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import ANONYMOUS
from kubefort.checks.audit.windows import LRU, clamp, event_time, positive
from kubefort.model import NotEvaluated, Severity, Violation
from kubefort.registry import Mappings, check

REFUSED = frozenset({401, 403})
SHOWN = 6  # distinct requests named in a message

Window = deque[tuple[float, str]]  # (time, what was tried), oldest first, times non-decreasing


@dataclass(frozen=True, slots=True)
class BurstOptions:
    """threshold: refused requests within window_seconds that make a burst. max_tracked:
    principals and addresses remembered at once (the least recently refused are forgotten)."""

    threshold: int = 10
    window_seconds: int = 60
    max_tracked: int = 10_000

    def __post_init__(self) -> None:
        positive("threshold", self.threshold)
        positive("window_seconds", self.window_seconds)
        positive("max_tracked", self.max_tracked)


def burst_key(ev: AuditEvent) -> tuple[str, str]:
    """(key, how messages name it): the authenticated user; for an unauthenticated request (401
    without a user, or `system:anonymous`) the address of the connection, the last of sourceIPs
    (the only one a client cannot set)."""
    user = ev.user
    if user and user != ANONYMOUS:
        return user, user
    if not ev.source_ips:
        raise NotEvaluated("an unauthenticated refused request without sourceIPs: nothing to attribute it to")
    ip = ev.source_ips[-1]
    return f"address {ip}", f"unauthenticated clients at {ip}"


def tried(ev: AuditEvent) -> str:
    if ev.resource:
        sub = f"/{ev.subresource}" if ev.subresource else ""
        return f"{ev.verb} {ev.group_resource}{sub}"
    return f"{ev.verb} {ev.request_uri.split('?', 1)[0]}"


def crossed(window: Window, now: float, what: str, threshold: int, seconds: int) -> bool:
    """Add a refusal at `now` (the key's clamped time) to the key's window; True when it is the
    one that brings the refusals within [now - seconds, now] to `threshold`: the window held
    threshold - 1 of them just before, so a new burst starts here."""
    while window and window[0][0] < now - seconds:
        window.popleft()
    starts = len(window) == threshold - 1
    window.append((now, what))
    return starts


def _names(window: Window) -> str:
    seen = list(dict.fromkeys(what for _, what in window))
    more = f" and {len(seen) - SHOWN} more" if len(seen) > SHOWN else ""
    return ", ".join(seen[:SHOWN]) + more


@check(
    id="KF-AUDIT-023",
    name="refused-request-burst",
    title="One principal or address was refused many requests in a short time (a scan or brute force)",
    verified="No burst of refused requests started with this request",
    severity=Severity.MEDIUM,
    target="audit",
    audit=AuditScope(nonresource=True, stateful=True),
    options=BurstOptions,
    mappings=Mappings(mitre=("T1110", "T1613", "T1069"), owasp=("K03",)),
    remediation="Find out what sent the requests: a misconfigured workload (fix its RBAC or its credentials), a person exploring the API, or an attacker testing a stolen credential (revoke it).",
)
def refused_request_burst(ev: AuditEvent, ctx: AuditContext[BurstOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Counts the refused requests (response 401 Unauthorized or 403 Forbidden) of each caller:
    the authenticated user (the one who sent the request, also when it tried to impersonate
    someone), or, for unauthenticated requests (401 without a user, or `system:anonymous`),
    the address of the connection (the last of `sourceIPs`, the only one a client cannot set).
    A burst is a period during which some `window_seconds`-long window holds at least
    `threshold` refusals of one caller; it is reported once, at the refusal that brings the
    window to the threshold, naming the count, the window and the requests tried. The burst
    ends when the window falls below the threshold; the next refusal reaching it again starts
    a new one.

    Time is each event's own `stageTimestamp`, per caller never running backwards: a refusal
    stamped before the caller's latest counts at that latest time. A caller's refusals older
    than the window are dropped when it is refused again, and at most `max_tracked` callers are
    remembered: beyond that the least recently refused is forgotten (its next refusal starts
    from an empty window).

    Falco k8saudit has no burst rule (*K8s Secret Get Unsuccessfully Tried* fires per request).

    ## Why is this bad?
    A burst of refusals is what a scanner or an attacker probing a stolen credential looks
    like: it tries what the credential can do (MITRE ATT&CK T1613, Container and Resource
    Discovery; T1069, Permission Groups Discovery) or guesses credentials (T1110, Brute Force).
    A workload that suddenly fails many requests is also worth a look: its credentials or RBAC
    broke.

    ## Example
    Ten events like this one within a minute:

    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete", "verb": "list",
     "user": {"username": "system:serviceaccount:shop:web"}, "sourceIPs": ["10.244.1.17"],
     "objectRef": {"resource": "secrets", "namespace": "kube-system", "apiVersion": "v1"},
     "responseStatus": {"code": 403}}
    ```

    ## How to fix
    Find the caller (the message names it and what it tried). Revoke a credential used by
    someone who should not have it; fix the RBAC or the configuration of a workload that lost
    its permissions. Tune the thresholds in `.kubefort.yaml`:

    ```yaml
    options:
      KF-AUDIT-023: {threshold: 20, window_seconds: 60}
    ```

    ## References
    - Kubernetes: Auditing (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/)
    - MITRE ATT&CK T1110 (https://attack.mitre.org/techniques/T1110/)
    - MITRE ATT&CK T1613 (https://attack.mitre.org/techniques/T1613/)
    """
    if ev.code not in REFUSED:
        return
    opts = ctx.options
    key, who = burst_key(ev)
    t = event_time(ev, "KF-AUDIT-023")
    s = ctx.scratch
    callers: LRU[str, Window] | None = s.get("callers")
    if callers is None:
        callers = s["callers"] = LRU[str, Window](opts.max_tracked)
    window = callers.get(key)
    if window is None:
        window = deque(maxlen=opts.threshold)
    now = clamp(t, window[-1][0] if window else None)
    starts = crossed(window, now, tried(ev), opts.threshold, opts.window_seconds)
    callers.put(key, window)
    if starts:
        yield Violation(
            f"{len(window)} requests of {who} were refused (401/403) within {opts.window_seconds}s "
            f"(threshold {opts.threshold}): {_names(window)}"
        )
