"""The audit analyzer: runs the audit checks (`target="audit"`) on a stream of events.

One `AuditAnalyzer` per analysis (a log read with `kubefort audit`, or one `audit serve`
process). `feed(ev)` returns the outcomes of that event that reports show (failed, suppressed,
not evaluated); passes are counted in `passed`, never kept (a log has millions of events).

Which events are judged: each request once. The API server writes one event per stage of a
request (RequestReceived, ResponseStarted for long-running requests such as exec and watch,
ResponseComplete, Panic), all with the request's fields and the same auditID. A request is judged
at its first response stage (ResponseStarted, ResponseComplete or Panic); RequestReceived events
carry no response and are not judged (their request is judged at its response stage). A bounded
set of recent auditIDs judged at ResponseStarted keeps their ResponseComplete from being judged
again.

Parallel reads (`kubefort.drivers.audit`) split the checks: `checks="stateless"` analyzers run
in worker processes on parts of a log, `checks="stateful"` (`AuditScope.stateful`: history in
`ctx.scratch`) in the main process on every event in log order. `admits_any(ev)` says whether an
analyzer has a check for an event at all (the workers send the main process only those);
`last_judged` whether the last event fed was the one its request is judged at; `evaluated`
counts the requests each check judged.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from kubefort.audit.context import AuditContext, AuditScope, AuditServices
from kubefort.audit.event import AuditEvent
from kubefort.model import (
    Location,
    NotApplicable,
    NotEvaluated,
    Outcome,
    ResourceId,
    Severity,
    Source,
    Status,
    options_off,
)
from kubefort.registry import CheckMeta, Registry, load_builtin_checks

RESPONSE_STAGES = frozenset({"ResponseStarted", "ResponseComplete", "Panic"})
STARTED_MEMORY = 100_000  # auditIDs judged at ResponseStarted remembered, newest kept
ADMITTED_MEMORY = 20_000  # (verb, resource, group, subresource) -> the checks that admit it, remembered
# requests the API server serves as long-running (kube-apiserver's LongRunningFunc: verbs watch
# and proxy, subresources attach, exec, proxy, log and portforward): only these have a
# ResponseStarted stage, so only their later stages may belong to a request already judged
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
CheckPart = Literal["all", "stateless", "stateful"]


@dataclass(frozen=True, slots=True)
class AuditSettings:
    check_ids: tuple[str, ...]  # the audit checks to run (others in the list are ignored)
    options: dict[str, object] = field(default_factory=dict)  # check ID -> its options dataclass
    severity: dict[str, Severity] = field(default_factory=dict)  # check ID -> a severity override


def long_running(ev: AuditEvent) -> bool:
    """Whether the API server serves this request as long-running (it may have a ResponseStarted)."""
    return ev.verb in LONG_RUNNING_VERBS or ev.subresource in LONG_RUNNING_SUBRESOURCES


def audit_fingerprint(check_id: str, ev: AuditEvent) -> str:
    """Stable across re-reads of the same log (and between the log and the webhook stream): the
    check and the request (auditID), not where the event was read."""
    key = f"{check_id}|{ev.audit_id}|{ev.verb}|{ev.request_uri}|{ev.user}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def resource_id(ev: AuditEvent, kinds: dict[tuple[str, str], str]) -> ResourceId | None:
    """The object acted on (None for a non-resource request). Its kind is the built-in kind of
    the resource when known, else the resource name as recorded (`widgets`)."""
    if not ev.resource:
        return None
    kind = kinds.get((ev.api_group, ev.resource), ev.resource)
    version = ev.api_version or "v1"
    api_version = f"{ev.api_group}/{version}" if ev.api_group else version
    name = ev.name + (f"/{ev.subresource}" if ev.subresource else "") if ev.name else f"({ev.verb})"
    return ResourceId(api_version, kind, ev.namespace or None, name)


class _Scoped:
    __slots__ = ("ctx", "func", "id", "meta", "nonresource", "resources")

    def __init__(self, meta: CheckMeta, ctx: AuditContext[Any]) -> None:
        scope = meta.audit or AuditScope()
        self.meta = meta
        self.id = meta.id
        self.func: Any = meta.func  # an audit check: (ev, ctx) -> Iterable[Violation]
        self.ctx = ctx
        self.resources = scope.resources
        self.nonresource = scope.nonresource

    def admits(self, ev: AuditEvent) -> bool:
        res = self.resources
        if not ev.resource:
            return self.nonresource or res is None
        if res is None:
            return True
        gr = ev.group_resource
        if ev.subresource:
            return f"{gr}/{ev.subresource}" in res or f"{gr}/*" in res
        return gr in res


class AuditAnalyzer:
    def __init__(
        self,
        settings: AuditSettings,
        registry: Registry | None = None,
        services: AuditServices | None = None,
        kinds: dict[tuple[str, str], str] | None = None,
        checks: CheckPart = "all",
    ) -> None:
        """`checks`: which of the selected audit checks this analyzer runs (module docstring)."""
        self.registry = registry if registry is not None else load_builtin_checks()
        self.services = services if services is not None else AuditServices()
        self.kinds = kinds if kinds is not None else _builtin_kinds()
        metas = [m for m in (self.registry.get(i) for i in settings.check_ids) if m.target == "audit"]
        if checks != "all":
            stateful = checks == "stateful"
            metas = [m for m in metas if (m.audit is not None and m.audit.stateful) == stateful]
        self.metas = metas
        self.severity = {m.id: settings.severity.get(m.id, m.severity) for m in metas}
        self.contexts: dict[str, AuditContext[Any]] = {}
        self._by_verb: dict[str, list[_Scoped]] = {}
        self._any_verb: list[_Scoped] = []
        for m in metas:
            opts = settings.options.get(m.id) or (m.options() if m.options is not None else None)
            ctx: AuditContext[Any] = AuditContext(opts, services=self.services)
            self.contexts[m.id] = ctx
            if options_off(opts) or (
                m.audit is not None and m.audit.active is not None and not m.audit.active(opts, self.services)
            ):
                continue  # off with these options and services: every outcome would be "not applicable"
            scoped = _Scoped(m, ctx)
            verbs = m.audit.verbs if m.audit is not None else None
            if verbs is None:
                self._any_verb.append(scoped)
            else:
                for v in verbs:
                    self._by_verb.setdefault(v, []).append(scoped)
        self._dispatch: dict[str, list[_Scoped]] = {}
        self._admitted: dict[tuple[str, str, str, str], tuple[_Scoped, ...]] = {}
        self._started: OrderedDict[str, None] = OrderedDict()
        self.events = 0  # events fed
        self.judged_events = 0  # requests judged (see the module docstring)
        self.passed = 0  # (check, request) pairs in scope with no finding
        self.last_judged = False  # whether the last event fed is the one its request is judged at
        self.evaluated: dict[str, int] = dict.fromkeys((m.id for m in metas), 0)  # check ID -> requests judged

    def judged(self, ev: AuditEvent) -> bool:
        """Whether this event is the one its request is judged at (module docstring)."""
        stage = ev.stage
        if stage not in RESPONSE_STAGES:
            return False
        started = self._started
        if stage == "ResponseStarted":
            if ev.audit_id:
                started[ev.audit_id] = None
                if len(started) > STARTED_MEMORY:
                    started.popitem(last=False)
            return True
        if ev.audit_id and ev.audit_id in started:
            del started[ev.audit_id]
            return False
        return True

    def candidates(self, verb: str) -> list[_Scoped]:
        found = self._dispatch.get(verb)
        if found is None:
            found = self._dispatch[verb] = self._by_verb.get(verb, []) + self._any_verb
        return found

    def admitted(self, ev: AuditEvent) -> tuple[_Scoped, ...]:
        """The checks whose scope admits this event's request. Scopes depend on the verb and the
        resource only, so the answer is remembered per (verb, resource, group, subresource)."""
        key = (ev.verb, ev.resource, ev.api_group, ev.subresource)
        found = self._admitted.get(key)
        if found is None:
            found = tuple(sc for sc in self.candidates(ev.verb) if sc.admits(ev))
            if len(self._admitted) < ADMITTED_MEMORY:
                self._admitted[key] = found
        return found

    def admits_any(self, ev: AuditEvent) -> bool:
        """Whether any check of this analyzer looks at this event's request (its scope admits it)."""
        return bool(self.admitted(ev))

    def feed(self, ev: AuditEvent) -> list[Outcome]:
        """The shown outcomes of one event (empty for events not judged, and for passes)."""
        self.events += 1
        if not self.judged(ev):
            self.last_judged = False
            return []
        self.last_judged = True
        self.judged_events += 1
        out: list[Outcome] = []
        evaluated = self.evaluated
        for sc in self.admitted(ev):  # `run`, inline: this loop runs for every check of every request
            evaluated[sc.id] += 1
            try:
                violations = list(sc.func(ev, sc.ctx))
            except NotApplicable:
                evaluated[sc.id] -= 1  # outside the check's scope after all: not judged by it
                continue
            except NotEvaluated as exc:
                out.append(self.outcome(sc.meta, ev, Status.NOT_EVALUATED, exc.reason))
                continue
            except Exception as exc:  # noqa: BLE001 - a bug in a check must not end the analysis, nor pass silently
                reason = f"internal error in {sc.id}: {type(exc).__name__}: {exc}"
                out.append(self.outcome(sc.meta, ev, Status.NOT_EVALUATED, reason))
                continue
            if violations:
                out.append(self.outcome(sc.meta, ev, Status.FAILED, "; ".join(v.message for v in violations)))
            else:
                self.passed += 1
        return out

    def run(self, meta: CheckMeta, ctx: AuditContext[Any], ev: AuditEvent) -> Outcome | None:
        """One check on one event (what `feed` does for each check it admits)."""
        try:
            violations = list(meta.func(ev, ctx))  # type: ignore[call-arg, arg-type, misc]  # an audit check always has one
        except NotApplicable:
            self.evaluated[meta.id] -= 1  # outside the check's scope after all: not judged by it
            return None
        except NotEvaluated as exc:
            return self.outcome(meta, ev, Status.NOT_EVALUATED, exc.reason)
        except Exception as exc:  # noqa: BLE001 - a bug in a check must not end the analysis, nor pass silently
            return self.outcome(
                meta, ev, Status.NOT_EVALUATED, f"internal error in {meta.id}: {type(exc).__name__}: {exc}"
            )
        if not violations:
            self.passed += 1
            return None
        message = "; ".join(v.message for v in violations)
        return self.outcome(meta, ev, Status.FAILED, message)

    def outcome(self, meta: CheckMeta, ev: AuditEvent, status: Status, message: str) -> Outcome:
        src = Source(ev.file, ev.item or 0, ev.line or None)
        return Outcome(
            meta.id,
            status,
            resource_id(ev, self.kinds),
            src,
            None,
            message,
            (),
            Location(ev.file, ev.line or None),
            audit_fingerprint(meta.id, ev),
            None,
            self.severity[meta.id],
            ev.summary(),
        )


def _builtin_kinds() -> dict[tuple[str, str], str]:
    from kubefort.kube.rbac.builtin import latest, resource_table

    return {(g, r): kind for g, r, kind, _ns, _s in resource_table(latest())}


def run_all(analyzer: AuditAnalyzer, events: Iterable[AuditEvent]) -> list[Outcome]:
    """Every shown outcome of a sequence of events, in order (tests and small inputs)."""
    out: list[Outcome] = []
    for ev in events:
        out.extend(analyzer.feed(ev))
    return out
