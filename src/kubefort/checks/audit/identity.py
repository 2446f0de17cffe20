"""Who a request really came from: KF-AUDIT-007 requests made with impersonation (or refused
attempts to impersonate), KF-AUDIT-008 unauthenticated requests the API server allowed.

Both look at every request (their scope is every verb and resource, non-resource URLs
included) and return at once for the common case, without building a generator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import (
    ANONYMOUS,
    REASON,
    UNAUTHENTICATED,
    TrustOptions,
    authorized,
    path_of,
    rbac_knowledge,
    request_text,
    status_message,
    trusted_identity,
)
from kubefort.kube.rbac import MASTERS, Request
from kubefort.model import Severity, Violation
from kubefort.registry import Mappings, check

EVERYTHING = AuditScope(nonresource=True)
# the impersonation filter refuses with this (k8s.io/apiserver pkg/endpoints/filters/impersonation.go,
# through responsewriters.Forbidden: `User "alice" cannot impersonate resource "users" ...`)
IMPERSONATION_REFUSED = "cannot impersonate"
NONE: tuple[Violation, ...] = ()


def acted_as(ev: AuditEvent) -> str:
    who = ev.impersonated_user or "(no user)"
    groups = [g for g in ev.impersonated_groups if g != "system:authenticated"]
    text = who + (f" (groups {', '.join(groups)})" if groups else "")
    if MASTERS in ev.impersonated_groups:
        text += ": system:masters bypasses RBAC"
    return text


@check(
    id="KF-AUDIT-007",
    name="impersonated-request",
    title="A request was made with impersonation by a principal that is not allowed to impersonate",
    verified="Request was not made with impersonation, or by a principal allowed to impersonate",
    severity=Severity.MEDIUM,
    target="audit",
    options=TrustOptions,
    audit=EVERYTHING,
    mappings=Mappings(mitre=("T1078",), owasp=("K03",)),
    remediation="Confirm the request with the person behind the impersonating identity; keep impersonate to the proxies that need it, restricted with resourceNames, and list those proxies in `trusted_users`.",
)
def impersonated_request(ev: AuditEvent, ctx: AuditContext[TrustOptions]) -> Sequence[Violation]:
    """
    ## What it does
    Flags every request made with impersonation (`kubectl --as`, `--as-group`, an
    `Impersonate-User` header: the event's `impersonatedUser`) by a user that is not trusted,
    and every request the API server refused because its user may not impersonate the identity
    asked for (a 403 whose message says `cannot impersonate`). The API server checks the
    `impersonate` verb inside the request: no event carries it as its verb. The message names
    the identity acted as, its groups, and calls out `system:masters`.

    Options (`options: {KF-AUDIT-007: {...}}`): `trusted_users` (names or shell patterns: the
    authenticating proxies that impersonate by design, such as a Rancher or Teleport
    ServiceAccount), `trusted_groups`, `trust_system` (default true).

    ## Why is this bad?
    Impersonation acts with another identity's rights: `--as-group system:masters` is
    cluster-admin without a binding, and the audit log records the impersonated identity's
    actions under the impersonator only in this field (MITRE ATT&CK T1078 Valid Accounts).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "list", "user": {"username": "alice@example.com"},
     "impersonatedUser": {"username": "admin", "groups": ["system:masters"]},
     "objectRef": {"resource": "secrets", "namespace": "kube-system"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Find out why the user impersonated. Remove `impersonate` from roles that do not need it
    (`kubefort rbac who-can impersonate users`), restrict it with `resourceNames`, and trust the
    proxies that impersonate by design.

    ## References
    - Kubernetes: User impersonation (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation)
    - MITRE ATT&CK for Containers T1078 (https://attack.mitre.org/techniques/T1078/)
    """
    if ev.impersonated_user or ev.impersonated_groups:
        if trusted_identity(ev.user, ev.groups, ctx.options):
            return NONE
        who = ev.user or "an unnamed user"
        return (Violation(f"{who} acted as {acted_as(ev)}: {request_text(ev)}"),)
    if ev.code == 403 and IMPERSONATION_REFUSED in status_message(ev):
        if trusted_identity(ev.user, ev.groups, ctx.options):
            return NONE
        reason = " ".join(status_message(ev).split())[:300]
        return (Violation(f"{ev.user or 'an unnamed user'} tried to impersonate and was refused: {reason}"),)
    return NONE


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-008
# ------------------------------------------------------------------------------------------------
# kubeadm lets `kubeadm join` read the cluster-info ConfigMap anonymously (its Role
# kubeadm:bootstrap-signer-clusterinfo grants `get` on it to system:anonymous)
KUBEADM_CLUSTER_INFO = "configmaps:kube-public/cluster-info"


@dataclass(frozen=True, slots=True)
class AnonymousOptions:
    """allowed_paths: more URL paths unauthenticated callers may reach, as RBAC writes
    nonResourceURLs (`/openid/v1/jwks`, a prefix ending in `*`: `/.well-known/*`).
    allowed_objects: objects unauthenticated callers may `get`, as `resource[.group]:namespace/name`
    (`:name` for a cluster-scoped one); by default kubeadm's public cluster-info ConfigMap."""

    allowed_paths: tuple[str, ...] = ()
    allowed_objects: tuple[str, ...] = (KUBEADM_CLUSTER_INFO,)


def object_key(ev: AuditEvent) -> str:
    """`resource[.group]:namespace/name` of the object a request names."""
    return f"{ev.group_resource}:{ev.namespace}/{ev.name}" if ev.namespace else f"{ev.group_resource}:{ev.name}"


def request_of(ev: AuditEvent) -> Request:
    """The request as the authorizer sees it."""
    if not ev.resource:
        return Request(ev.verb, path=path_of(ev))
    return Request(ev.verb, ev.api_group, ev.resource, ev.subresource, ev.namespace, ev.name)


def url_allowed(patterns: tuple[str, ...], path: str) -> bool:
    """RBAC's nonResourceURLs match: `*`, the exact path, or a prefix ending in `*`."""
    return any(p in ("*", path) or (p.endswith("*") and path.startswith(p[:-1])) for p in patterns)


@check(
    id="KF-AUDIT-008",
    name="anonymous-request-allowed",
    title="The API server allowed an unauthenticated request beyond its public endpoints",
    verified="Request was authenticated, refused, or to an endpoint public by default",
    severity=Severity.HIGH,
    target="audit",
    options=AnonymousOptions,
    audit=EVERYTHING,
    mappings=Mappings(cis=("1.2.1",), mitre=("T1078.001", "T1133"), owasp=("K06",)),
    remediation="Remove the bindings that grant to system:anonymous or system:unauthenticated (the authorization reason in the finding names them), and set --anonymous-auth=false or restrict anonymous authentication to the health endpoints.",
)
def anonymous_request_allowed(ev: AuditEvent, ctx: AuditContext[AnonymousOptions]) -> Sequence[Violation]:
    """
    ## What it does
    Flags every request made as `system:anonymous` or by a member of `system:unauthenticated`
    that the authorizer allowed (its `authorization.k8s.io/decision` annotation is `allow`; when
    the annotation was not recorded, a response code below 400), except what the Kubernetes
    release's default policy lets unauthenticated callers do: the `system:public-info-viewer`
    ClusterRole, bound to `system:unauthenticated`, allows `get` of `/healthz`, `/livez`,
    `/readyz`, `/version` and `/version/` (exact paths: `/healthz/etcd` is not public). Those
    defaults are read from the release's bootstrap policy, never from the cluster's own bindings
    (which are what an allowed anonymous request usually reveals). The message gives the request
    and the authorizer's reason (the binding that allowed it).

    Options (`options: {KF-AUDIT-008: {...}}`): `allowed_paths`, more paths that are public on
    purpose (`/.well-known/openid-configuration`, `/openid/v1/jwks` for OIDC discovery),
    written as RBAC nonResourceURLs; `allowed_objects`, objects anyone may `get`, written
    `resource[.group]:namespace/name` (by default `configmaps:kube-public/cluster-info`, which
    kubeadm makes public for `kubeadm join`).

    Falco k8saudit equivalent: *Anonymous Request Allowed*.

    ## Why is this bad?
    Anonymous access means no credential at all: anything it allows, everyone who can reach the
    API server can do, from the internet for a public endpoint (MITRE ATT&CK T1078.001 Default
    Accounts, T1133 External Remote Services).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "list", "user": {"username": "system:anonymous", "groups": ["system:unauthenticated"]},
     "requestURI": "/api/v1/secrets", "objectRef": {"resource": "secrets"},
     "annotations": {"authorization.k8s.io/decision": "allow",
       "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding \\"oops\\" of ClusterRole \\"view\\" to Group \\"system:unauthenticated\\""},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Delete or fix the binding the reason names (`kubefort rbac who-can list secrets` shows every
    grant to `system:unauthenticated`), and consider `--anonymous-auth=false` or an
    AuthenticationConfiguration that allows anonymous requests to the health endpoints only.

    ## References
    - Kubernetes: Anonymous requests (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests)
    - CIS Kubernetes Benchmark 1.2.1
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    # the common case first, inline (this runs for every request): an authenticated caller
    if ev.impersonated_user or ev.impersonated_groups:
        if ev.impersonated_user != ANONYMOUS and UNAUTHENTICATED not in ev.impersonated_groups:
            return NONE
    elif ev.user != ANONYMOUS and UNAUTHENTICATED not in ev.groups:
        return NONE
    if not authorized(ev):
        return NONE
    req = request_of(ev)
    if rbac_knowledge(ctx).public(req):
        return NONE
    if req.path is not None and url_allowed(ctx.options.allowed_paths, req.path):
        return NONE
    if ev.verb == "get" and not ev.subresource and object_key(ev) in ctx.options.allowed_objects:
        return NONE
    reason = ev.annotations.get(REASON)
    why = f" ({reason})" if isinstance(reason, str) and reason else ""
    return (Violation(f"an unauthenticated request was allowed: {request_text(ev)}{why}"),)
