"""Reading or minting credentials: KF-RBAC-005 and 006 reading Secrets, 012 approving certificate
signing requests."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.rbac.common import (
    BINDINGS,
    CSR_APPROVAL,
    CSR_SIGNER,
    NEEDS,
    NSA,
    OTHER_BINDING_KIND,
    SECRETS_READ,
    RbacOptions,
    grants_text,
    judged,
    permission_violation,
    resolve,
    subjects_text,
)
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check


def _secrets(res: Resource, index: ClusterIndex, cluster: bool, options: RbacOptions) -> Iterator[Violation]:
    if (res.id.kind == "ClusterRoleBinding") != cluster:
        raise NotApplicable(OTHER_BINDING_KIND)
    return permission_violation(res, index, (SECRETS_READ,), "read every Secret", options)


@check(
    id="KF-RBAC-005",
    name="secrets-read-cluster-wide",
    title="ClusterRoleBinding grants read of Secrets in every namespace",
    verified="ClusterRoleBinding grants no read of Secrets across namespaces",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.2",),
        nsa=NSA,
        mitre=("T1552.007", "T1528"),
        owasp=("K03",),
        trivy=("KSV-0041",),
        checkov=("CKV2_K8S_5",),
        kubescape=("C-0015", "C-0186"),
        kube_linter=("access-to-secrets",),
    ),
    remediation="Grant Secret access per namespace, restricted with resourceNames to the Secrets needed.",
)
def secrets_read_cluster_wide(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags ClusterRoleBindings granting get, list or watch on Secrets without resourceNames.
    RoleBindings are KF-RBAC-006's.

    ## Why is this bad?
    Secrets hold passwords, keys and (legacy) ServiceAccount tokens of every namespace; `list`
    and `watch` return their contents. Reading them is reading everyone's credentials.

    ## Example
    ```yaml
    rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list, watch]}]
    ```

    ## How to fix
    Bind per namespace and name the Secrets: `resourceNames: [app-db]`, verb `get` only.

    ## Not applicable when
    - a binding of the other kind (the RoleBinding and ClusterRoleBinding checks are separate);
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#listing-secrets
    - CIS Kubernetes Benchmark 5.1.2
    """
    return _secrets(res, index, True, ctx.options)


@check(
    id="KF-RBAC-006",
    name="secrets-read-namespaced",
    title="RoleBinding grants read of every Secret in a namespace",
    verified="RoleBinding grants no read of every Secret in its namespace",
    severity=Severity.MEDIUM,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.2",),
        nsa=NSA,
        mitre=("T1552.007", "T1528"),
        owasp=("K03",),
        trivy=("KSV-0113",),
        checkov=("CKV2_K8S_5",),
        kubescape=("C-0015", "C-0186"),
        kube_linter=("access-to-secrets",),
    ),
    remediation="Restrict the rule with resourceNames to the Secrets needed, verb get only.",
)
def secrets_read_namespaced(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags RoleBindings granting get, list or watch on Secrets of their namespace without
    resourceNames (a RoleBinding to a ClusterRole grants it in the binding's namespace only).

    ## Why is this bad?
    Every credential of the namespace is readable, including legacy ServiceAccount tokens, which
    lets the subject act as those ServiceAccounts.

    ## Example
    ```yaml
    kind: RoleBinding
    roleRef: {kind: ClusterRole, name: edit}   # edit reads Secrets
    ```

    ## How to fix
    `resourceNames: [app-db]` with verb `get`; use `view` rather than `edit` for read-only people.

    ## Not applicable when
    - a binding of the other kind (the RoleBinding and ClusterRoleBinding checks are separate);
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#listing-secrets
    - CIS Kubernetes Benchmark 5.1.2
    """
    return _secrets(res, index, False, ctx.options)


@check(
    id="KF-RBAC-012",
    name="csr-approval-access",
    title="ClusterRoleBinding grants approval of certificate signing requests",
    verified="ClusterRoleBinding grants no approval of certificate signing requests",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.11",), nsa=NSA, mitre=("T1649",), owasp=("K03",), checkov=("CKV_K8S_156",), kubescape=("C-0280",)
    ),
    remediation="Leave CSR approval to the controller manager and dedicated approvers with signer resourceNames.",
)
def csr_approval_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags ClusterRoleBindings granting both update (or patch) on
    `certificatesigningrequests/approval` and `approve` on `signers`: the two permissions the API
    server requires to approve a CSR.

    ## Why is this bad?
    Approving a CSR for the `kubernetes.io/kube-apiserver-client` signer issues a client
    certificate for any user and group, `system:masters` included, valid until it expires and
    impossible to revoke.

    ## Example
    ```yaml
    rules:
    - {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}
    - {apiGroups: [certificates.k8s.io], resources: [signers], verbs: [approve]}
    ```

    ## How to fix
    Remove the rules, or name the one signer that approver serves in `resourceNames`.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/#authorization
    - CIS Kubernetes Benchmark 5.1.11
    """
    pol, b, _ = resolve(res, index, ctx.options)
    grants = pol.grants_of(b)
    memo = pol.cache.setdefault("risk-match", {})
    approval = [g for g in grants if CSR_APPROVAL.match(g, memo)]
    signers = [g for g in grants if CSR_SIGNER.match(g, memo)]
    if not (approval and signers):
        return
    for subjects, judged_grants in judged(b, approval + signers):
        yield Violation(
            f"{subjects_text(subjects)} can approve certificate signing requests: {grants_text(judged_grants)}",
            ("roleRef", "name"),
        )
