"""Who a binding names: KF-RBAC-016 unauthenticated callers, 017 every authenticated identity,
018 default ServiceAccounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.checks.rbac.common import BINDINGS, DEFAULT, NEEDS, NSA, REPLACED, RbacOptions, policy_for, scope_text
from kubefort.kube.rbac import ALL_SERVICE_ACCOUNTS, ANONYMOUS, AUTHENTICATED, UNAUTHENTICATED
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check


def _subject_violations(
    res: Resource, index: ClusterIndex, options: RbacOptions, pick: Any, what: str
) -> Iterator[Violation]:
    """The picked subjects of a binding, whatever its role (even one not in the scan). Of a
    default binding: the subjects the release's default does not bind, and its default ones only
    when the role grants more than the release's defaults; an unchanged default is out of scope."""
    pol = policy_for(index, options)
    prob = pol.problem(res)
    if prob is not None:
        raise prob
    b = pol.binding(res)
    if b is None:  # a later object of the same name replaced this one
        raise NotApplicable(REPLACED)
    role = pol.role_of(b)
    judged = set(b.extra_subjects())
    if role is not None and role.changed:
        judged |= set(b.subjects)
    if b.default and not judged:
        raise NotApplicable(DEFAULT)
    shown = b.role_key + ("" if role is not None else " (not in the scan)")
    for i, s in enumerate(b.subjects):
        if pick(s) and s in judged:
            yield Violation(f"binds {shown} {scope_text(b)} to {what} {s}", ("subjects", i))


@check(
    id="KF-RBAC-016",
    name="anonymous-user-binding",
    title="Binding grants permissions to unauthenticated callers",
    verified="Binding grants nothing to unauthenticated callers",
    severity=Severity.CRITICAL,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1078.001",), owasp=("K03", "K06"), trivy=("KSV-0122",), kubescape=("C-0262",)),
    remediation="Remove system:anonymous and system:unauthenticated from the binding's subjects.",
)
def anonymous_user_binding(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings whose subjects include the user `system:anonymous` or the group
    `system:unauthenticated`, whatever the role.

    ## Why is this bad?
    Anyone who reaches the API server, with no credentials at all, gets the role.

    ## Example
    ```yaml
    subjects: [{kind: Group, name: "system:unauthenticated"}]
    ```

    ## How to fix
    Bind named users, groups or ServiceAccounts; serve public health data through the default
    `system:public-info-viewer`.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests
    """
    return _subject_violations(
        res,
        index,
        ctx.options,
        lambda s: (s.kind, s.name) in (("User", ANONYMOUS), ("Group", UNAUTHENTICATED)),
        "unauthenticated",
    )


@check(
    id="KF-RBAC-017",
    name="system-authenticated-binding",
    title="Binding grants permissions to every authenticated identity",
    verified="Binding grants nothing to every authenticated identity",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1078",), owasp=("K03",), trivy=("KSV-01011",), kubescape=("C-0265",)),
    remediation="Bind the groups that need the role instead of system:authenticated or system:serviceaccounts.",
)
def system_authenticated_binding(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings whose subjects include the group `system:authenticated` (every user and
    ServiceAccount) or `system:serviceaccounts` (every ServiceAccount of the cluster).

    ## Why is this bad?
    Every pod's token and every user of every identity provider gets the role: one compromised
    workload anywhere holds it. On managed clusters "authenticated" can include any account of
    the cloud provider.

    ## Example
    ```yaml
    subjects: [{kind: Group, name: "system:authenticated"}]
    ```

    ## How to fix
    Bind the teams' groups or the ServiceAccounts that need the role.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings
    """
    return _subject_violations(
        res,
        index,
        ctx.options,
        lambda s: s.kind == "Group" and s.name in (AUTHENTICATED, ALL_SERVICE_ACCOUNTS),
        "every identity of",
    )


@check(
    id="KF-RBAC-018",
    name="default-service-account-binding",
    title="Binding grants permissions to a default ServiceAccount",
    verified="Binding grants nothing to a default ServiceAccount",
    severity=Severity.MEDIUM,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.5",),
        nsa=NSA,
        mitre=("T1078", "T1528"),
        owasp=("K03",),
        checkov=("CKV_K8S_42",),
        kubescape=("C-0189",),
    ),
    remediation="Create a dedicated ServiceAccount for the workload and bind that instead.",
)
def default_service_account_binding(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings whose subjects include a namespace's `default` ServiceAccount.

    ## Why is this bad?
    Every pod that names no ServiceAccount runs as `default`, so every such pod of the namespace,
    now and in future, gets the role.

    ## Example
    ```yaml
    subjects: [{kind: ServiceAccount, name: default, namespace: shop}]
    ```

    ## How to fix
    ```yaml
    subjects: [{kind: ServiceAccount, name: shop-api, namespace: shop}]
    ```

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts
    - CIS Kubernetes Benchmark 5.1.5
    """
    return _subject_violations(
        res, index, ctx.options, lambda s: s.kind == "ServiceAccount" and s.name == "default" and s.namespace, "the"
    )
