"""Grants users expect to be told about: KF-RBAC-030 bindings to `system:masters`, 031 deleting
events (covering tracks), 032 writing ConfigMaps in kube-system, 033 writing networking objects,
034 writing the EKS `aws-auth` ConfigMap.

Judged per binding, with the authorizer's own rule matching (kube/rbac `Request.matches`: verbs,
API groups, resources, subresources and resourceNames) over the rules the binding's role gives
(`Policy.grants_of`), within the binding's scope: a RoleBinding grants in its namespace only, a
ClusterRoleBinding everywhere. Default bindings of the release are judged as the other KF-RBAC
checks judge them (checks/rbac/common.py `resolve` and `judged`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.checks.rbac.common import (
    BINDINGS,
    DEFAULT,
    NEEDS,
    NSA,
    REPLACED,
    RbacOptions,
    grants_text,
    judged,
    policy_for,
    resolve,
    scope_text,
    subjects_text,
)
from kubefort.kube.rbac import MASTERS, Binding, Policy, Request, Role, Rule
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, Resource, Severity, Violation
from kubefort.registry import Mappings, check

KUBE_SYSTEM = "kube-system"
AWS_AUTH = "aws-auth"
WRITE = ("create", "update", "patch", "delete", "deletecollection")
# requests that carry no object name: a rule restricted by resourceNames never allows them
# (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources)
NAMELESS = ("create", "deletecollection")


@dataclass(frozen=True, slots=True)
class Target:
    group: str
    resource: str
    subresource: str = ""

    def __str__(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{res}.{self.group}" if self.group else res


EVENTS = (Target("", "events"), Target("events.k8s.io", "events"))
CONFIGMAPS = (Target("", "configmaps"),)
NETWORKING = (
    Target("", "services"),
    Target("", "services", "status"),  # status.loadBalancer.ingress: CVE-2020-8554
    Target("", "endpoints"),
    Target("discovery.k8s.io", "endpointslices"),
    Target("networking.k8s.io", "networkpolicies"),
    Target("networking.k8s.io", "ingresses"),
    *(
        Target("gateway.networking.k8s.io", r)
        for r in ("gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes", "udproutes", "referencegrants")
    ),
    Target("networking.istio.io", "gateways"),
    Target("networking.istio.io", "virtualservices"),
)


def allows(rule: Rule, verb: str, t: Target, name: str | None, any_name: bool = False) -> bool:
    """Does the rule allow `verb` on `t`: for the object called `name`, or (None) for some object
    (a rule restricted by resourceNames allows those names, except for requests without a name);
    `any_name`: for every object (rules restricted by resourceNames do not count)."""
    if name is not None:
        return Request(verb, t.group, t.resource, t.subresource, name="" if verb in NAMELESS else name).matches(rule)
    if not rule.covers(verb, t.group, t.resource, t.subresource):
        return False
    return not rule.resource_names or (not any_name and verb not in NAMELESS)


def _resolve(res: Resource, index: ClusterIndex, options: RbacOptions) -> tuple[Policy, Binding, Role]:
    """checks/rbac/common.py `resolve`, with the reason for an out-of-scope binding."""
    try:
        return resolve(res, index, options)
    except NotApplicable as exc:
        if str(exc):
            raise
        replaced = policy_for(index, options).binding(res) is None
        raise NotApplicable(REPLACED if replaced else DEFAULT) from None


def _applies_in(b: Binding, namespace: str | None) -> bool:
    """Does the binding grant in `namespace` (None: anywhere)?"""
    return namespace is None or b.namespace is None or b.namespace == namespace


def _grant_violations(
    res: Resource,
    index: ClusterIndex,
    options: RbacOptions,
    verbs: tuple[str, ...],
    targets: tuple[Target, ...],
    what: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    any_name: bool = False,
) -> Iterator[Violation]:
    pol, b, _ = _resolve(res, index, options)
    if not _applies_in(b, namespace):
        return
    hits = [g for g in pol.grants_of(b) if any(allows(g.rule, v, t, name, any_name) for v in verbs for t in targets)]
    where = scope_text(b) if namespace is None or b.namespace is not None else f"cluster-wide, {namespace} included"
    for subjects, grants in judged(b, hits):
        yield Violation(f"{subjects_text(subjects)} can {what} {where}: {grants_text(grants)}", ("roleRef", "name"))


@check(
    id="KF-RBAC-030",
    name="system-masters-binding",
    title="Binding names the system:masters group",
    verified="Binding does not name the system:masters group",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.7",), nsa=NSA, mitre=("T1078",), owasp=("K03",), trivy=("KSV-0123",), kubescape=("C-0246",)
    ),
    remediation="Remove the system:masters subject; give administrators a group of their own bound to the roles they need, and keep system:masters for break-glass credentials.",
)
def system_masters_binding(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings with the subject `Group system:masters`, whatever the role. The release's
    own `cluster-admin` ClusterRoleBinding to `system:masters` is the cluster's default: out of
    scope (an added subject on it is judged).

    ## Why is this bad?
    Members of `system:masters` are authorized before RBAC is consulted (the API server's
    privileged-group authorizer allows every request of the group, and no authorization webhook
    can deny it). A binding to the group grants nothing: it suggests that its members are
    limited to the bound role while they can do everything, and that identities are being put in
    the group, typically as client certificates with `O=system:masters`, which cannot be revoked
    before they expire (CIS 5.1.7).

    ## Example
    ```yaml
    kind: RoleBinding
    roleRef: {kind: ClusterRole, name: view}
    subjects: [{kind: Group, name: "system:masters"}]
    ```

    ## How to fix
    Bind the administrators' own group (`platform-admins`) to the roles they need and issue
    no credentials with `system:masters` beyond the break-glass kubeconfig.

    ## Not applicable when
    - a later object of the same name replaces this binding (the API server keeps one);
    - the release's default binding, unchanged (the cluster's own).

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles
    - CIS Kubernetes Benchmark 5.1.7
    """
    pol = policy_for(index, ctx.options)
    prob = pol.problem(res)
    if prob is not None:
        raise prob
    b = pol.binding(res)
    if b is None:
        raise NotApplicable(REPLACED)
    extra = set(b.extra_subjects())
    if b.default and not extra:
        raise NotApplicable(DEFAULT)
    for i, s in enumerate(b.subjects):
        if s.kind == "Group" and s.name == MASTERS and s in extra:
            yield Violation(
                f"binds {b.role_key} {scope_text(b)} to Group {MASTERS}, whose members bypass RBAC: the binding "
                "grants them nothing and hides that they can do everything",
                ("subjects", i),
            )


@check(
    id="KF-RBAC-031",
    name="delete-events-access",
    title="Binding grants deleting events",
    verified="Binding grants no deleting of events",
    severity=Severity.MEDIUM,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1070",), owasp=("K03", "K05"), trivy=("KSV-0042",), kubescape=("C-0031",)),
    remediation="Remove delete and deletecollection on events (core and events.k8s.io) from the role; Kubernetes expires events by itself.",
)
def delete_events_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting `delete` or `deletecollection` on `events` of the core group or
    of `events.k8s.io` (the same objects, served by both APIs), by rules not restricted to
    named events. `create`, `update` and `patch` on events are not flagged: every component that
    records events needs them (event recorders patch an event's count).

    Pod logs are not objects of the API: `pods/log` answers `get` only, so no RBAC rule can
    delete them (a rule with `delete` on `pods/log` grants nothing). Logs go away with their
    container, when the pod is deleted or replaced: that power is judged with workload rights
    (KF-RBAC-007), not here.

    ## Why is this bad?
    Events record what happened in a namespace (who scheduled what, which image was pulled,
    failed mounts, evictions) and are often the only trace an intruder leaves outside the audit
    log. Deleting them covers tracks (MITRE ATT&CK T1070, Indicator Removal).

    ## Example
    ```yaml
    rules: [{apiGroups: ["", events.k8s.io], resources: [events], verbs: [get, list, delete]}]
    ```

    ## How to fix
    Keep read access (`get`, `list`, `watch`) and drop the deletes; events expire after the API
    server's `--event-ttl` (one hour by default). Ship events to a log store if they must be kept.

    ## Not applicable when
    - a later object of the same name replaces this binding (the API server keeps one);
    - the release's default binding, unchanged (the cluster's own).

    ## References
    - https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources
    """
    return _grant_violations(
        res, index, ctx.options, ("delete", "deletecollection"), EVENTS, "delete events", any_name=True
    )


@check(
    id="KF-RBAC-032",
    name="kube-system-configmap-write-access",
    title="Binding grants writing ConfigMaps in kube-system",
    verified="Binding grants no writing of ConfigMaps in kube-system",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1557", "T1098"), owasp=("K03",), trivy=("KSV-0049",), kubescape=("C-0037",)),
    remediation="Grant ConfigMap writes in the application namespaces only; let the cluster's installer or platform pipeline own kube-system.",
)
def kube_system_configmap_write_access(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags ClusterRoleBindings, and RoleBindings in `kube-system`, granting `create`, `update`,
    `patch`, `delete` or `deletecollection` on `configmaps`. Rules restricted to named
    ConfigMaps count for the verbs that take a name (and are shown with their names); they never
    allow `create` or `deletecollection`.

    ## Why is this bad?
    kube-system's ConfigMaps configure the cluster: `coredns` (answer any name with any address:
    DNS poisoning, Kubescape C-0037), `kube-proxy`, `kubeadm-config`, the EKS `aws-auth` mapping
    of cloud identities to groups (KF-RBAC-034), `extension-apiserver-authentication` (the client
    CA aggregated API servers trust). Writing them changes how every workload resolves, routes
    and authenticates.

    ## Example
    ```yaml
    kind: RoleBinding
    metadata: {namespace: kube-system}
    roleRef: {kind: ClusterRole, name: edit}     # edit writes ConfigMaps
    ```

    ## How to fix
    Bind write roles in the application namespaces; give operators of kube-system components
    their own narrow Role with `resourceNames`.

    ## Not applicable when
    - a later object of the same name replaces this binding (the API server keeps one);
    - the release's default binding, unchanged (the cluster's own).

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#privilege-escalation-risks
    """
    return _grant_violations(res, index, ctx.options, WRITE, CONFIGMAPS, "write ConfigMaps", namespace=KUBE_SYSTEM)


@check(
    id="KF-RBAC-033",
    name="networking-write-access",
    title="Binding grants changing Services, NetworkPolicies, Ingresses or routes",
    verified="Binding grants no changing of Services, NetworkPolicies, Ingresses or routes",
    severity=Severity.MEDIUM,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1557", "T1599"), owasp=("K03", "K07"), trivy=("KSV-0056",)),
    remediation="Let the deployment pipeline own networking objects; give people read access to them.",
)
def networking_write_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting `create`, `update`, `patch`, `delete` or `deletecollection` on
    objects that decide where traffic goes and who may send it: Services (and
    `services/status`), Endpoints, EndpointSlices, NetworkPolicies, Ingresses, Gateway API
    Gateways, routes and ReferenceGrants, Istio Gateways and VirtualServices.

    ## Why is this bad?
    Whoever writes these objects can expose a workload to the internet (a LoadBalancer Service,
    an Ingress, a route), lift the isolation NetworkPolicies give (MITRE ATT&CK T1599), or
    redirect a Service's traffic to an address they control: Endpoints of a Service without
    selector, `externalIPs` and `status.loadBalancer.ingress` (CVE-2020-8554) intercept other
    workloads' connections (T1557).

    ## Example
    ```yaml
    rules: [{apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [delete]}]
    ```

    ## How to fix
    Keep these rights for the pipeline that deploys the application; people get `view`.
    Restrict `externalIPs` cluster-wide with the DenyServiceExternalIPs admission plugin.

    ## Not applicable when
    - a later object of the same name replaces this binding (the API server keeps one);
    - the release's default binding, unchanged (the cluster's own).

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#network-policies
    - https://github.com/kubernetes/kubernetes/issues/97076
    """
    return _grant_violations(res, index, ctx.options, WRITE, NETWORKING, "change networking objects")


@check(
    id="KF-RBAC-034",
    name="eks-aws-auth-write-access",
    title="Binding grants changing the EKS aws-auth ConfigMap",
    verified="Binding grants no changing of the EKS aws-auth ConfigMap",
    severity=Severity.CRITICAL,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1098", "T1078.004"), owasp=("K03", "K06"), trivy=("KSV-0115",)),
    remediation="Remove write access to kube-system ConfigMaps (or the aws-auth name) from the role; manage cluster access with EKS access entries, changed through the AWS API under IAM control.",
)
def eks_aws_auth_write_access(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags ClusterRoleBindings, and RoleBindings in `kube-system`, that allow changing the
    ConfigMap `kube-system/aws-auth`, exactly as the authorizer decides it: `update`, `patch`
    or `delete` by a rule whose `resourceNames` are empty or list `aws-auth`, and `create` or
    `deletecollection` by a rule without `resourceNames` (those requests carry no name).

    ## Why is this bad?
    On Amazon EKS `aws-auth` maps IAM roles and users to Kubernetes users and groups. Whoever
    edits it can map an IAM identity they control to `system:masters`: cluster-admin that no
    Kubernetes RBAC object shows (MITRE ATT&CK T1098, Account Manipulation). On clusters that are
    not EKS (or use only access entries) the ConfigMap has no effect.

    ## Example
    ```yaml
    kind: Role
    metadata: {namespace: kube-system}
    rules: [{apiGroups: [""], resources: [configmaps], resourceNames: [aws-auth], verbs: [get, update]}]
    ```

    ## How to fix
    Migrate to EKS access entries (authentication mode `API`) and remove the write access;
    until then keep it for the cluster's provisioning pipeline only.

    ## Not applicable when
    - a later object of the same name replaces this binding (the API server keeps one);
    - the release's default binding, unchanged (the cluster's own).

    ## References
    - https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html
    - https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html
    """
    return _grant_violations(
        res,
        index,
        ctx.options,
        WRITE,
        CONFIGMAPS,
        f"change ConfigMap {KUBE_SYSTEM}/{AWS_AUTH}",
        namespace=KUBE_SYSTEM,
        name=AWS_AUTH,
    )
