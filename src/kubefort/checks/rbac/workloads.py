"""Pods, nodes and what pods are admitted with: KF-RBAC-007 creating workloads, 008 exec/attach,
009 port-forward, 010 nodes/proxy, 013 admission webhooks, 014 PersistentVolumes."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.rbac.common import (
    BINDINGS,
    EXEC_ATTACH,
    NEEDS,
    NODES_PROXY,
    NSA,
    PORT_FORWARD,
    PV_CREATE,
    WEBHOOK_WRITE,
    WORKLOAD_WRITE,
    RbacOptions,
    permission_violation,
)
from kubefort.model import CheckContext, ClusterIndex, Resource, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-RBAC-007",
    name="workload-create-access",
    title="Binding grants creating or changing pods or pod controllers",
    verified="Binding grants no creating or changing of pods or pod controllers",
    severity=Severity.MEDIUM,
    target="cluster",
    options=RbacOptions,
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
def workload_create_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
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

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#workload-creation
    - CIS Kubernetes Benchmark 5.1.4
    """
    return permission_violation(res, index, (WORKLOAD_WRITE,), "create or change pods and pod controllers", ctx.options)


@check(
    id="KF-RBAC-008",
    name="pods-exec-attach-access",
    title="Binding grants pods/exec or pods/attach",
    verified="Binding grants neither pods/exec nor pods/attach",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
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
def pods_exec_attach_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
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

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#workload-creation
    """
    return permission_violation(res, index, (EXEC_ATTACH,), "run commands in containers", ctx.options)


@check(
    id="KF-RBAC-009",
    name="pods-portforward-access",
    title="Binding grants pods/portforward",
    verified="Binding grants no pods/portforward",
    severity=Severity.MEDIUM,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(nsa=NSA, mitre=("T1572",), owasp=("K03",), kubescape=("C-0063",)),
    remediation="Remove pods/portforward from everyday roles.",
)
def pods_portforward_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
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

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/tasks/access-application-cluster/port-forward-access-application-cluster/
    """
    return permission_violation(res, index, (PORT_FORWARD,), "port-forward into pods", ctx.options)


@check(
    id="KF-RBAC-010",
    name="nodes-proxy-access",
    title="ClusterRoleBinding grants nodes/proxy",
    verified="ClusterRoleBinding grants no nodes/proxy",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
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
def nodes_proxy_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
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

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#access-to-proxy-subresource-of-nodes
    - CIS Kubernetes Benchmark 5.1.10
    """
    return permission_violation(res, index, (NODES_PROXY,), "reach the kubelet API through nodes/proxy", ctx.options)


@check(
    id="KF-RBAC-013",
    name="webhook-config-write-access",
    title="ClusterRoleBinding grants writing admission webhook configurations",
    verified="ClusterRoleBinding grants no writing of admission webhook configurations",
    severity=Severity.HIGH,
    target="cluster",
    options=RbacOptions,
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
def webhook_config_write_access(
    res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]
) -> Iterator[Violation]:
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

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#control-admission-webhooks
    - CIS Kubernetes Benchmark 5.1.12
    """
    return permission_violation(res, index, (WEBHOOK_WRITE,), "change admission webhooks", ctx.options)


@check(
    id="KF-RBAC-014",
    name="pv-create-access",
    title="ClusterRoleBinding grants creating PersistentVolumes",
    verified="ClusterRoleBinding grants no creating of PersistentVolumes",
    severity=Severity.MEDIUM,
    target="cluster",
    options=RbacOptions,
    kinds=BINDINGS,
    needs=NEEDS,
    mappings=Mappings(cis=("5.1.9",), nsa=NSA, mitre=("T1611",), owasp=("K03",), kubescape=("C-0278",)),
    remediation="Let a StorageClass provisioner create volumes; give people PersistentVolumeClaims.",
)
def pv_create_access(res: Resource, index: ClusterIndex, ctx: CheckContext[RbacOptions]) -> Iterator[Violation]:
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

    ## Not applicable when
    - a later object of the same name replaces this binding;
    - the release's default binding, unchanged;

    ## References
    - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#persistent-volume-creation
    - CIS Kubernetes Benchmark 5.1.9
    """
    return permission_violation(res, index, (PV_CREATE,), "create PersistentVolumes", ctx.options)
