"""KF-WL: where workloads run: the `default` namespace (004), naked pods (005), user workloads in
kube-system (006)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubefort.kube.pods import (
    BUILTIN_GROUPS,
    KNOWN_POD_PATHS,
    Fields,
    api_group,
    find_pods,
    memoised,
    need,
)
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Resource, Severity, Violation
from kubefort.registry import Mappings, check
from kubefort.wording import plural

NSA_NAMESPACES = ("NSA-CISA Kubernetes Hardening Guide: Network separation and hardening (namespaces)",)

# NotApplicable reasons, also written in the checks' documentation
NO_NAMESPACE = "the object names no namespace"
NOT_A_WORKLOAD = "the object carries no pod spec"
HELM_DEFAULT_NAMESPACE = "helm rendered its default release namespace"


def is_workload(res: Resource, ctx: CheckContext[Any]) -> bool:
    """Does the object run pods: a built-in pod-bearing kind (even with a malformed pod spec, which
    the pod checks report), or a custom resource with an embedded pod spec?"""
    if res.id.kind in KNOWN_POD_PATHS and api_group(res.id.api_version) in BUILTIN_GROUPS:
        return True
    try:
        return bool(find_pods(res, ctx.pod_template_paths))
    except NotEvaluated:
        return True


def _namespace_of_workload(res: Resource, ctx: CheckContext[Any]) -> str:
    """The namespace a workload names, or NotApplicable (no namespace; not a workload)."""
    ns = res.id.namespace
    if ns is None:
        raise NotApplicable(NO_NAMESPACE)
    if not is_workload(res, ctx):
        raise NotApplicable(NOT_A_WORKLOAD)
    return ns


@check(
    id="KF-WL-004",
    name="workload-in-default-namespace",
    title="Workload runs in the default namespace",
    verified="Workload runs outside the default namespace",
    severity=Severity.LOW,
    target="object",
    mappings=Mappings(
        cis=("5.6.4",),
        nsa=NSA_NAMESPACES,
        trivy=("KSV-0110",),
        checkov=("CKV_K8S_21",),
        kubescape=("C-0061", "C-0212"),
        kube_linter=("use-namespace",),
    ),
    remediation="Create a namespace for the application and set metadata.namespace to it (or deploy with kubectl apply -n / helm --namespace into it).",
)
def workload_in_default_namespace(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags workloads (every object that carries a pod spec: Pods, Deployments, StatefulSets,
    DaemonSets, Jobs, CronJobs, ReplicaSets, custom resources with pod templates) whose namespace
    is `default`.

    Which namespace counts: in a cluster scan or a snapshot, the namespace the object really is
    in. In manifests, only an explicit `metadata.namespace: default` fails: a manifest without
    `metadata.namespace` lands wherever it is applied (`kubectl apply -n`, the context's
    namespace, `helm --namespace`), which the file does not say. For the same reason a Helm
    chart's `namespace: {{ .Release.Namespace }}` rendered without `-n` is not judged: Helm
    writes its default release namespace, `default`, where the chart only says "the namespace it
    is installed into" (scan with `-n NAMESPACE` to judge the namespace you install into).

    ## Why is this bad?
    `default` is where everything lands that nobody placed: RoleBindings, NetworkPolicies,
    quotas and Pod Security labels written for "the default namespace" then apply to unrelated
    workloads, and one team's grant becomes everyone's. A namespace per application is the unit
    of isolation Kubernetes offers for RBAC, NetworkPolicy, ResourceQuota and Pod Security
    admission (CIS Kubernetes Benchmark 5.6.4).

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: default
    ```

    ## How to fix
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: shop
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: shop
    ```

    ## Not applicable when
    - the object names no namespace: a manifest without `metadata.namespace` is not judged;
    - helm rendered its default release namespace: a chart's object in `default`, rendered
      without `-n`, or with `-n default`;
    - the object carries no pod spec: ConfigMaps, Services, RBAC objects and other objects that
      are not workloads.

    ## References
    - https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
    - CIS Kubernetes Benchmark 5.6.4
    """
    if _namespace_of_workload(res, ctx) != "default":
        return
    if res.source.rendered_by == "helm":
        # the chart wrote {{ .Release.Namespace }}, which `helm template` without --namespace
        # fills with "default": the install decides, not the chart
        raise NotApplicable(HELM_DEFAULT_NAMESPACE)
    yield Violation(
        f"{res.id.kind} {res.id.name} runs in the default namespace; give the application a namespace of its own",
        ("metadata", "namespace"),
    )


# Annotations the kubelet sets on static pods (from a manifest file or URL) and on their mirror
# pods in the API: kubernetes/pkg/kubelet/types/pod_update.go (ConfigSourceAnnotationKey,
# ConfigMirrorAnnotationKey).
STATIC_POD_ANNOTATIONS = ("kubernetes.io/config.mirror", "kubernetes.io/config.source")


def string_labels(fields: Fields | None) -> dict[str, str]:
    """The labels (a map of strings: a null value is ""); NotEvaluated for values of another type.
    Read once per view (KF-WL-007 asks it of every container of a pod): do not change the result."""
    if fields is None:
        return {}
    return memoised(fields.memo, "string_labels", _string_labels, fields)


def _string_labels(fields: Fields) -> dict[str, str]:
    labels = fields.mapping("labels")
    for key, value in labels.items():
        if value is not None and not isinstance(value, str):
            need(value, str, "a string", fields.at("labels", key))
    return {k: v or "" for k, v in labels.items()}


def _controller_refs(meta: Fields) -> tuple[int, list[dict[str, Any]]]:
    """(how many ownerReferences, those with controller: true)."""
    refs = meta.list("ownerReferences")
    controllers = []
    for i, ref in enumerate(refs):
        ref = need(ref, dict, "an owner reference mapping", meta.at("ownerReferences", i))
        ctl = Fields(ref, meta.at("ownerReferences", i)).bool("controller")
        if ctl:
            controllers.append(ref)
    return len(refs), controllers


@check(
    id="KF-WL-005",
    name="naked-pod",
    title="Pod is not managed by a controller",
    verified="Pod is managed by a controller, or is a static pod",
    severity=Severity.LOW,
    target="object",
    kinds=("Pod",),
    mappings=Mappings(mitre=("T1610",), kubescape=("C-0073",)),
    remediation="Run the pod from a Deployment, StatefulSet or DaemonSet (a Job for run-to-completion work), so that it is recreated after a failure, an eviction or a node drain.",
)
def naked_pod(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags v1 Pods that no controller manages: no `metadata.ownerReferences` entry has
    `controller: true`. In manifests a bare `kind: Pod` fails; in a cluster scan, pods a
    ReplicaSet, StatefulSet, DaemonSet, Job or operator created carry such a reference and pass.
    Static pods pass: the kubelet manages them, and marks them (and their mirror pods in the
    API) with the `kubernetes.io/config.source` or `kubernetes.io/config.mirror` annotation;
    mirror pods are also owned by their Node.

    ## Why is this bad?
    Nothing recreates a naked pod: when its node fails, is drained for an upgrade or the pod is
    evicted, the workload is simply gone, and it is never rolled out again with a fixed image
    or configuration. Such pods are also typical of manual debugging or of an attacker's
    foothold (MITRE ATT&CK T1610, Deploy Container), so each one deserves a look.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: worker
    spec:
      containers:
      - name: worker
        image: registry.example.com/worker:1.0
    ```

    ## How to fix
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: worker
    spec:
      selector:
        matchLabels: {app: worker}
      template:
        metadata:
          labels: {app: worker}
        spec:
          containers:
          - name: worker
            image: registry.example.com/worker:1.0
    ```

    ## Not applicable when
    - the object is not a core v1 Pod: a custom resource whose kind is also `Pod`.

    ## References
    - https://kubernetes.io/docs/concepts/configuration/overview/#naked-pods-vs-replicasets-deployments-and-jobs
    - https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/
    """
    if res.id.api_version != "v1":
        raise NotApplicable("not a core v1 Pod")
    meta = Fields(Fields(res.obj, ()).mapping("metadata"), ("metadata",))
    count, controllers = _controller_refs(meta)
    if controllers:
        return
    annotations = meta.mapping("annotations")
    if any(key in annotations for key in STATIC_POD_ANNOTATIONS):
        return
    how = (
        f"its {plural(count, 'ownerReference')} {'names' if count == 1 else 'name'} no controller (none sets controller: true)"
        if count
        else "it has no ownerReferences"
    )
    yield Violation(
        f"Pod {res.id.name} is not managed by a controller ({how}): nothing recreates it after a failure, "
        "an eviction or a node drain",
        ("metadata", "ownerReferences") if count else ("kind",),
    )


# Components that belong in kube-system, by the names their own manifests give them (the object's
# name, or its or its pod template's `k8s-app`, `component`, `app.kubernetes.io/name`, `app` or
# `name` label): the control plane, DNS, kube-proxy and metrics-server, the common network plugins,
# and the node agents and controllers of the managed offerings (EKS, GKE, AKS), k3s and RKE2.
SYSTEM_COMPONENTS = frozenset(
    {
        # control plane (kubeadm static pods) and the core add-ons
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
        "cloud-controller-manager",
        "kube-proxy",
        "kube-dns",
        "coredns",
        "kube-dns-autoscaler",
        "dns-autoscaler",
        "coredns-autoscaler",
        "node-local-dns",
        "nodelocaldns",
        "metrics-server",
        "konnectivity-agent",
        "konnectivity-server",
        "cluster-autoscaler",
        "snapshot-controller",
        "csi-snapshot-controller",
        # network plugins
        "calico-node",
        "calico-kube-controllers",
        "calico-typha",
        "canal",
        "cilium",
        "cilium-agent",
        "cilium-operator",
        "cilium-envoy",
        "hubble-relay",
        "kube-flannel",
        "kube-flannel-ds",
        "flannel",
        "weave-net",
        "kube-router",
        "antrea-agent",
        "antrea-controller",
        "kindnet",
        "multus",
        "kube-multus-ds",
        "ip-masq-agent",
        # EKS
        "aws-node",
        "ebs-csi-controller",
        "ebs-csi-node",
        "efs-csi-controller",
        "efs-csi-node",
        "eks-pod-identity-agent",
        "aws-load-balancer-controller",
        # GKE
        "netd",
        "gke-metrics-agent",
        "fluentbit-gke",
        "event-exporter-gke",
        "pdcsi-node",
        "filestore-node",
        "l7-default-backend",
        "kube-state-metrics",
        # AKS
        "azure-cns",
        "azure-ip-masq-agent",
        "cloud-node-manager",
        "csi-azuredisk-node",
        "csi-azuredisk-controller",
        "csi-azurefile-node",
        "csi-azurefile-controller",
        "ama-logs",
        "ama-metrics",
        "ama-metrics-node",
        "omsagent",
        "tunnelfront",
        "aks-link",
        # k3s / RKE2
        "local-path-provisioner",
        "traefik",
        "rke2-canal",
        "rke2-coredns",
        "rke2-ingress-nginx",
        "rke2-metrics-server",
    }
)
# k3s names what it generates in kube-system: svclb-<service> (ServiceLB DaemonSets) and
# helm-install-<chart> (the Jobs of its Helm controller)
SYSTEM_PREFIXES = ("svclb-", "helm-install-")
_NAME_LABELS = ("k8s-app", "component", "app.kubernetes.io/name", "app", "name")
# Labels with which Kubernetes' own add-on tooling marks what it manages: the addon manager
# (cluster/addons/addon-manager), and `kubernetes.io/cluster-service` on the add-ons it deploys.
_ADDON_LABELS = ("addonmanager.kubernetes.io/mode", "kubernetes.io/cluster-service")
# PriorityClasses that mark system components (scheduling/types.go: SystemClusterCritical,
# SystemNodeCritical); a ResourceQuota scope keeps them to kube-system on many clusters.
SYSTEM_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})


@dataclass(frozen=True, slots=True)
class KubeSystemOptions:
    """Options of KF-WL-006 (`.kubefort.yaml`: `options: {KF-WL-006: {system_workloads: [...]}}`)."""

    system_workloads: tuple[str, ...] = ()


def _system_reason(res: Resource, ctx: CheckContext[KubeSystemOptions]) -> str | None:
    """Why the object counts as a system component (None: it does not). The object's own
    metadata and name are read first; its pod templates only when they do not decide (and a
    malformed pod spec then makes the check not evaluated)."""
    known = SYSTEM_COMPONENTS | set(ctx.options.system_workloads)
    meta = Fields(Fields(res.obj, ()).mapping("metadata"), ("metadata",))
    reason = _meta_reason(meta, known)
    if reason is not None:
        return reason
    if _known_name(res, known):
        return f"a known system component ({res.id.name})"
    for pod in find_pods(res, ctx.pod_template_paths):
        reason = _meta_reason(pod.meta, known) if pod.meta is not None else None
        if reason is not None:
            return reason
        pc = pod.scope("priorityClassName").str("priorityClassName")
        if pc in SYSTEM_PRIORITY_CLASSES:
            return f"a system component (priorityClassName: {pc})"
    return None


def _meta_reason(view: Fields, known: frozenset[str] | set[str]) -> str | None:
    annotations = view.mapping("annotations")
    for key in STATIC_POD_ANNOTATIONS:
        if key in annotations:
            return f"a static pod ({key})"
    labels = string_labels(view)
    for key in _ADDON_LABELS:
        if key in labels:
            return f"a cluster add-on ({key} label)"
    if labels.get("tier") == "control-plane":
        return "a control-plane component (tier: control-plane)"
    for key in _NAME_LABELS:
        value = labels.get(key)
        if value and value in known:
            return f"a known system component ({key}: {value})"
    return None


def _known_name(res: Resource, known: frozenset[str] | set[str]) -> bool:
    """The object's name is a known component, starts with a prefix of generated system objects
    (`svclb-traefik`), or is a Pod named after one with the suffix its controller or node added
    (`kube-proxy-x7f2k`, `etcd-node-1`)."""
    name = res.id.name
    if name in known or name.startswith(SYSTEM_PREFIXES):
        return True
    if res.id.kind != "Pod":
        return False
    parts = name.split("-")
    return any("-".join(parts[:n]) in known for n in range(len(parts) - 1, 0, -1))


@check(
    id="KF-WL-006",
    name="user-workload-in-kube-system",
    title="User workload runs in kube-system",
    verified="Workload runs outside kube-system, or is a recognised system component",
    severity=Severity.MEDIUM,
    target="object",
    options=KubeSystemOptions,
    mappings=Mappings(
        nsa=NSA_NAMESPACES,
        mitre=("T1036.005",),
        trivy=("KSV-0037",),
    ),
    remediation="Move the workload to a namespace of its own; if it really is a system component, add its name to the system_workloads option of KF-WL-006.",
)
def user_workload_in_kube_system(res: Resource, ctx: CheckContext[KubeSystemOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags workloads in the `kube-system` namespace that are not recognisably part of the
    control plane or a cluster add-on. A workload counts as a system component when any of these
    holds (for the object or its pod template):

    - it is a static pod (`kubernetes.io/config.source` or `kubernetes.io/config.mirror`
      annotation, set by the kubelet);
    - it carries a label of Kubernetes' add-on tooling (`addonmanager.kubernetes.io/mode`,
      `kubernetes.io/cluster-service`) or `tier: control-plane`;
    - its name, or its `k8s-app`, `component`, `app.kubernetes.io/name`, `app` or `name` label,
      is a known component (a Pod's name also with the suffix its controller or node added,
      `kube-proxy-x7f2k`; k3s' generated `svclb-*` and `helm-install-*` names): the control
      plane, DNS, kube-proxy, metrics-server, konnectivity, cluster-autoscaler, the common
      network plugins (Calico, Cilium, Flannel, Weave, kube-router, Antrea, kindnet, Multus),
      the node agents and controllers of EKS, GKE and AKS, and those of k3s and RKE2 (the
      full list is `SYSTEM_COMPONENTS` in `kubefort/checks/hygiene.py`), or a name listed in
      the `system_workloads` option;
    - it runs with `priorityClassName: system-cluster-critical` or `system-node-critical`.

    Which namespace counts is decided as in KF-WL-004: the real namespace in a cluster scan,
    `metadata.namespace` in manifests.

    ## Why is this bad?
    kube-system holds the most privileged ServiceAccounts and Secrets of the cluster, is
    usually exempt from Pod Security admission and policy engines, and is where operators look
    least. A user workload there shares all of that: it can mount the controllers' tokens and
    it hides among system pods (MITRE ATT&CK T1036.005, Match Legitimate Name or Location).

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: billing-api
      namespace: kube-system
    ```

    ## How to fix
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: billing-api
      namespace: billing
    ```
    For a real system component kubefort does not know, list it in `.kubefort.yaml`:
    `options: {KF-WL-006: {system_workloads: [my-cni-agent]}}`.

    ## Not applicable when
    - the object names no namespace: a manifest without `metadata.namespace` is not judged;
    - the object carries no pod spec: objects that are not workloads.

    ## References
    - https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#initial-namespaces
    - https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/
    """
    if _namespace_of_workload(res, ctx) != "kube-system":
        return
    if _system_reason(res, ctx) is None:
        yield Violation(
            f"{res.id.kind} {res.id.name} runs in kube-system but is not a recognised control-plane component "
            "or cluster add-on; move it to a namespace of its own",
            ("metadata", "namespace"),
        )
