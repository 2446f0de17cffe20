"""Shared by the KF-AUDIT checks: what a request did (allowed, dry run, its body), who made it
(and whether that principal is trusted), the wording of messages, and the audit services with
their defaults.

Kubernetes facts used here:

- `authorization.k8s.io/decision` (`allow` / `forbid`) and `authorization.k8s.io/reason` are the
  audit annotations the API server's authorization filter writes (k8s.io/apiserver
  pkg/endpoints/filters/authorization.go), at level Metadata and above.
- A request with `?dryRun=All` is admitted and validated but never persisted
  (k8s.io/apiserver pkg/endpoints/handlers: `dryRun` query parameter).
- The request body (`requestObject`) is recorded from level Request, the response body
  (`responseObject`) only at RequestResponse. For a patch the request body is the patch itself
  (`LogRequestPatch`), so the object as changed is only in the response body
  (k8s.io/apiserver pkg/audit/request.go).
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from kubefort.audit.event import AuditEvent
from kubefort.kube.rbac import Identity
from kubefort.model import NotEvaluated, Outcome

if TYPE_CHECKING:
    from kubefort.audit.context import AuditContext, AuditServices
    from kubefort.audit.rbac_knowledge import RbacKnowledge

# namespaces whose objects run the cluster itself
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"
ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
SA_PREFIX = "system:serviceaccount:"
RBAC_GROUP = "rbac.authorization.k8s.io"
# the per-object checks that say a pod gets host-level privileges: privileged containers, the
# node's PID, IPC and network namespaces, dangerous capabilities, sensitive host paths, an
# unmasked /proc, Windows HostProcess containers (KF-AUDIT-002, KF-AUDIT-003)
POD_FACT_CHECKS = (
    "KF-POD-001",
    "KF-POD-002",
    "KF-POD-003",
    "KF-POD-004",
    "KF-POD-011",
    "KF-POD-014",
    "KF-POD-018",
    "KF-POD-021",
)


# ------------------------------------------------------------------------------------------------
# what the request did
# ------------------------------------------------------------------------------------------------
def allowed(ev: AuditEvent) -> bool:
    """The API server let the request through (2xx, or 101 Switching Protocols for streams);
    a request with no recorded response code is taken as allowed (it was not refused)."""
    return ev.code is None or 100 <= ev.code < 400


def authorized(ev: AuditEvent) -> bool:
    """The authorizer allowed the request: its decision annotation when recorded (a request can
    be authorized and still fail later, with a 404 for example), else `allowed`."""
    decision = ev.annotations.get(DECISION)
    if decision == "allow":
        return True
    if decision == "forbid":
        return False
    return allowed(ev)


def dry_run(ev: AuditEvent) -> bool:
    """`?dryRun=All`: the API server admitted the request without persisting anything."""
    uri = ev.request_uri
    if "dryRun" not in uri:
        return False
    values = parse_qs(urlsplit(uri).query).get("dryRun", ())
    return any(v == "All" for v in values)


def changed(ev: AuditEvent) -> bool:
    """The request was allowed and persisted (not refused, not a dry run)."""
    return allowed(ev) and not dry_run(ev)


def path_of(ev: AuditEvent) -> str:
    """The request's URL path, without the query (what the authorizer matches)."""
    return ev.request_uri.split("?", 1)[0]


def status_message(ev: AuditEvent) -> str:
    """responseStatus.message ("" when absent); NotEvaluated when it is not a string."""
    status = ev.raw.get("responseStatus")
    msg = status.get("message") if isinstance(status, dict) else None
    if msg is None:
        return ""
    if not isinstance(msg, str):
        raise NotEvaluated(f"responseStatus.message is {type(msg).__name__}, expected a string")
    return msg


# ------------------------------------------------------------------------------------------------
# the request's body
# ------------------------------------------------------------------------------------------------
def _object(v: Any) -> dict[str, Any] | None:
    # a refused request's response body is a Status, not the object
    return v if type(v) is dict and v.get("kind") != "Status" else None


def changed_object(ev: AuditEvent) -> dict[str, Any] | None:
    """The object as the request left it: the request body of a create or update (the response
    body when only that was recorded), the response body of a patch (its request body is only
    the patch). None when the policy did not record it."""
    if ev.verb == "patch":
        return _object(ev.raw.get("responseObject"))
    return _object(ev.raw.get("requestObject")) or _object(ev.raw.get("responseObject"))


def unrecorded(ev: AuditEvent) -> NotEvaluated:
    """Why a check that reads the object cannot judge a request whose body was not recorded."""
    what = ev.group_resource + (f"/{ev.subresource}" if ev.subresource else "")
    if ev.verb == "patch":
        return NotEvaluated(
            f"the request is a patch and the audit policy did not record the object it produced: "
            f"record {what} at level RequestResponse to judge patches"
        )
    return NotEvaluated(
        f"the audit policy did not record the request body (level {ev.level or 'unknown'}): "
        f"record {what} at level Request or RequestResponse"
    )


def require_object(ev: AuditEvent) -> dict[str, Any]:
    obj = changed_object(ev)
    if obj is None:
        raise unrecorded(ev)
    return obj


# ------------------------------------------------------------------------------------------------
# who made it
# ------------------------------------------------------------------------------------------------
def identity(ev: AuditEvent) -> Identity:
    """Who the request acted as, for the authorizer: the impersonated identity when there is one."""
    if ev.impersonated_user or ev.impersonated_groups:
        return Identity(ev.impersonated_user, frozenset(ev.impersonated_groups))
    return Identity(ev.user, frozenset(ev.groups))


def actor(ev: AuditEvent) -> str:
    """Who made the request, as messages name them: `alice`, `alice (as bob)`."""
    who = ev.user or "an unnamed user"
    if ev.impersonated_user:
        return f"{who} (as {ev.impersonated_user})"
    return who


def is_system_user(user: str) -> bool:
    """A control-plane identity: a `system:` user (the API server, controller manager, scheduler,
    kubelets `system:node:*`, kube-proxy) or a ServiceAccount of kube-system (the controllers'
    own accounts). `system:anonymous` is not one, nor are ServiceAccounts of other namespaces."""
    if not user.startswith("system:") or user == ANONYMOUS:
        return False
    if user.startswith(SA_PREFIX):
        return user[len(SA_PREFIX) :].split(":", 1)[0] == "kube-system"
    return True


@dataclass(frozen=True, slots=True)
class TrustOptions:
    """Principals whose requests are expected, not findings.

    trusted_users: user names, shell patterns allowed (`ci-bot`, `system:serviceaccount:argocd:*`).
    trusted_groups: groups whose members are trusted (`platform-admins`).
    trust_system: also trust control-plane identities (`system:` users other than
    `system:anonymous`, and kube-system ServiceAccounts)."""

    trusted_users: tuple[str, ...] = ()
    trusted_groups: tuple[str, ...] = ()
    trust_system: bool = True


def trusted_identity(user: str, groups: tuple[str, ...], opts: TrustOptions) -> bool:
    if opts.trust_system and is_system_user(user):
        return True
    if any(fnmatch.fnmatchcase(user, p) for p in opts.trusted_users):
        return True
    return any(g in opts.trusted_groups for g in groups)


def trusted(ev: AuditEvent, opts: TrustOptions) -> bool:
    """The user is trusted and so is the identity it impersonated, if any."""
    if not trusted_identity(ev.user, ev.groups, opts):
        return False
    if ev.impersonated_user or ev.impersonated_groups:
        return trusted_identity(ev.impersonated_user, ev.impersonated_groups, opts)
    return True


# ------------------------------------------------------------------------------------------------
# wording
# ------------------------------------------------------------------------------------------------
def named(ev: AuditEvent) -> str:
    """`ns/name` or `name`; for a request on a collection, `in namespace ns` or `cluster-wide`."""
    if ev.name:
        return f"{ev.namespace}/{ev.name}" if ev.namespace else ev.name
    return f"in namespace {ev.namespace}" if ev.namespace else "cluster-wide"


def system_note(namespace: str) -> str:
    """The higher-stakes wording for the cluster's own namespaces ("" elsewhere)."""
    if namespace not in SYSTEM_NAMESPACES:
        return ""
    return f" (in {namespace}, a system namespace: the cluster's own components run there)"


VERB_WORDS = {
    "create": "created",
    "update": "updated",
    "patch": "patched",
    "delete": "deleted",
    "deletecollection": "deleted every",
}


@functools.cache
def builtin_kinds() -> dict[tuple[str, str], str]:
    from kubefort.kube.rbac.builtin import latest, resource_table

    return {(g, r): kind for g, r, kind, _ns, _s in resource_table(latest())}


def kind_name(ev: AuditEvent) -> str:
    """The kind of the object acted on (`ClusterRoleBinding`), or its resource when not built in."""
    return builtin_kinds().get((ev.api_group, ev.resource), ev.resource)


def did(ev: AuditEvent) -> str:
    return VERB_WORDS.get(ev.verb, ev.verb)


def request_text(ev: AuditEvent) -> str:
    """`get secrets shop/db`, `get /metrics`: the request in a few words."""
    if not ev.resource:
        return f"{ev.verb} {path_of(ev)}"
    what = ev.group_resource + (f"/{ev.subresource}" if ev.subresource else "")
    return f"{ev.verb} {what} {named(ev)}"


# ------------------------------------------------------------------------------------------------
# the audit services, with the defaults when the driver gave none
# ------------------------------------------------------------------------------------------------
@functools.cache
def fallback_services() -> AuditServices:
    """What `kubefort audit` builds without any option: every check of the registry, the newest
    release's built-in RBAC."""
    from kubefort.audit.services import default_services
    from kubefort.registry import REGISTRY

    return default_services(REGISTRY)


def object_outcomes(ctx: AuditContext[Any], obj: dict[str, Any], check_ids: tuple[str, ...]) -> list[Outcome]:
    fn = ctx.services.object_outcomes or fallback_services().object_outcomes
    if fn is None:  # pragma: no cover - default_services always sets it
        raise RuntimeError("no object_outcomes service")
    return fn(obj, check_ids)


def rbac_knowledge(ctx: AuditContext[Any]) -> RbacKnowledge:
    from kubefort.audit.rbac_knowledge import RbacKnowledge

    k = ctx.services.rbac
    if isinstance(k, RbacKnowledge):
        return k
    fb = fallback_services().rbac
    if not isinstance(fb, RbacKnowledge):  # pragma: no cover - default_services always sets it
        raise RuntimeError("no rbac service")
    return fb
