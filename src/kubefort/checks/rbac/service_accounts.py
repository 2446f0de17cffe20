"""ServiceAccount tokens: KF-RBAC-011 minting them (TokenRequest), 019 workloads mounting the token
of a ServiceAccount holding risky permissions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.checks.rbac.common import (
    BINDINGS,
    MAX_LISTED,
    NEEDS,
    NSA,
    SA_TOKEN,
    RbacOptions,
    permission_violation,
    policy_for,
    risky,
    scope_text,
)
from kubefort.kube.rbac import identity_of
from kubefort.model import CheckContext, ClusterIndex, Resource, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-RBAC-011",
    name="serviceaccount-token-create-access",
    title="Binding grants serviceaccounts/token create",
    verified="Binding grants no serviceaccounts/token create",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(cis=("5.1.13",), nsa=NSA, mitre=("T1528",), owasp=("K03",), kubescape=("C-0282",)),
    remediation="Remove serviceaccounts/token create, or restrict it with resourceNames.",
)
def serviceaccount_token_create_access(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting `create` on `serviceaccounts/token` (the TokenRequest API).

    ## Why is this bad?
    The subject mints tokens for any ServiceAccount in scope and acts as it, including the
    most privileged controllers' accounts of kube-system when granted cluster-wide.

    ## Example
    ```yaml
    rules: [{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}]
    ```

    ## How to fix
    Remove it, or name the single ServiceAccount in `resourceNames`.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#token-request
    - CIS Kubernetes Benchmark 5.1.13
    """
    return permission_violation(res, index, (SA_TOKEN,), "mint ServiceAccount tokens", ctx.options)


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        if not isinstance(obj, dict if isinstance(k, str) else list):
            return None
        obj = obj.get(k) if isinstance(obj, dict) else (obj[k] if k < len(obj) else None)
    return obj


@check(
    id="KF-RBAC-019",
    name="workload-with-privileged-rbac",
    title="Workload mounts the token of a ServiceAccount holding risky permissions",
    verified="Workload mounts no token of a ServiceAccount holding risky permissions",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=("@pods",),
    needs=NEEDS + ("ServiceAccount",),
    mappings=Mappings(
        nsa=NSA, mitre=("T1528", "T1552.007"), owasp=("K03", "K01"), kubescape=("C-0272", "C-0267", "C-0053")
    ),
    remediation="Set automountServiceAccountToken: false where the app does not call the API; otherwise trim the ServiceAccount's roles.",
)
def workload_with_privileged_rbac(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    For every pod-bearing object, resolves the ServiceAccount each pod runs as, whether its token
    is mounted (`automountServiceAccountToken` on the pod, else on the ServiceAccount, default
    true; a projected `serviceAccountToken` volume always mounts one) and everything that account
    holds through any binding (groups and bootstrap roles included). Fails when a mounted token
    holds any permission KF-RBAC-001 and 003 to 015 report.

    ## Why is this bad?
    Whoever compromises the application reads the token from
    `/var/run/secrets/kubernetes.io/serviceaccount` and uses its rights from anywhere.

    ## Example
    ```yaml
    kind: Deployment
    spec: {template: {spec: {serviceAccountName: deployer, containers: [...]}}}
    # deployer is bound to a role that creates pods
    ```

    ## How to fix
    ```yaml
    spec: {template: {spec: {serviceAccountName: deployer, automountServiceAccountToken: false}}}
    ```
    or move the rights to a ServiceAccount no long-running workload uses.

    ## Not evaluated when
    A field of a pod spec has a type the API server rejects (a list for `serviceAccountName`, a
    string for `automountServiceAccountToken` ...), or so does the `automountServiceAccountToken`
    of the ServiceAccount a pod runs as.

    ## References
    - https://kubernetes.io/docs/concepts/security/service-accounts/
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
    """
    pol = policy_for(index, ctx.options)
    prob = pol.workload_problem(res)  # a pod spec (or ServiceAccount) the API server rejects: not evaluated
    if prob is not None:
        raise prob
    for w in pol.workloads_of(res):
        if not w.token_mounted:
            continue
        key = ("risky", w.namespace, w.service_account)
        hits = pol.cache.get(key)
        if hits is None:
            hits = pol.cache[key] = risky(
                pol.grants_for(identity_of(w.subject)), pol.cache.setdefault("risk-match", {})
            )
        if hits:
            shown = "; ".join(f"{what} {scope_text(g.binding)} ({g.describe()})" for what, g in hits[:MAX_LISTED])
            more = f"; and {len(hits) - MAX_LISTED} more" if len(hits) > MAX_LISTED else ""
            path = (
                w.path + ("serviceAccountName",)
                if isinstance(_at(w.resource.obj, w.path + ("serviceAccountName",)), str)
                else w.path
            )
            yield Violation(f"runs as {w.subject} with its token mounted; the account can {shown}{more}", path)
