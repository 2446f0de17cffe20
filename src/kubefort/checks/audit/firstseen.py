"""KF-AUDIT-024: a principal doing something the usage baseline never saw it do (first seen)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubefort.audit.baseline import DEFAULT_MAX_ENTRIES, UsageBaseline, action_of, parse_duration
from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import allowed
from kubefort.checks.audit.windows import LRU, Principals, positive, principal_groups
from kubefort.model import NotApplicable, NotEvaluated, Severity, Violation
from kubefort.registry import Mappings, check

NO_BASELINE = "no usage baseline is loaded and no learning window is configured"
LEARNING = "the request is inside the learning window"


@dataclass(frozen=True, slots=True)
class FirstSeenOptions:
    """learn_for: when the driver loaded no usage baseline, learn one from the first DURATION of
    the log (7d, 12h, 90m); "" leaves the check off in that case. ignored_users (shell patterns)
    and ignored_groups: principals never reported. max_tracked: (principal, action) pairs
    remembered as reported; max_entries: the size bound of a baseline learned here."""

    learn_for: str = ""
    ignored_users: tuple[str, ...] = ()
    ignored_groups: tuple[str, ...] = ()
    max_tracked: int = 100_000
    max_entries: int = DEFAULT_MAX_ENTRIES

    def __post_init__(self) -> None:
        if self.learn_for:
            try:
                parse_duration(self.learn_for)
            except ValueError as exc:
                raise ValueError(f"learn_for: {exc}") from None
        positive("max_tracked", self.max_tracked)
        positive("max_entries", self.max_entries)


def _baseline(ctx: AuditContext[FirstSeenOptions]) -> tuple[UsageBaseline | None, bool]:
    """(the baseline, whether this check learns it itself): the driver's, else one learned from
    the log with `learn_for`, else None."""
    b = ctx.services.baseline
    if isinstance(b, UsageBaseline):
        return b, False
    s = ctx.scratch
    if "own" not in s:
        o = ctx.options
        s["own"] = UsageBaseline(parse_duration(o.learn_for), o.max_entries) if o.learn_for else None
    own: UsageBaseline | None = s["own"]
    return own, own is not None


def _state(ctx: AuditContext[Any]) -> tuple[Principals, LRU[tuple[str, str], bool]]:
    s = ctx.scratch
    if "reported" not in s:
        o = ctx.options
        s["ignored"] = Principals(o.ignored_users, o.ignored_groups)
        s["reported"] = LRU[tuple[str, str], bool](o.max_tracked)
    return s["ignored"], s["reported"]


@check(
    id="KF-AUDIT-024",
    name="first-seen-principal-action",
    title="A principal did something the usage baseline never saw it do",
    verified="Principal did what the usage baseline saw it do",
    severity=Severity.LOW,
    target="audit",
    audit=AuditScope(
        stateful=True,
        active=lambda opts, services: isinstance(services.baseline, UsageBaseline) or bool(opts.learn_for),
    ),
    options=FirstSeenOptions,
    mappings=Mappings(mitre=("T1078",), owasp=("K03",)),
    remediation="Confirm the new behaviour with the owner of the principal: a new release or task explains it, a stolen credential does not (revoke it); re-learn the baseline after planned changes.",
)
def first_seen_principal_action(ev: AuditEvent, ctx: AuditContext[FirstSeenOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Compares each allowed resource request with the usage baseline (`kubefort/audit/baseline.py`):
    what every principal (the impersonated user when the request impersonated one) did while
    kubefort learned, as actions `verb resource[.group][/subresource]` regardless of namespace
    (`get secrets`, `create pods/exec`, `patch deployments.apps`). A request whose action its
    principal never did in the baseline is flagged, once per (principal, action): later requests
    of the same action are passes while it is remembered (at most `max_tracked` pairs, the least
    recently seen forgotten first). Refused requests are passes (bursts of them are KF-AUDIT-023).

    The baseline is the driver's (`kubefort audit --usage-baseline FILE`, `--learn-for DURATION`),
    else one this check learns from the first `learn_for` of the log. Learning is by the events'
    own `stageTimestamp`: the window starts at the first allowed request and lasts `learn_for`;
    every request stamped inside it is learned and not judged, wherever it sits in the log.
    Namespaces are left out of actions on purpose: controllers work in namespaces created after
    the window, and would otherwise be flagged in each new one.

    Falco k8saudit's closest rule is *Disallowed K8s User* (a fixed list of users).

    ## Why is this bad?
    Credentials are used in steady patterns: a workload reads its ConfigMaps and updates its
    status, an operator manages its resources. A principal that starts doing something new,
    such as reading Secrets, exec'ing into pods or creating roles, is often a stolen credential
    being explored (MITRE ATT&CK T1078, Valid Accounts), or a change nobody announced.

    ## Example
    A baseline in which `system:serviceaccount:shop:web` only did `get configmaps`, then:

    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete", "verb": "create",
     "user": {"username": "system:serviceaccount:shop:web"},
     "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "shop", "name": "db-0"},
     "responseStatus": {"code": 101}}
    ```

    ## How to fix
    Ask the owner of the principal whether the new action is expected. If not, revoke the
    credential and review what it did. If it is, re-learn the baseline after the change, or
    ignore principals whose behaviour changes by design:

    ```yaml
    options:
      KF-AUDIT-024:
        ignored_users: ["system:serviceaccount:argocd:*"]
        ignored_groups: [platform-admins]
    ```

    ## Not applicable when
    - no usage baseline is loaded and no learning window is configured (neither the driver's
      `--usage-baseline`/`--learn-for` nor this check's `learn_for` option);
    - the request is inside the learning window: it is learned, not judged.

    ## References
    - Kubernetes: Auditing (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/)
    - MITRE ATT&CK T1078 (https://attack.mitre.org/techniques/T1078/)
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    baseline, own = _baseline(ctx)
    if baseline is None:
        raise NotApplicable(NO_BASELINE)
    done = allowed(ev)
    principal = ev.principal
    action = action_of(ev)
    if baseline.learn_for is not None:
        t = ev.time
        if t is None:
            raise NotEvaluated("stageTimestamp is missing or unreadable: the learning window cannot place the request")
        if own and done:
            baseline.learn(t, principal, action)  # the analyzer hands each request once, at a response stage
        if baseline.learning(t):
            raise NotApplicable(LEARNING)
    if not done:
        return
    if not principal:
        raise NotEvaluated("the event names no user")
    ignored, reported = _state(ctx)
    if ignored.match(principal, principal_groups(ev)):
        return
    if baseline.knows(principal, action) or reported.get((principal, action)):
        return
    reported.put((principal, action), True)
    where = f" (namespace {ev.namespace})" if ev.namespace else ""
    never = "" if principal in baseline.principals else "; the baseline never saw this principal at all"
    yield Violation(f"{principal} did `{action}`{where} for the first time: not in the usage baseline{never}")
