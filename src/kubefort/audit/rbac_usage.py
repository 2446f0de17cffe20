"""What principals did, as the RBAC authorizer saw it, read from API-server audit events.

`kubefort audit rbac generate` (rbac_generate.py) and `kubefort audit rbac unused`
(rbac_unused.py) share this reading of a log: each recorded request becomes the authorization
requests (`kubefort.kube.rbac.Request`) the API server granted for it, with the identity
(user and groups) it was granted to.

Which requests count:

* **Each request once.** The API server writes one event per stage of a request, all with its
  auditID. A request counts at its first response stage (ResponseStarted, ResponseComplete or
  Panic), as `AuditAnalyzer.judged` judges it. A request the log holds only a RequestReceived
  event of (a policy that omits the response stages, a log that ends mid-request) counts once
  as well, without a response code, when the log ends or when it leaves the bounded memory of
  requests in flight; that stage is written before impersonation is applied (the audit filter
  wraps the impersonation filter), so such a request counts for the authenticated user.
* **Only allowed ones.** The authorizer's decision, which the API server records as the
  annotation `authorization.k8s.io/decision` (`allow` or `forbid`, k8s.io/apiserver
  pkg/endpoints/filters/authorization.go), decides when it is there: an allowed request counts
  whatever its response code (a get of a missing object answers 404, an exec into a pod
  without a node 400: the authorizer allowed both). Without it: a response code below 400, or
  no response code.
* **Impersonation.** A request made with `Impersonate-*` headers is authorized twice
  (k8s.io/apiserver pkg/endpoints/filters/impersonation.go): first the authenticated user's
  `impersonate` of each thing asked for (`users` or `serviceaccounts` by name, `groups`, `uids`
  in authentication.k8s.io, `userextras/<key>` by value), then the request itself as the
  impersonated user. Both count, each for its own principal: the request for the impersonated
  user (with the impersonated groups), the `impersonate` requests for the impersonator. They
  were allowed whenever the event names an impersonated user: the server records it only after
  every impersonation check passed. The server adds `system:authenticated` (or
  `system:unauthenticated` for `system:anonymous`) and, for a ServiceAccount impersonated without
  groups, its two ServiceAccount groups itself; those are not impersonated groups (a client that
  names exactly these groups cannot be told apart from one that names none, and is read as
  naming none).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from kubefort.audit.event import AuditEvent, AuditEventError
from kubefort.kube.rbac.model import (
    ALL_SERVICE_ACCOUNTS,
    AUTHENTICATED,
    SA_USER_PREFIX,
    UNAUTHENTICATED,
    Identity,
    Request,
    Subject,
    parse_subject,
)

DECISION_ANNOTATION = "authorization.k8s.io/decision"
RESPONSE_STAGES = frozenset({"ResponseStarted", "ResponseComplete", "Panic"})
AUTHENTICATION_GROUP = "authentication.k8s.io"
IN_FLIGHT_MEMORY = 10_000  # requests seen at RequestReceived only, kept until their response
DONE_MEMORY = 100_000  # auditIDs already counted, newest kept


# ------------------------------------------------------------------------------------------------
# one request: allowed or not, and the authorization requests behind it
# ------------------------------------------------------------------------------------------------
def allowed(ev: AuditEvent) -> bool:
    """Whether the authorizer allowed the request (module docstring)."""
    decision = ev.annotations.get(DECISION_ANNOTATION)
    if decision == "allow":
        return True
    if decision == "forbid":
        return False
    return ev.code is None or ev.code < 400


def request_of(ev: AuditEvent) -> Request:
    """The request as the authorizer saw it: the objectRef's attributes (the API server builds
    both from the same RequestInfo), or for a non-resource request the verb (the HTTP method in
    lower case) and the URL's path without its query."""
    if not ev.resource:
        return Request(ev.verb, path=unquote(ev.request_uri.partition("?")[0]) or "/")
    return Request(ev.verb, ev.api_group, ev.resource, ev.subresource, ev.namespace, ev.name)


def _impersonated_extras(raw: dict[str, Any]) -> tuple[str, dict[str, list[str]]]:
    imp = raw.get("impersonatedUser")
    if not isinstance(imp, dict):
        return "", {}
    uid = imp.get("uid")
    if uid is not None and type(uid) is not str:
        raise AuditEventError("impersonatedUser.uid is not a string", "impersonatedUser.uid")
    extra = imp.get("extra")
    if extra is None:
        return uid or "", {}
    if not isinstance(extra, dict) or not all(
        isinstance(v, list) and all(type(x) is str for x in v) for v in extra.values()
    ):
        raise AuditEventError("impersonatedUser.extra is not a map of string lists", "impersonatedUser.extra")
    return uid or "", extra


def impersonation_requests(ev: AuditEvent) -> list[Request]:
    """The `impersonate` requests the authenticated user was allowed for this request (module
    docstring); empty when nobody was impersonated."""
    user = ev.impersonated_user
    if not user:
        return []
    auto: tuple[str, ...] = ()
    if user.startswith(SA_USER_PREFIX) and user.count(":") == 3:
        ns, name = user[len(SA_USER_PREFIX) :].split(":")
        out = [Request("impersonate", "", "serviceaccounts", namespace=ns, name=name)]
        auto = (ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{ns}")
    else:
        out = [Request("impersonate", "", "users", name=user)]
    named = tuple(g for g in ev.impersonated_groups if g not in (AUTHENTICATED, UNAUTHENTICATED))
    if named != auto:
        out += [Request("impersonate", "", "groups", name=g) for g in dict.fromkeys(named)]
    uid, extra = _impersonated_extras(ev.raw)
    if uid:
        out.append(Request("impersonate", AUTHENTICATION_GROUP, "uids", name=uid))
    for key in sorted(extra):
        out += [Request("impersonate", AUTHENTICATION_GROUP, "userextras", key, name=v) for v in extra[key]]
    return out


@dataclass(frozen=True, slots=True)
class Access:
    """One authorization the API server granted: to whom, for what."""

    identity: Identity
    request: Request


def accesses(ev: AuditEvent) -> tuple[list[Access], bool]:
    """(the authorizations one counted request stands for, whether its main request was refused).
    An event without a verb stands for nothing."""
    out: list[Access] = []
    if ev.impersonated_user:
        out += [Access(Identity(ev.user, frozenset(ev.groups)), r) for r in impersonation_requests(ev)]
        who = Identity(ev.impersonated_user, frozenset(ev.impersonated_groups))
    else:
        who = Identity(ev.user, frozenset(ev.groups))
    if not ev.verb:
        return out, False
    if not allowed(ev):
        return out, True
    out.append(Access(who, request_of(ev)))
    return out, False


# ------------------------------------------------------------------------------------------------
# each request once
# ------------------------------------------------------------------------------------------------
class OncePerRequest:
    """Picks the event each request counts at (module docstring), in bounded memory: requests
    in flight (seen at RequestReceived only) and recently counted auditIDs are remembered, the
    oldest forgotten first. Events without an auditID count at their response stages."""

    def __init__(self, in_flight: int = IN_FLIGHT_MEMORY, done: int = DONE_MEMORY) -> None:
        self._pending: OrderedDict[str, AuditEvent] = OrderedDict()
        self._done: OrderedDict[str, None] = OrderedDict()
        self._in_flight = in_flight
        self._done_size = done

    def feed(self, ev: AuditEvent) -> list[AuditEvent]:
        """The events to count now: `ev` at its request's first response stage, a request in
        flight that had to be forgotten, or nothing."""
        aid = ev.audit_id
        if ev.stage == "RequestReceived":
            if not aid or aid in self._done or aid in self._pending:
                return []
            self._pending[aid] = ev
            if len(self._pending) > self._in_flight:
                old_id, old = self._pending.popitem(last=False)
                self._mark(old_id)
                return [old]
            return []
        if ev.stage not in RESPONSE_STAGES:
            return []
        if not aid:
            return [ev]
        if aid in self._done:
            return []
        self._pending.pop(aid, None)
        self._mark(aid)
        return [ev]

    def flush(self) -> list[AuditEvent]:
        """Requests the log ended before any response of (they count without a response code)."""
        out = list(self._pending.values())
        for aid in self._pending:
            self._mark(aid)
        self._pending.clear()
        return out

    def _mark(self, aid: str) -> None:
        self._done[aid] = None
        if len(self._done) > self._done_size:
            self._done.popitem(last=False)


# ------------------------------------------------------------------------------------------------
# the principal of `generate`
# ------------------------------------------------------------------------------------------------
def principal(user: str | None, serviceaccount: str | None, group: str | None) -> Subject:
    """The one principal named by --user, --serviceaccount NS:NAME or --group (ValueError
    otherwise). A user name `system:serviceaccount:NS:NAME` is that ServiceAccount."""
    given = [x for x in (user, serviceaccount, group) if x is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of --user, --serviceaccount and --group")
    if user is not None:
        if not user:
            raise ValueError("--user: empty user name")
        return parse_subject(user) if user.startswith(SA_USER_PREFIX) else Subject("User", user)
    if serviceaccount is not None:
        ns, sep, name = serviceaccount.partition(":")
        if not sep or not ns or not name or ":" in name:
            raise ValueError(f"--serviceaccount {serviceaccount!r}: expected NAMESPACE:NAME")
        return Subject("ServiceAccount", name, ns)
    if not group:
        raise ValueError("--group: empty group name")
    return Subject("Group", group)


def acts_as(subject: Subject, identity: Identity) -> bool:
    """Whether a request of `identity` is one of the subject's: its user (a User or
    ServiceAccount subject) or one of its groups (a Group subject)."""
    key = subject.key
    if key is None:
        return False
    return identity.user == key[1] if key[0] == "User" else key[1] in identity.groups
