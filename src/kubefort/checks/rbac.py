"""KF-RBAC: risky grants, judged on bindings (who gets what) with the exact RBAC semantics of kube/rbac.py.

Every binding check resolves the binding's role (bootstrap roles included, aggregation applied) and
reports the subjects, the binding, the role and the exact rule. Bindings labelled
`kubernetes.io/bootstrapping: rbac-defaults` are the cluster's own defaults: out of scope.
A binding whose role is neither in the scan nor a bootstrap role cannot be judged: not evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubefort.kube.pods import find_pods
from kubefort.kube.rbac import (
    ALL_SERVICE_ACCOUNTS,
    ANONYMOUS,
    AUTHENTICATED,
    UNAUTHENTICATED,
    Binding,
    Grant,
    Policy,
    Role,
    identity_of,
    is_bootstrap,
)
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, NotEvaluated, Resource, Severity, Violation
from kubefort.registry import Mappings, check

NSA = ("NSA-CISA Kubernetes Hardening Guide: Authentication and authorization",)
BINDINGS = ("RoleBinding", "ClusterRoleBinding")
ROLES = ("Role", "ClusterRole")
NEEDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
MAX_LISTED = 4


def policy_for(index: ClusterIndex) -> Policy:
    """One Policy per cluster index (built once, shared by every RBAC check of a scan)."""
    return index.derived("rbac-policy", lambda: Policy(index.resources))


# ------------------------------------------------------------------------------------------------
# risky permissions
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Target:
    group: str
    resource: str
    subresource: str = ""
    namespaced: bool = True  # False: only a ClusterRoleBinding can grant it


def target(text: str, group: str = "", namespaced: bool = True) -> Target:
    res, _, sub = text.partition("/")
    return Target(group, res, sub, namespaced)


@dataclass(frozen=True, slots=True)
class Risk:
    what: str
    grants: tuple[tuple[tuple[str, ...], Target], ...]  # (verbs, target) pairs
    any_name: bool = True  # False: rules restricted by resourceNames do not count

    def match(self, g: Grant, memo: dict[Any, bool] | None = None) -> bool:
        """Does the grant give this risk? (memo: a per-Policy cache keyed by rule and binding scope)"""
        if memo is None:
            return self._match(g)
        key = (self.what, id(g.rule), g.binding.namespace is None)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = self._match(g)
        return hit

    def _match(self, g: Grant) -> bool:
        r = g.rule
        if not self.any_name and r.resource_names:
            return False
        for verbs, t in self.grants:
            if not t.namespaced and g.binding.namespace is not None:
                continue
            if any(r.covers(v, t.group, t.resource, t.subresource) for v in verbs):
                return True
        return False


def risk(what: str, verbs: tuple[str, ...], *targets: Target, any_name: bool = True) -> Risk:
    return Risk(what, tuple((verbs, t) for t in targets), any_name)


WRITE = ("create", "update", "patch", "delete", "deletecollection")
WORKLOAD_TARGETS = (
    target("pods"),
    target("replicationcontrollers"),
    target("deployments", "apps"),
    target("replicasets", "apps"),
    target("statefulsets", "apps"),
    target("daemonsets", "apps"),
    target("jobs", "batch"),
    target("cronjobs", "batch"),
    target("deployments", "extensions"),
    target("replicasets", "extensions"),
    target("daemonsets", "extensions"),
)
RBAC_G = "rbac.authorization.k8s.io"
SECRETS_READ = risk("read Secrets", ("get", "list", "watch"), target("secrets"), any_name=False)
WORKLOAD_WRITE = risk("create or change pods and pod controllers", ("create", "update", "patch"), *WORKLOAD_TARGETS)
EXEC_ATTACH = risk("run commands in containers", ("create", "get"), target("pods/exec"), target("pods/attach"))
PORT_FORWARD = risk("port-forward into pods", ("create", "get"), target("pods/portforward"))
NODES_PROXY = risk(
    "reach the kubelet API", ("get", "create", "update", "patch", "delete"), target("nodes/proxy", namespaced=False)
)
SA_TOKEN = risk("mint ServiceAccount tokens", ("create",), target("serviceaccounts/token"))
CSR_APPROVAL = risk(
    "approve CertificateSigningRequests",
    ("update", "patch"),
    target("certificatesigningrequests/approval", "certificates.k8s.io", False),
)
CSR_SIGNER = risk("approve for a signer", ("approve",), target("signers", "certificates.k8s.io", False))
WEBHOOK_WRITE = risk(
    "change admission webhooks",
    WRITE,
    target("validatingwebhookconfigurations", "admissionregistration.k8s.io", False),
    target("mutatingwebhookconfigurations", "admissionregistration.k8s.io", False),
)
PV_CREATE = risk("create PersistentVolumes", ("create",), target("persistentvolumes", namespaced=False))
RBAC_WRITE = risk(
    "change RBAC objects",
    WRITE,
    target("roles", RBAC_G),
    target("rolebindings", RBAC_G),
    target("clusterroles", RBAC_G, False),
    target("clusterrolebindings", RBAC_G, False),
)
# bind is checked in the namespace of the binding being created, for Roles and ClusterRoles alike;
# escalate on a ClusterRole only at cluster scope
ESCALATE_BIND = Risk(
    "escalate or bind roles",
    (
        (("escalate", "bind"), target("roles", RBAC_G)),
        (("bind",), target("clusterroles", RBAC_G)),
        (("escalate",), target("clusterroles", RBAC_G, False)),
    ),
)
IMPERSONATE = risk(
    "impersonate other identities",
    ("impersonate",),
    target("users", namespaced=False),
    target("groups", namespaced=False),
    target("serviceaccounts"),
    target("uids", "authentication.k8s.io", False),
)


def is_full_wildcard(g: Grant) -> bool:
    r = g.rule
    return "*" in r.verbs and "*" in r.api_groups and "*" in r.resources and not r.resource_names


ALL_RISKS = (
    ESCALATE_BIND,
    IMPERSONATE,
    SECRETS_READ,
    WORKLOAD_WRITE,
    EXEC_ATTACH,
    PORT_FORWARD,
    NODES_PROXY,
    SA_TOKEN,
    WEBHOOK_WRITE,
    PV_CREATE,
    RBAC_WRITE,
    CSR_APPROVAL,
)


def risky(grants: Iterable[Grant], memo: dict[Any, bool] | None = None) -> list[tuple[str, Grant]]:
    """(what, grant) for every risky permission among grants (CSR approval only with a signer)."""
    gl = list(grants)
    out: list[tuple[str, Grant]] = []
    signer = any(CSR_SIGNER.match(g, memo) for g in gl)
    for g in gl:
        if is_full_wildcard(g):
            out.append(("do anything (*/*/*)", g))
            continue
        for rk in ALL_RISKS:
            if rk.match(g, memo) and (rk is not CSR_APPROVAL or signer):
                out.append((rk.what, g))
                break
    return out


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def resolve(res: Resource, index: ClusterIndex) -> tuple[Policy, Binding, Role]:
    """The binding and its role; NotApplicable for bootstrap defaults, NotEvaluated when unknowable."""
    pol = policy_for(index)
    prob = pol.problem(res)
    if prob is not None:
        raise prob
    if is_bootstrap(res):
        raise NotApplicable()
    b = pol.binding(res)
    if b is None:  # a later object of the same name replaced this one
        raise NotApplicable()
    role = pol.role_of(b)
    if role is None:
        rk = ("ClusterRole", None, b.role_name) if b.role_kind == "ClusterRole" else ("Role", b.namespace, b.role_name)
        why = pol.problems.get(rk)
        raise NotEvaluated(
            f"{b.role_key} "
            + (f"is malformed ({why.reason})" if why else "is neither in the scanned objects nor a bootstrap role"),
            ("roleRef", "name"),
        )
    return pol, b, role


def subjects_text(subjects: Iterable[Any]) -> str:
    s = [str(x) for x in subjects]
    return ("subject " if len(s) == 1 else "subjects ") + ", ".join(s)


def scope_text(b: Binding) -> str:
    return f"in namespace {b.namespace!r}" if b.namespace is not None else "cluster-wide"


def grants_text(grants: list[Grant]) -> str:
    more = f"; and {len(grants) - MAX_LISTED} more rule(s)" if len(grants) > MAX_LISTED else ""
    return "; ".join(g.describe() for g in grants[:MAX_LISTED]) + more


def permission_violation(res: Resource, index: ClusterIndex, risks: tuple[Risk, ...], what: str) -> Iterator[Violation]:
    pol, b, _ = resolve(res, index)
    subjects = [s for s in b.subjects if s.key is not None]
    if not subjects:
        return
    memo = pol.cache.setdefault("risk-match", {})
    hits = [g for g in pol.grants_of(b) if any(rk.match(g, memo) for rk in risks)]
    if hits:
        yield Violation(
            f"{subjects_text(subjects)} can {what} {scope_text(b)}: {grants_text(hits)}", ("roleRef", "name")
        )


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        if not isinstance(obj, dict if isinstance(k, str) else list):
            return None
        obj = obj.get(k) if isinstance(obj, dict) else (obj[k] if k < len(obj) else None)
    return obj


# ------------------------------------------------------------------------------------------------
# the checks
# ------------------------------------------------------------------------------------------------
@check(
    id="KF-RBAC-001",
    name="cluster-admin-binding",
    title="Binding grants cluster-admin (or */*/*) to a non-system subject",
    severity=Severity.HIGH,
    target="cluster",
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
def cluster_admin_binding(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
    - CIS Kubernetes Benchmark 5.1.1
    """
    pol, b, _ = resolve(res, index)
    subjects = [s for s in b.subjects if s.key is not None and not s.is_system]
    hits = [g for g in pol.grants_of(b) if is_full_wildcard(g)]
    if subjects and hits:
        what = "do anything (cluster-admin)" if b.namespace is None else "do anything"
        yield Violation(
            f"{subjects_text(subjects)} can {what} {scope_text(b)}: {grants_text(hits)}", ("roleRef", "name")
        )


@check(
    id="KF-RBAC-002",
    name="wildcard-rbac-rule",
    title="Role uses a wildcard in verbs, resources or apiGroups",
    severity=Severity.HIGH,
    target="cluster",
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
def wildcard_rbac_rule(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#minimize-use-of-wildcard-permissions
    - CIS Kubernetes Benchmark 5.1.3
    """
    pol = policy_for(index)
    prob = pol.problem(res)
    if prob is not None:
        raise prob
    if is_bootstrap(res):
        raise NotApplicable()
    key = f"Role/{pol.ns(res)}/{res.id.name}" if res.id.kind == "Role" else f"ClusterRole/{res.id.name}"
    role = pol.roles.get(key)
    if role is None or role.resource is not res:
        raise NotApplicable()
    for r in role.rules:
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


@check(
    id="KF-RBAC-003",
    name="rbac-escalate-bind",
    title="Binding grants escalate or bind on roles",
    severity=Severity.CRITICAL,
    target="cluster",
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
def rbac_escalate_bind(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
    - CIS Kubernetes Benchmark 5.1.8
    """
    return permission_violation(res, index, (ESCALATE_BIND,), "escalate or bind roles")


@check(
    id="KF-RBAC-004",
    name="rbac-impersonate",
    title="Binding grants impersonation of users, groups or ServiceAccounts",
    severity=Severity.CRITICAL,
    target="cluster",
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
def rbac_impersonate(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation
    - CIS Kubernetes Benchmark 5.1.8
    """
    return permission_violation(res, index, (IMPERSONATE,), "impersonate other identities")


def _secrets(res: Resource, index: ClusterIndex, cluster: bool) -> Iterator[Violation]:
    if (res.id.kind == "ClusterRoleBinding") != cluster:
        raise NotApplicable()
    return permission_violation(res, index, (SECRETS_READ,), "read every Secret")


@check(
    id="KF-RBAC-005",
    name="secrets-read-cluster-wide",
    title="ClusterRoleBinding grants read of Secrets in every namespace",
    severity=Severity.HIGH,
    target="cluster",
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
def secrets_read_cluster_wide(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#listing-secrets
    - CIS Kubernetes Benchmark 5.1.2
    """
    return _secrets(res, index, True)


@check(
    id="KF-RBAC-006",
    name="secrets-read-namespaced",
    title="RoleBinding grants read of every Secret in a namespace",
    severity=Severity.MEDIUM,
    target="cluster",
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
def secrets_read_namespaced(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#listing-secrets
    - CIS Kubernetes Benchmark 5.1.2
    """
    return _secrets(res, index, False)


@check(
    id="KF-RBAC-007",
    name="workload-create-access",
    title="Binding grants creating or changing pods or pod controllers",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.4",),
        nsa=NSA,
        mitre=("T1610",),
        owasp=("K03",),
        trivy=("KSV-0048",),
        kubescape=("C-0188",),
        kube_linter=("access-to-create-pods",),
    ),
    remediation="Let a deployment pipeline hold these rights; give people read access and namespaces with a restricted Pod Security level.",
)
def workload_create_access(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting create, update or patch on pods, ReplicationControllers,
    Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs or CronJobs.

    ## Why is this bad?
    Who creates a pod chooses its ServiceAccount (and so holds that account's rights), its
    image and, where Pod Security allows it, host access. Changing a controller's template is the
    same power.

    ## Example
    ```yaml
    rules: [{apiGroups: [apps], resources: [deployments], verbs: [create, patch]}]
    ```

    ## How to fix
    Keep these rights for the deployment pipeline and enforce a Pod Security level on the
    namespace (KF-PSA-001).

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#workload-creation
    - CIS Kubernetes Benchmark 5.1.4
    """
    return permission_violation(res, index, (WORKLOAD_WRITE,), "create or change pods and pod controllers")


@check(
    id="KF-RBAC-008",
    name="pods-exec-attach-access",
    title="Binding grants pods/exec or pods/attach",
    severity=Severity.HIGH,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        nsa=NSA,
        mitre=("T1609",),
        owasp=("K03",),
        trivy=("KSV-0053", "KSV-0054"),
        checkov=("CKV2_K8S_2",),
        kubescape=("C-0002",),
        polaris=(
            "clusterrolePodExecAttach",
            "rolePodExecAttach",
            "clusterrolebindingPodExecAttach",
            "rolebindingClusterRolePodExecAttach",
            "rolebindingRolePodExecAttach",
        ),
    ),
    remediation="Remove pods/exec and pods/attach; use ephemeral debug containers under an audited break-glass role.",
)
def pods_exec_attach_access(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting `create` (or `get`, which older API servers accepted over
    WebSockets) on `pods/exec` or `pods/attach`.

    ## Why is this bad?
    The subject runs commands inside any container in scope: it reads the container's files and
    mounted ServiceAccount token, and acts as that ServiceAccount.

    ## Example
    ```yaml
    rules: [{apiGroups: [""], resources: [pods/exec], verbs: [create]}]
    ```

    ## How to fix
    Remove the subresources from everyday roles.

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#workload-creation
    """
    return permission_violation(res, index, (EXEC_ATTACH,), "run commands in containers")


@check(
    id="KF-RBAC-009",
    name="pods-portforward-access",
    title="Binding grants pods/portforward",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1572",), owasp=("K03",), kubescape=("C-0063",)),
    remediation="Remove pods/portforward from everyday roles.",
)
def pods_portforward_access(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags bindings granting `create` or `get` on `pods/portforward`.

    ## Why is this bad?
    Port forwarding opens a tunnel to any port of a pod, bypassing Services, Ingresses and
    NetworkPolicies (the traffic enters through the kubelet).

    ## Example
    ```yaml
    rules: [{apiGroups: [""], resources: [pods/portforward], verbs: [create]}]
    ```

    ## How to fix
    Remove it; expose what must be reached through a Service with a NetworkPolicy.

    ## References
    - https://kubernetes.io/docs/tasks/access-application-cluster/port-forward-access-application-cluster/
    """
    return permission_violation(res, index, (PORT_FORWARD,), "port-forward into pods")


@check(
    id="KF-RBAC-010",
    name="nodes-proxy-access",
    title="ClusterRoleBinding grants nodes/proxy",
    severity=Severity.HIGH,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.10",),
        nsa=NSA,
        mitre=("T1609",),
        owasp=("K03",),
        trivy=("KSV-0047",),
        checkov=("CKV2_K8S_2",),
        kubescape=("C-0279",),
    ),
    remediation="Remove nodes/proxy; scrape metrics through nodes/metrics and nodes/stats instead.",
)
def nodes_proxy_access(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags ClusterRoleBindings granting any verb on `nodes/proxy` (a RoleBinding cannot grant
    a cluster-scoped resource).

    ## Why is this bad?
    nodes/proxy reaches the kubelet API of every node: `get` alone is enough to run commands in
    any pod over WebSockets, and kubelet requests bypass admission control and API audit logs.

    ## Example
    ```yaml
    rules: [{apiGroups: [""], resources: [nodes/proxy], verbs: [get]}]
    ```

    ## How to fix
    Use `nodes/metrics`, `nodes/stats` or `nodes/log` for monitoring.

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#access-to-proxy-subresource-of-nodes
    - CIS Kubernetes Benchmark 5.1.10
    """
    return permission_violation(res, index, (NODES_PROXY,), "reach the kubelet API through nodes/proxy")


@check(
    id="KF-RBAC-011",
    name="serviceaccount-token-create-access",
    title="Binding grants serviceaccounts/token create",
    severity=Severity.HIGH,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(cis=("5.1.13",), nsa=NSA, mitre=("T1528",), owasp=("K03",), kubescape=("C-0282",)),
    remediation="Remove serviceaccounts/token create, or restrict it with resourceNames.",
)
def serviceaccount_token_create_access(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
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

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#token-request
    - CIS Kubernetes Benchmark 5.1.13
    """
    return permission_violation(res, index, (SA_TOKEN,), "mint ServiceAccount tokens")


@check(
    id="KF-RBAC-012",
    name="csr-approval-access",
    title="ClusterRoleBinding grants approval of certificate signing requests",
    severity=Severity.HIGH,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.11",), nsa=NSA, mitre=("T1649",), owasp=("K03",), checkov=("CKV_K8S_156",), kubescape=("C-0280",)
    ),
    remediation="Leave CSR approval to the controller manager and dedicated approvers with signer resourceNames.",
)
def csr_approval_access(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/#authorization
    - CIS Kubernetes Benchmark 5.1.11
    """
    pol, b, _ = resolve(res, index)
    subjects = [s for s in b.subjects if s.key is not None]
    grants = pol.grants_of(b)
    memo = pol.cache.setdefault("risk-match", {})
    approval = [g for g in grants if CSR_APPROVAL.match(g, memo)]
    signers = [g for g in grants if CSR_SIGNER.match(g, memo)]
    if subjects and approval and signers:
        yield Violation(
            f"{subjects_text(subjects)} can approve certificate signing requests: {grants_text(approval + signers)}",
            ("roleRef", "name"),
        )


@check(
    id="KF-RBAC-013",
    name="webhook-config-write-access",
    title="ClusterRoleBinding grants writing admission webhook configurations",
    severity=Severity.HIGH,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(
        cis=("5.1.12",),
        nsa=NSA,
        mitre=("T1562.001", "T1610"),
        owasp=("K03",),
        trivy=("KSV-0114",),
        checkov=("CKV_K8S_155",),
        kubescape=("C-0281",),
    ),
    remediation="Keep webhook configurations to the cluster administrators and the operators that own them, by resourceNames.",
)
def webhook_config_write_access(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags ClusterRoleBindings granting create, update, patch, delete or deletecollection on
    ValidatingWebhookConfigurations or MutatingWebhookConfigurations.

    ## Why is this bad?
    A mutating webhook rewrites every object the API server admits (inject a privileged
    container into every pod); deleting a validating webhook turns policy enforcement off.

    ## Example
    ```yaml
    rules: [{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [create]}]
    ```

    ## How to fix
    Restrict the rule to the configuration the operator owns with `resourceNames`.

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#control-admission-webhooks
    - CIS Kubernetes Benchmark 5.1.12
    """
    return permission_violation(res, index, (WEBHOOK_WRITE,), "change admission webhooks")


@check(
    id="KF-RBAC-014",
    name="pv-create-access",
    title="ClusterRoleBinding grants creating PersistentVolumes",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(cis=("5.1.9",), nsa=NSA, mitre=("T1611",), owasp=("K03",), kubescape=("C-0278",)),
    remediation="Let a StorageClass provisioner create volumes; give people PersistentVolumeClaims.",
)
def pv_create_access(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags ClusterRoleBindings granting `create` on PersistentVolumes.

    ## Why is this bad?
    A `hostPath` PersistentVolume mounts any directory of the node into a pod, which Pod
    Security's hostPath control does not see (the pod only names a claim).

    ## Example
    ```yaml
    rules: [{apiGroups: [""], resources: [persistentvolumes], verbs: [create]}]
    ```

    ## How to fix
    Use dynamic provisioning and grant `persistentvolumeclaims` instead.

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#persistent-volume-creation
    - CIS Kubernetes Benchmark 5.1.9
    """
    return permission_violation(res, index, (PV_CREATE,), "create PersistentVolumes")


@check(
    id="KF-RBAC-015",
    name="rbac-write-access",
    title="Binding grants writing roles or bindings",
    severity=Severity.HIGH,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1098",), owasp=("K03",)),
    remediation="Keep RBAC changes to administrators and GitOps; remove write verbs on RBAC resources from other roles.",
)
def rbac_write_access(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
    """
    return permission_violation(res, index, (RBAC_WRITE,), "change RBAC objects")


def _subject_violations(res: Resource, index: ClusterIndex, pick: Any, what: str) -> Iterator[Violation]:
    pol = policy_for(index)
    prob = pol.problem(res)
    if prob is not None:
        raise prob
    if is_bootstrap(res):
        raise NotApplicable()
    b = pol.binding(res)
    if b is None:
        raise NotApplicable()
    role = b.role_key + ("" if pol.role_of(b) is not None else " (not in the scan)")
    for i, s in enumerate(b.subjects):
        if pick(s):
            yield Violation(f"binds {role} {scope_text(b)} to {what} {s}", ("subjects", i))


@check(
    id="KF-RBAC-016",
    name="anonymous-user-binding",
    title="Binding grants permissions to unauthenticated callers",
    severity=Severity.CRITICAL,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1078.001",), owasp=("K03", "K06"), trivy=("KSV-0122",), kubescape=("C-0262",)),
    remediation="Remove system:anonymous and system:unauthenticated from the binding's subjects.",
)
def anonymous_user_binding(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests
    """
    return _subject_violations(
        res, index, lambda s: (s.kind, s.name) in (("User", ANONYMOUS), ("Group", UNAUTHENTICATED)), "unauthenticated"
    )


@check(
    id="KF-RBAC-017",
    name="system-authenticated-binding",
    title="Binding grants permissions to every authenticated identity",
    severity=Severity.HIGH,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1078",), owasp=("K03",), trivy=("KSV-01011",), kubescape=("C-0265",)),
    remediation="Bind the groups that need the role instead of system:authenticated or system:serviceaccounts.",
)
def system_authenticated_binding(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings
    """
    return _subject_violations(
        res, index, lambda s: s.kind == "Group" and s.name in (AUTHENTICATED, ALL_SERVICE_ACCOUNTS), "every identity of"
    )


@check(
    id="KF-RBAC-018",
    name="default-service-account-binding",
    title="Binding grants permissions to a default ServiceAccount",
    severity=Severity.MEDIUM,
    target="cluster",
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
def default_service_account_binding(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts
    - CIS Kubernetes Benchmark 5.1.5
    """
    return _subject_violations(
        res, index, lambda s: s.kind == "ServiceAccount" and s.name == "default" and s.namespace, "the"
    )


@check(
    id="KF-RBAC-019",
    name="workload-with-privileged-rbac",
    title="Workload mounts the token of a ServiceAccount holding risky permissions",
    severity=Severity.HIGH,
    target="cluster",
    kinds=("@pods",),
    needs=NEEDS + ("ServiceAccount",),
    mappings=Mappings(
        nsa=NSA, mitre=("T1528", "T1552.007"), owasp=("K03", "K01"), kubescape=("C-0272", "C-0267", "C-0053")
    ),
    remediation="Set automountServiceAccountToken: false where the app does not call the API; otherwise trim the ServiceAccount's roles.",
)
def workload_with_privileged_rbac(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
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

    ## References
    - https://kubernetes.io/docs/concepts/security/service-accounts/
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
    """
    find_pods(res)  # a malformed pod spec is not evaluated (its reason comes from the pod view)
    pol = policy_for(index)
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
    severity=Severity.CRITICAL,
    target="cluster",
    kinds=BINDINGS,
    needs=NEEDS + ("ServiceAccount", "Secret", "Namespace", "@pods"),
    mappings=Mappings(
        nsa=NSA, mitre=("T1078", "T1098", "T1528", "T1552.007", "T1609", "T1610", "T1611", "T1649"), owasp=("K03",)
    ),
    remediation="Break the path at its first hop: remove that permission or the binding that grants it (see `kubefort rbac paths`).",
)
def escalation_path_to_cluster_admin(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
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

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#privilege-escalation-risks
    - https://attack.mitre.org/matrices/enterprise/containers/
    """
    pol, b, _ = resolve(res, index)
    paths = paths_by_subject(pol)
    for i, s in enumerate(b.subjects):
        p = paths.get(s)
        if p is not None and any(g.binding is b for g in p.hops[0].via):
            yield Violation(f"{s} can become cluster-admin in {len(p.hops)} hop(s): {path_text(p)}", ("subjects", i))
