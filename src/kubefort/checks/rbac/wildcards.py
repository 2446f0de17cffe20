"""KF-RBAC-001 cluster-admin (or */*/*) bindings and KF-RBAC-002 wildcard rules."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.rbac.common import (
    BINDINGS,
    NEEDS,
    NSA,
    ROLE_OUT_OF_SCOPE,
    ROLES,
    RbacOptions,
    grants_text,
    is_full_wildcard,
    judged,
    policy_for,
    resolve,
    scope_text,
    subjects_text,
)
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-RBAC-001",
    name="cluster-admin-binding",
    title="Binding grants cluster-admin (or */*/*) to a non-system subject",
    verified="Binding grants cluster-admin (or */*/*) to no subject outside the system",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.1",),
        nsa=NSA,
        mitre=("T1078", "T1098"),
        owasp=("K03",),
        trivy=("KSV-0111",),
        kubescape=("C-0035", "C-0185"),
        kube_linter=("cluster-admin-role-binding",),
        polaris=("clusterrolebindingClusterAdmin", "rolebindingClusterAdminClusterRole"),
    ),
    remediation="Bind a role with only the verbs and resources the subject needs, scoped to its namespaces.",
)
def cluster_admin_binding(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags a RoleBinding or ClusterRoleBinding whose role grants every verb on every resource of
    every API group (`*` in verbs, apiGroups and resources without resourceNames, as `cluster-admin`
    does) to a subject that is not a control-plane identity (`system:` users and groups other than
    the broad groups). Through a RoleBinding this is full control of one namespace.

    ## Why is this bad?
    Whoever holds the credentials of that subject owns the cluster (or the namespace): every
    Secret, every workload, every RBAC object. It is the first thing an attacker looks for.

    ## Example
    ```yaml
    kind: ClusterRoleBinding
    roleRef: {kind: ClusterRole, name: cluster-admin}
    subjects: [{kind: ServiceAccount, name: ci, namespace: build}]
    ```

    ## How to fix
    Bind a role listing what the subject needs, in the namespaces where it needs it; keep
    cluster-admin for break-glass access through `system:masters` credentials kept offline.

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
    - CIS Kubernetes Benchmark 5.1.1
    """
    pol, b, _ = resolve(res, index, ctx.options)
    hits = [g for g in pol.grants_of(b) if is_full_wildcard(g)]
    what = "do anything (cluster-admin)" if b.namespace is None else "do anything"
    for subjects, grants in judged(b, hits):
        people = [s for s in subjects if not s.is_system]
        if people:
            yield Violation(
                f"{subjects_text(people)} can {what} {scope_text(b)}: {grants_text(grants)}", ("roleRef", "name")
            )


@check(
    id="KF-RBAC-002",
    name="wildcard-rbac-rule",
    title="Role uses a wildcard in verbs, resources or apiGroups",
    verified="Role names verbs, resources and apiGroups without wildcards",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=ROLES,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.3",),
        nsa=NSA,
        mitre=("T1078",),
        owasp=("K03",),
        trivy=("KSV-0044", "KSV-0045", "KSV-0046", "KSV-0112"),
        checkov=("CKV_K8S_49",),
        kubescape=("C-0187",),
        kube_linter=("wildcard-in-rules",),
        polaris=("rolebindingClusterAdminRole",),
    ),
    remediation="List the exact verbs, resources and API groups the role needs.",
)
def wildcard_rbac_rule(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags a Role or ClusterRole with a rule whose verbs, resources or apiGroups contain `*`
    (resources `*/subresource` included). An aggregated ClusterRole is judged on the rules it
    aggregates, each named with the role it comes from.

    ## Why is this bad?
    A wildcard grants everything that exists now and everything added later: new subresources,
    new verbs such as `escalate`, and every CRD installed afterwards.

    ## Example
    ```yaml
    kind: Role
    rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
    ```

    ## How to fix
    ```yaml
    rules: [{apiGroups: [apps], resources: [deployments], verbs: [get, list, patch]}]
    ```

    ## Not applicable when
    - a later object of the same name replaces this role, or it is the release's default role, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#minimize-use-of-wildcard-permissions
    - CIS Kubernetes Benchmark 5.1.3
    """
    pol = policy_for(index, ctx.options)
    prob = pol.problem(res)
    if prob is not None:
        raise prob
    key = f"Role/{pol.ns(res)}/{res.id.name}" if res.id.kind == "Role" else f"ClusterRole/{res.id.name}"
    role = pol.roles.get(key)
    if role is None or role.resource is not res or not role.changed:
        raise NotApplicable(ROLE_OUT_OF_SCOPE)
    for r in role.rules:
        if r.default:  # the release's own rule (the role has a default's name)
            continue
        fields = [
            (f, v)
            for f, vals in (("verbs", r.verbs), ("resources", r.resources), ("apiGroups", r.api_groups))
            for v in vals
            if v == "*" or (f == "resources" and v.startswith("*/"))
        ]
        if fields:
            where = f"rules[{r.index}]" if r.origin == key else f"aggregated {r.where()}"
            path = ("rules", r.index, fields[0][0]) if r.origin == key else ("aggregationRule",)
            shown = ", ".join(f"{f}={v}" for f, v in fields)
            yield Violation(f"{where} uses a wildcard ({shown}): {r.text()}", path)
