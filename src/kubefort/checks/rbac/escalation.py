"""RBAC privilege escalation: KF-RBAC-003 escalate/bind, 004 impersonate, 015 writing RBAC objects
and 020 escalation paths to cluster-admin (kube/rbac_paths.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.checks.rbac.common import (
    BINDINGS,
    ESCALATE_BIND,
    IMPERSONATE,
    NEEDS,
    NSA,
    RBAC_WRITE,
    RbacOptions,
    permission_violation,
    resolve,
)
from kubefort.kube.rbac import Policy
from kubefort.model import CheckContext, ClusterIndex, Resource, Severity, Violation
from kubefort.registry import Mappings, check
from kubefort.wording import plural


@check(
    id="KF-RBAC-003",
    name="rbac-escalate-bind",
    title="Binding grants escalate or bind on roles",
    verified="Binding grants neither escalate nor bind on roles",
    severity=Severity.CRITICAL,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.8",),
        nsa=NSA,
        mitre=("T1098",),
        owasp=("K03",),
        trivy=("KSV-0050", "KSV-0051", "KSV-0052"),
        checkov=("CKV_K8S_157", "CKV_K8S_158", "CKV2_K8S_1"),
        kubescape=("C-0191",),
    ),
    remediation="Remove the escalate and bind verbs; let administrators create roles and bindings.",
)
def rbac_escalate_bind(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting `escalate` on roles or clusterroles, or `bind` on them. `bind` on
    clusterroles counts through a RoleBinding too (the API server checks it in the namespace of
    the binding being created); `escalate` on clusterroles only through a ClusterRoleBinding.

    ## Why is this bad?
    RBAC stops anyone from granting permissions they do not hold, unless they hold `escalate`
    (write roles with any rule) or `bind` (bind any role, cluster-admin included).

    ## Example
    ```yaml
    rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}]
    ```

    ## How to fix
    Remove the verbs; if a controller must bind one role, restrict `bind` with `resourceNames`.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
    - CIS Kubernetes Benchmark 5.1.8
    """
    return permission_violation(res, index, (ESCALATE_BIND,), "escalate or bind roles", ctx.options)


@check(
    id="KF-RBAC-004",
    name="rbac-impersonate",
    title="Binding grants impersonation of users, groups or ServiceAccounts",
    verified="Binding grants no impersonation",
    severity=Severity.CRITICAL,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.8",),
        nsa=NSA,
        mitre=("T1078",),
        owasp=("K03",),
        trivy=("KSV-0043",),
        checkov=("CKV2_K8S_3",),
        kubescape=("C-0065", "C-0191"),
    ),
    remediation="Remove the impersonate verb, or restrict it with resourceNames to the identities needed.",
)
def rbac_impersonate(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting `impersonate` on users, groups or uids (cluster-wide), or on
    ServiceAccounts (in the binding's scope).

    ## Why is this bad?
    With `Impersonate-Group: system:masters` or `Impersonate-User` of an administrator, the
    subject acts with their rights: impersonating groups without resourceNames is cluster-admin.

    ## Example
    ```yaml
    rules: [{apiGroups: [""], resources: [users, groups], verbs: [impersonate]}]
    ```

    ## How to fix
    Remove it, or list the exact identities in `resourceNames`.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation
    - CIS Kubernetes Benchmark 5.1.8
    """
    return permission_violation(res, index, (IMPERSONATE,), "impersonate other identities", ctx.options)


@check(
    id="KF-RBAC-015",
    name="rbac-write-access",
    title="Binding grants writing roles or bindings",
    verified="Binding grants no writing of roles or bindings",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1098",), owasp=("K03",)),
    remediation="Keep RBAC changes to administrators and GitOps; remove write verbs on RBAC resources from other roles.",
)
def rbac_write_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting create, update, patch, delete or deletecollection on Roles,
    RoleBindings (in scope) or ClusterRoles, ClusterRoleBindings (cluster-wide).

    ## Why is this bad?
    Without `escalate`/`bind` the subject can only hand out rights it already holds, but it can
    spread them to any identity, remove others' access and, with either verb, grant anything
    (KF-RBAC-003).

    ## Example
    ```yaml
    rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create]}]
    ```

    ## How to fix
    Manage RBAC through reviewed changes applied by an administrator or a GitOps controller.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
    """
    return permission_violation(res, index, (RBAC_WRITE,), "change RBAC objects", ctx.options)


def paths_by_subject(pol: Policy) -> dict[Any, Any]:
    """Shortest escalation path of every subject of the scanned bindings (computed once per scan)."""
    from kubefort.kube.rbac_paths import find_paths

    found = pol.cache.get("paths")
    if found is None:
        found = pol.cache["paths"] = {p.subject: p for p in find_paths(pol)}
    return found


def path_text(p: Any) -> str:
    steps = []
    for h in p.hops:
        via = "; ".join(f"{g.binding.key} -> {g.rule.where()}" for g in h.via)
        steps.append(f"{h.action} [{h.technique}{', ' + via if via else ''}] => {h.dst}")
    return " => ".join(steps)


@check(
    id="KF-RBAC-020",
    name="escalation-path-to-cluster-admin",
    title="Subject can escalate to cluster-admin",
    verified="No subject of the binding can escalate to cluster-admin",
    severity=Severity.CRITICAL,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS + ("ServiceAccount", "Secret", "Namespace", "@pods"),
    mappings=Mappings(
        nsa=NSA, mitre=("T1078", "T1098", "T1528", "T1552.007", "T1609", "T1610", "T1611", "T1649"), owasp=("K03",)
    ),
    remediation="Break the path at its first hop: remove that permission or the binding that grants it (see `kubefort rbac paths`).",
)
def escalation_path_to_cluster_admin(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Builds the privilege graph of the scanned objects (see `kubefort rbac paths` and
    docs/rbac.md): create a pod as another ServiceAccount, exec into pods with mounted tokens,
    mint or steal tokens, impersonate, bind or escalate roles, nodes/proxy, hostPath volumes,
    CSR approval. Fails for a binding when one of its subjects, not cluster-admin itself, reaches
    cluster-admin and the first hop of its shortest path is granted by this binding; the message
    gives the path hop by hop with the MITRE ATT&CK technique and the rule of each hop.

    ## Why is this bad?
    Each grant may look harmless alone: "create deployments in ci" is ordinary, until a
    ServiceAccount of `ci` can bind cluster-admin. Attackers chain such steps; so does this check.

    ## Example
    ```yaml
    kind: RoleBinding            # alice may create deployments in ci ...
    metadata: {name: alice-deploys, namespace: ci}
    roleRef: {kind: Role, name: deployer}
    ---
    kind: ClusterRoleBinding     # ... and ci's builder account may bind any ClusterRole
    roleRef: {kind: ClusterRole, name: binder}
    subjects: [{kind: ServiceAccount, name: builder, namespace: ci}]
    ```

    ## How to fix
    Remove the weakest link, usually the hop into a powerful ServiceAccount: keep powerful
    accounts in namespaces nobody else deploys to, and avoid bind/escalate/impersonate grants.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#privilege-escalation-risks
    - https://attack.mitre.org/matrices/enterprise/containers/
    """
    pol, b, role = resolve(res, index, ctx.options)
    paths = paths_by_subject(pol)
    for i, s in enumerate(b.subjects):
        if s in b.default_subjects and not role.changed:
            continue  # the release's own grant to its own subject
        p = paths.get(s)
        if p is not None and any(g.binding is b for g in p.hops[0].via):
            yield Violation(
                f"{s} can become cluster-admin in {plural(len(p.hops), 'hop')}: {path_text(p)}", ("subjects", i)
            )
