"""RBAC changes: KF-AUDIT-004 bindings to high-risk roles (judged by the RBAC engine,
audit/rbac_knowledge.py), KF-AUDIT-005 RBAC objects changed by untrusted principals, KF-AUDIT-006
permissions granted that the requester does not hold (escalate / bind), or attempts to."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.audit.rbac_knowledge import BindingVerdict, rbac_request
from kubefort.checks.audit.common import (
    ANONYMOUS,
    RBAC_GROUP,
    UNAUTHENTICATED,
    TrustOptions,
    actor,
    changed,
    did,
    identity,
    is_system_user,
    kind_name,
    named,
    rbac_knowledge,
    require_object,
    status_message,
    trusted,
)
from kubefort.kube.rbac import ALL_SERVICE_ACCOUNTS, AUTHENTICATED, MASTERS, Rule, Subject
from kubefort.model import NotApplicable, NotEvaluated, Severity, Violation
from kubefort.registry import Mappings, check

KINDS = {
    "roles": "Role",
    "clusterroles": "ClusterRole",
    "rolebindings": "RoleBinding",
    "clusterrolebindings": "ClusterRoleBinding",
}
RBAC_RESOURCES = frozenset(f"{r}.{RBAC_GROUP}" for r in KINDS)
BINDING_RESOURCES = frozenset({f"rolebindings.{RBAC_GROUP}", f"clusterrolebindings.{RBAC_GROUP}"})
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
# the API server's escalation checks refuse with these (k8s.io/kubernetes pkg/registry/rbac:
# validation.ConfirmNoEscalation, and clusterrole/policybased for an aggregationRule)
ESCALATION_REFUSED = (
    "attempting to grant RBAC permissions not currently held",
    "must have cluster-admin privileges to use the aggregationRule",
)
# what writing a ClusterRole with an aggregationRule takes without `escalate`: it can gather
# anything (clusterrole/policybased/storage.go fullAuthority)
FULL_AUTHORITY = (Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",)))
NO_OBJECTS = (
    "the cluster's RBAC objects were not given: without the requester's permissions only refused attempts are judged"
)
MAX_LISTED = 3


CROWDS = {
    ("User", ANONYMOUS): "anyone, without credentials",
    ("Group", UNAUTHENTICATED): "anyone, without credentials",
    ("Group", AUTHENTICATED): "every authenticated user",
    ("Group", ALL_SERVICE_ACCOUNTS): "every ServiceAccount",
    ("Group", MASTERS): "the cluster's administrators",
}


def subject_text(s: Subject) -> str:
    """A subject, with who it really is when that is a crowd."""
    who = CROWDS.get((s.kind, s.name))
    if who is None and s.kind == "Group" and s.name.startswith(ALL_SERVICE_ACCOUNTS + ":"):
        who = f"every ServiceAccount of namespace {s.name.split(':', 2)[2]}"
    return f"{s} ({who})" if who else str(s)


def verdict_text(v: BindingVerdict) -> str:
    b = v.binding
    if v.admin:
        what = "cluster-admin: every verb on every resource" if b.namespace is None else "every verb on every resource"
    else:
        what = "it can " + ", ".join(v.risks)
    return f"{b.role_key} ({what})"


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-004
# ------------------------------------------------------------------------------------------------
@check(
    id="KF-AUDIT-004",
    name="high-risk-role-bound",
    title="A binding to cluster-admin or another high-risk role was created or changed",
    verified="Request binds no high-risk role to a subject outside the control plane",
    severity=Severity.HIGH,
    target="audit",
    audit=AuditScope(verbs=frozenset({"create", "update", "patch"}), resources=BINDING_RESOURCES),
    mappings=Mappings(mitre=("T1098.006", "T1078"), owasp=("K03",)),
    remediation="Find out who made the binding and why; bind a role with only what the subjects need, and remove bindings of broad groups (system:authenticated, system:unauthenticated) to anything but discovery roles.",
)
def high_risk_role_bound(ev: AuditEvent, ctx: AuditContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags an allowed create, update or patch of a RoleBinding or ClusterRoleBinding whose role
    is high-risk as the RBAC engine judges it (the same notion as the KF-RBAC checks): every verb
    on every resource (cluster-admin), escalate or bind, impersonate, reading Secrets, creating
    pods and pod controllers, exec/attach and port-forward, nodes/proxy, minting ServiceAccount
    tokens, changing admission webhooks, creating PersistentVolumes, changing RBAC, approving
    certificate requests. The role is looked up in the Kubernetes release's default roles and in
    the cluster's RBAC objects when they were given; a binding to a role in neither is not
    evaluated, saying so. Through a RoleBinding, cluster-scoped permissions do not count.

    The message names the role, what it allows, where, and every subject it binds, calling out
    the crowds: `system:anonymous` and `system:unauthenticated` (anyone, without credentials),
    `system:authenticated` (every authenticated user), `system:serviceaccounts[:NS]`. A default
    binding's own subjects are not judged (those the release binds), nor are control-plane
    subjects (`system:` users and groups) bound by the control plane itself.

    The binding is read from the request body of a create or update and from the response body
    of a patch; when the policy did not record it the request is not evaluated, naming the level
    to record. Refused requests and dry runs are passes.

    Falco k8saudit equivalent: *Attach to cluster-admin Role* (cluster-admin only).

    ## Why is this bad?
    A new binding to a powerful role is how access is granted, and how an attacker with RBAC
    write keeps it (MITRE ATT&CK T1098.006 Additional Container Cluster Roles). Bound to
    `system:authenticated` or `system:unauthenticated`, it gives the role to everyone.

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "level": "Request", "verb": "create", "user": {"username": "alice@example.com"},
     "objectRef": {"resource": "clusterrolebindings", "apiGroup": "rbac.authorization.k8s.io",
                   "name": "ci-admin"},
     "responseStatus": {"code": 201},
     "requestObject": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
       "metadata": {"name": "ci-admin"},
       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
       "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": "ci"}]}}
    ```

    ## How to fix
    Confirm the grant with its author. Replace it with a role listing what the subjects need, in
    the namespaces where they need it (`kubefort audit rbac generate` writes one from what a
    principal really did), and delete bindings of broad groups to powerful roles.

    ## References
    - Kubernetes: RBAC good practices (https://kubernetes.io/docs/concepts/security/rbac-good-practices/)
    - MITRE ATT&CK for Containers T1098.006 (https://attack.mitre.org/techniques/T1098/006/)
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    if not changed(ev):
        return
    v = rbac_knowledge(ctx).judge_binding(require_object(ev), ev.namespace or None)
    if not v.risks:
        return
    by_system = is_system_user(ev.user) and not ev.impersonated_user
    subjects = [s for s in v.subjects if not (by_system and s.is_system)]
    if not subjects:
        return
    b = v.binding
    where = "cluster-wide" if b.namespace is None else f"in namespace {b.namespace}"
    yield Violation(
        f"{actor(ev)} {did(ev)} {b.kind} {named(ev)} binding {verdict_text(v)} {where} to "
        + ", ".join(subject_text(s) for s in subjects)
    )


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-005
# ------------------------------------------------------------------------------------------------
@check(
    id="KF-AUDIT-005",
    name="rbac-changed-by-untrusted-user",
    title="A Role, ClusterRole or binding was changed by a principal outside the control plane",
    verified="Request changes no RBAC object, or was made by a trusted principal",
    severity=Severity.MEDIUM,
    target="audit",
    options=TrustOptions,
    audit=AuditScope(verbs=WRITES, resources=RBAC_RESOURCES),
    mappings=Mappings(mitre=("T1098.006",), owasp=("K03",)),
    remediation="Confirm the change with its author; make RBAC changes through reviewed manifests applied by a trusted pipeline, and list that pipeline's identity in `trusted_users`.",
)
def rbac_changed_by_untrusted_user(ev: AuditEvent, ctx: AuditContext[TrustOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every allowed create, update, patch, delete or deletecollection of a Role,
    ClusterRole, RoleBinding or ClusterRoleBinding by a principal that is not trusted. By default
    the trusted ones are the control-plane identities (`system:` users other than
    `system:anonymous`, and ServiceAccounts of kube-system, which run the controllers: the
    aggregation controller rewrites aggregated ClusterRoles all the time). A request made with
    impersonation is trusted only when both the user and the identity it acted as are. The
    message says when the object is a `system:` role or binding. Refused requests and dry runs
    are passes.

    Options (`options: {KF-AUDIT-005: {...}}`): `trusted_users` (names or shell patterns, such as
    the GitOps controller's ServiceAccount), `trusted_groups`, `trust_system` (default true).

    Falco k8saudit equivalents: *K8s Role/ClusterRole Created*, *K8s Role/ClusterRole Deleted*,
    *K8s RoleBinding/ClusterRoleBinding Created/Deleted*, *System ClusterRole Modified/Deleted*.

    ## Why is this bad?
    RBAC decides who can do what; a change outside the reviewed path (a person with kubectl, a
    workload's ServiceAccount) grants or removes access without review, and is how an attacker
    with RBAC write makes their access last (MITRE ATT&CK T1098.006).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "delete", "user": {"username": "bob"},
     "objectRef": {"resource": "rolebindings", "apiGroup": "rbac.authorization.k8s.io",
                   "namespace": "shop", "name": "readers"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Review the change with its author and revert it if it was not intended. Apply RBAC through
    a pipeline and add its identity to `trusted_users`.

    ## References
    - Kubernetes: Using RBAC Authorization (https://kubernetes.io/docs/reference/access-authn-authz/rbac/)
    - MITRE ATT&CK for Containers T1098.006 (https://attack.mitre.org/techniques/T1098/006/)
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    if not changed(ev) or trusted(ev, ctx.options):
        return
    kind = kind_name(ev)
    note = f" (a system {kind})" if ev.name.startswith("system:") else ""
    if ev.verb == "deletecollection":
        yield Violation(f"{actor(ev)} deleted every {kind} {named(ev)}")
    else:
        yield Violation(f"{actor(ev)} {did(ev)} {kind} {named(ev)}{note}")


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-006
# ------------------------------------------------------------------------------------------------
def subrule_text(r: dict[str, list[str]]) -> str:
    """One broken-down rule (one verb, group, resource or URL): `get secrets`, `* *.apps`."""
    verb = r["verbs"][0]
    if r.get("nonResourceURLs"):
        return f"{verb} {r['nonResourceURLs'][0]}"
    group, res = r["apiGroups"][0], r["resources"][0]
    text = f"{verb} {res}" + (f".{group}" if group else "")
    return text + (f" named {r['resourceNames'][0]}" if r.get("resourceNames") else "")


def granted(ctx: AuditContext[None], ev: AuditEvent) -> tuple[list[Rule], str, str, str, str]:
    """(rules granted, where "" = cluster scope, verb that allows it anyway, role resource, role name)."""
    k = rbac_knowledge(ctx)
    obj = require_object(ev)
    ns = ev.namespace or None
    if ev.resource in ("rolebindings", "clusterrolebindings"):
        b = k.read_binding(obj, ns)
        role = k.role(b.role_key)
        if role is None:
            raise NotEvaluated(k.unknown_role(b.role_key))
        resource = "roles" if b.role_kind == "Role" else "clusterroles"
        return role.rules, b.namespace or "", "bind", resource, b.role_name
    rules = k.role_rules(obj, ns)
    if ev.resource == "clusterroles" and obj.get("aggregationRule") is not None:
        rules = [*rules, *FULL_AUTHORITY]
    name = ev.name or str((obj.get("metadata") or {}).get("name") or "")
    return rules, ev.namespace if ev.resource == "roles" else "", "escalate", ev.resource, name


def held_via(ctx: AuditContext[None], ev: AuditEvent, verb: str, resource: str, ns: str, name: str) -> str:
    """How the API server could let the request through: the grant of `verb` (bind, escalate)."""
    grants = rbac_knowledge(ctx).grants(identity(ev), rbac_request(verb, resource, ns, name))
    if grants:
        return f"through `{verb}` ({grants[0].describe()})"
    return (
        f"which the RBAC objects given do not explain (`{verb}` granted elsewhere, another authorizer, "
        "or RBAC changed since the objects were read)"
    )


@check(
    id="KF-AUDIT-006",
    name="rbac-escalate-or-bind",
    title="Someone granted RBAC permissions they do not hold (escalate or bind), or tried to",
    verified="Request grants no RBAC permission beyond the requester's own",
    severity=Severity.HIGH,
    target="audit",
    audit=AuditScope(verbs=frozenset({"create", "update", "patch"}), resources=RBAC_RESOURCES),
    mappings=Mappings(mitre=("T1098.006", "T1078"), owasp=("K03",)),
    remediation="Confirm the grant with its author; remove escalate and bind from roles that do not manage RBAC, or restrict them with resourceNames to the roles they may hand out.",
)
def rbac_escalate_or_bind(ev: AuditEvent, ctx: AuditContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    The `escalate`, `bind` and `impersonate` verbs never appear in an audit log as requests of
    their own: the API server checks them inside other requests. RBAC lets a principal write a
    Role or binding that grants permissions it does not hold itself only through `escalate`
    (roles) or `bind` (bindings), or as a member of `system:masters`; this check finds where
    that happened, or was tried (impersonation is KF-AUDIT-007):

    - a create, update or patch of a Role, ClusterRole, RoleBinding or ClusterRoleBinding that
      the API server refused with one of its escalation checks' errors (`attempting to grant
      RBAC permissions not currently held`, `must have cluster-admin privileges to use the
      aggregationRule`): someone tried to grant more than they hold;
    - an allowed one that grants rules the requester does not hold where they apply (the
      namespace of a Role or RoleBinding, cluster scope otherwise), as the API server's own check
      computes it, from the cluster's RBAC objects (a ClusterRole with an aggregationRule takes
      every permission, as it can gather anything): the message lists those rules and the grant
      of `bind` or `escalate` that let it through, if the objects show one. Members of
      `system:masters` are exempt, as in the API server.

    The role or binding is read from the request body of a create or update and from the
    response body of a patch; when the policy did not record it the request is not evaluated.

    ## Why is this bad?
    `escalate` and `bind` are the way around RBAC's rule that nobody grants what they do not
    hold: a principal with `bind` on `cluster-admin` makes anyone cluster-admin (MITRE ATT&CK
    T1098.006). A refused attempt is a probe of that boundary.

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "create", "user": {"username": "system:serviceaccount:ci:runner"},
     "objectRef": {"resource": "clusterrolebindings", "apiGroup": "rbac.authorization.k8s.io",
                   "name": "runner-admin"},
     "responseStatus": {"code": 403, "reason": "Forbidden",
       "message": "clusterrolebindings.rbac.authorization.k8s.io \\"runner-admin\\" is forbidden: user \\"system:serviceaccount:ci:runner\\" (groups=[...]) is attempting to grant RBAC permissions not currently held: ..."}}
    ```

    ## How to fix
    Confirm the grant (or the attempt) with its author. Remove `escalate` and `bind` from roles
    that do not administer RBAC (`kubefort rbac who-can bind clusterroles`), or restrict them with
    `resourceNames` to the roles a delegated administrator may hand out.

    ## Not applicable when
    - the cluster's RBAC objects were not given: without the requester's permissions only refused attempts are judged

    ## References
    - Kubernetes: Privilege escalation prevention and bootstrapping (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping)
    - MITRE ATT&CK for Containers T1098.006 (https://attack.mitre.org/techniques/T1098/006/)
    """
    kind = kind_name(ev)
    if ev.code == 403:
        msg = status_message(ev)
        if any(m in msg for m in ESCALATION_REFUSED):
            held = msg.split("currently held:", 1)[1].strip() if "currently held:" in msg else ""
            yield Violation(
                f"{actor(ev)} tried to {ev.verb} {kind} {named(ev)} granting RBAC permissions it does not hold; "
                "the API server refused it" + (f": {' '.join(held.split())[:300]}" if held else "")
            )
        return
    if not changed(ev):
        return
    if not rbac_knowledge(ctx).cluster_objects:
        raise NotApplicable(NO_OBJECTS)
    who = identity(ev)
    if MASTERS in who.groups:
        return
    rules, ns, verb, resource, name = granted(ctx, ev)
    missing = rbac_knowledge(ctx).unheld(who, rules, ns)
    if not missing:
        return
    shown = ", ".join(subrule_text(r) for r in missing[:MAX_LISTED])
    more = f" and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
    yield Violation(
        f"{actor(ev)} {did(ev)} {kind} {named(ev)} granting permissions it does not hold "
        f"({shown}{more}) {held_via(ctx, ev, verb, resource, ns, name)}"
    )
