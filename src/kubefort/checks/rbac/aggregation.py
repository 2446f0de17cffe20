"""Aggregated ClusterRoles: KF-RBAC-021 an aggregated ClusterRole that also writes its own rules."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.rbac.common import NEEDS, NSA, ROLE_OUT_OF_SCOPE, RbacOptions, policy_for
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check
from kubefort.wording import plural


@check(
    id="KF-RBAC-021",
    name="aggregated-clusterrole-with-own-rules",
    title="Aggregated ClusterRole also writes its own rules",
    verified="ClusterRole is not aggregated, or writes no rules of its own",
    severity=Severity.MEDIUM,
    target="cluster",
    options=RbacOptions,
    kinds=("ClusterRole",),
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1098",), owasp=("K03",)),
    remediation="Remove `rules` from the aggregated ClusterRole; put them in a ClusterRole its selectors match.",
)
def aggregated_clusterrole_with_own_rules(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags a ClusterRole with an `aggregationRule` whose own `rules` hold something the roles its
    selectors match do not give it. Own rules that the aggregation gives anyway pass. Unchanged
    default ClusterRoles of the chosen Kubernetes release are out of scope.

    ## Why is this bad?
    The aggregation controller in kube-controller-manager replaces the rules of an aggregated
    ClusterRole with the union of the matching roles' rules whenever they differ. Whether the
    written rules are in force depends on history: until the controller has run (or on a
    cluster where it does not run) they are; after, they are gone, until the next `kubectl
    apply` writes them back. A file cannot say which holds, so a reviewer cannot know who has
    these permissions. kubefort answers who-can with both possibilities, marking these grants
    "granted if the rules are kept".

    ## Example
    ```yaml
    kind: ClusterRole
    metadata: {name: monitoring}
    aggregationRule:
      clusterRoleSelectors: [{matchLabels: {example.com/aggregate-to-monitoring: "true"}}]
    rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]   # held only sometimes
    ```

    ## How to fix
    ```yaml
    kind: ClusterRole
    metadata:
      name: monitoring-secrets
      labels: {example.com/aggregate-to-monitoring: "true"}
    rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
    ```
    and leave `rules` out of the aggregated ClusterRole.

    ## Not applicable when
    - a later object of the same name replaces this role, or it is the release's default role, unchanged;

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#aggregated-clusterroles
    - https://github.com/kubernetes/kubernetes/blob/master/pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go
    """
    pol = policy_for(index, ctx.options)
    prob = pol.problem(res)
    if prob is not None:
        raise prob
    role = pol.roles.get(f"ClusterRole/{res.id.name}")
    if role is None or role.resource is not res or not role.changed:
        raise NotApplicable(ROLE_OUT_OF_SCOPE)
    if role.selectors is None:
        return
    held = [r for r in role.rules if r.conditional and not r.default]
    if held:
        shown = "; ".join(f"rules[{r.index}] {r.text()}" for r in held)
        yield Violation(
            f"aggregated ClusterRole writes {plural(len(held), 'rule')} its aggregation does not give it, granted only "
            f"until the aggregation controller replaces them: {shown}",
            ("rules", held[0].index),
        )
