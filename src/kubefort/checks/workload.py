"""KF-WL: workload identity and API hygiene: the service account token (001, judged with the
ServiceAccount), the default service account (002), removed API versions (003)."""

from collections.abc import Iterator
from typing import Any

from kubefort.checks.pod_security import pod_volumes
from kubefort.kube.pods import Fields, PodView, find_pods, type_name
from kubefort.model import (
    CheckContext,
    ClusterIndex,
    NotEvaluated,
    Path_,
    Resource,
    Severity,
    Violation,
    format_path,
)
from kubefort.registry import Mappings, check

NSA_SA = ("NSA-CISA Kubernetes Hardening Guide: Kubernetes Pod security (protecting Pod service account tokens)",)


def _need(value: Any, kind: type, what: str, path: Path_) -> Any:
    if not isinstance(value, kind):
        raise NotEvaluated(f"{format_path(path)} is {type_name(value)}, expected {what}", path)
    return value


def service_account_of(pod: PodView) -> tuple[str | None, Fields, str]:
    """(the ServiceAccount name the pod sets, the view that sets it, the field): `serviceAccountName`,
    else the deprecated `serviceAccount` (the API server copies it only when the former is unset or
    empty). None when neither is set: the pod runs as `default`."""
    scope, field = pod.scope("serviceAccountName"), "serviceAccountName"
    name = scope.str("serviceAccountName")
    if not name:
        legacy_scope = pod.scope("serviceAccount")
        legacy = legacy_scope.str("serviceAccount")
        if legacy:
            return legacy, legacy_scope, "serviceAccount"
    return name or None, scope, field


def _service_accounts(index: ClusterIndex) -> dict[tuple[str | None, str], Resource]:
    """v1 ServiceAccounts by (namespace, name); a later definition replaces an earlier one, as applying both would."""
    return {(r.id.namespace, r.id.name): r for r in index.kind("ServiceAccount") if r.id.api_version == "v1"}


def _account_automount(sa: Resource) -> bool | None:
    value = sa.obj.get("automountServiceAccountToken")
    if value is None or isinstance(value, bool):
        return value
    raise NotEvaluated(
        f"ServiceAccount {sa.id.name}: automountServiceAccountToken is {type_name(value)} ({value!r}), expected a "
        "boolean; the API server rejects it"
    )


def _automount_violation(pod: PodView, index: ClusterIndex) -> Violation | None:
    """The pod's effective automountServiceAccountToken: the pod's field when set, else its
    ServiceAccount's (kubernetes plugin/pkg/admission/serviceaccount: the pod's wins), else true."""
    scope = pod.scope("automountServiceAccountToken")
    own = scope.bool("automountServiceAccountToken")
    if own is True:
        return Violation("pod sets automountServiceAccountToken=true", scope.at("automountServiceAccountToken"))
    if own is False:
        return None
    name, _sa_scope, _field = service_account_of(pod)
    name = name or "default"
    ns = pod.resource.id.namespace
    label = f"{ns}/{name}" if ns else name
    sa = index.derived("KF-WL-001/service-accounts", lambda: _service_accounts(index)).get((ns, name))
    where = pod.spec.at("automountServiceAccountToken")
    if sa is None:
        made = " (which Kubernetes creates with the field unset)" if name == "default" else ""
        return Violation(
            f"automountServiceAccountToken is unset on the pod, and its ServiceAccount {label}{made} is not among "
            "the scanned objects: judged as unset, so the API token is mounted unless that ServiceAccount disables it",
            where,
        )
    account = _account_automount(sa)
    if account is False:
        return None
    how = "sets it to true" if account else "leaves it unset too"
    return Violation(
        f"automountServiceAccountToken is unset on the pod and its ServiceAccount {label} {how}: the API token is mounted",
        where,
    )


@check(
    id="KF-WL-001",
    name="service-account-token-automounted",
    title="Pod mounts a service account token automatically",
    verified="Pod does not mount a service account token automatically",
    severity=Severity.LOW,
    target="cluster",
    kinds=("@pods",),
    needs=("ServiceAccount",),
    mappings=Mappings(
        cis=("5.1.6",),
        nsa=NSA_SA,
        mitre=("T1528", "T1552.001"),
        owasp=("K03", "K01"),
        trivy=("KSV-0036",),
        checkov=("CKV_K8S_38",),
        kubescape=("C-0034", "C-0190"),
        polaris=("automountServiceAccountToken",),
    ),
    remediation="Set spec.automountServiceAccountToken: false on pods that do not call the Kubernetes API (and on their ServiceAccount); pods that do should mount a short-lived projected token.",
)
def service_account_token_automounted(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods whose token is mounted automatically, judging the effective value as the
    ServiceAccount admission plugin does: the pod's `spec.automountServiceAccountToken` when it
    is set; when it is unset, the `automountServiceAccountToken` of the pod's ServiceAccount
    (`spec.serviceAccountName`, else the deprecated `spec.serviceAccount`, else `default`);
    when both are unset, Kubernetes mounts the token. So a pod fails when it sets `true`, or
    leaves the field unset and its ServiceAccount sets `true` or leaves it unset too.

    The ServiceAccount is looked up by namespace and name among the objects of the same
    analysis unit (a PATH given, a Helm chart, a kustomization, a cluster; see "analysis units"
    in docs/architecture.md), where an object defined more than once counts by its last
    definition, as for every cross-object check. A manifest without `metadata.namespace`
    matches accounts without one: both land where they are applied. When it is not among them (another chart, or the `default` account that
    Kubernetes creates in every namespace with the field unset), the message says so and the
    pod is judged as if the account left the field unset. On a cluster whose ServiceAccounts
    could not be listed, the check is not evaluated. For an Argo Workflows template, the
    workflow's `spec.automountServiceAccountToken` and `spec.serviceAccountName` apply when the
    template does not set its own. An object that carries several pod specs fails with one
    message per pod.

    Severity is low because the token grants only what RBAC grants the account (often nothing
    beyond discovery); KF-RBAC-019 reports mounted tokens of accounts that hold risky rights.

    ## Why is this bad?
    Every container of the pod gets a token for the Kubernetes API at
    `/var/run/secrets/kubernetes.io/serviceaccount/token`. Most applications never use it, but an
    attacker who reads files in the container (path traversal, SSRF to a file URL, a shell) does,
    and with it calls the API as the workload: listing secrets, creating pods, moving laterally
    (MITRE ATT&CK T1528, Steal Application Access Token; T1552.001, Credentials In Files).

    ## Example
    ```yaml
    apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: web
    ---
    apiVersion: apps/v1
    kind: Deployment
    spec:
      template:
        spec:
          serviceAccountName: web
          containers:
          - name: web
            image: registry.example.com/web:2.3
    ```

    ## How to fix
    ```yaml
    apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: web
    automountServiceAccountToken: false
    ---
    apiVersion: apps/v1
    kind: Deployment
    spec:
      template:
        spec:
          serviceAccountName: web
          automountServiceAccountToken: false   # explicit: survives a changed ServiceAccount
          containers:
          - name: web
            image: registry.example.com/web:2.3
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
    - CIS Kubernetes Benchmark 5.1.6
    """
    pods = find_pods(res, ctx.pod_template_paths)  # NotEvaluated for a malformed pod spec
    for pod in pods:
        v = _automount_violation(pod, index)
        if v is not None:
            prefix = f"{format_path(pod.path)}: " if len(pods) > 1 else ""
            yield Violation(prefix + v.message, v.path)


def _projects_token(pod: PodView) -> bool:
    """Does a projected volume of the pod request a service account token explicitly?"""
    for _i, vol, vpath in pod_volumes(pod):
        projected = vol.get("projected")
        if projected is None:
            continue
        _need(projected, dict, "a mapping", vpath + ("projected",))
        sources = projected.get("sources") or []
        _need(sources, list, "a list", vpath + ("projected", "sources"))
        for j, src in enumerate(sources):
            _need(src, dict, "a mapping", vpath + ("projected", "sources", j))
            if src.get("serviceAccountToken") is not None:
                return True
    return False


@check(
    id="KF-WL-002",
    name="default-service-account",
    title="Pod runs as the namespace's default service account",
    verified="Pod runs as a service account of its own",
    severity=Severity.LOW,
    target="pod",
    mappings=Mappings(
        cis=("5.1.5",),
        nsa=NSA_SA,
        mitre=("T1078.001", "T1528"),
        owasp=("K03",),
        checkov=("CKV_K8S_41", "CKV_K8S_42"),
        kubescape=("C-0189",),
        kube_linter=("default-service-account",),
    ),
    remediation="Create a ServiceAccount for the workload, grant it only the roles it needs, and set spec.serviceAccountName to it.",
)
def default_service_account(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods that run as the `default` ServiceAccount of their namespace:
    `spec.serviceAccountName` (or the deprecated `spec.serviceAccount`, which is read only when
    `serviceAccountName` is unset or empty) is unset, empty or `default`. For an Argo Workflows
    template, the workflow's `spec.serviceAccountName` applies when the template sets none.

    A pod that sets `automountServiceAccountToken: false` and requests no token through a
    projected `serviceAccountToken` volume is not reported: it holds no credential of the
    account, so which account it is has no effect on what it can do.

    ## Why is this bad?
    Every pod of the namespace that does not choose an account shares `default`. Any role bound
    to it, by a chart or an operator that took the shortcut, is granted to all of them at once,
    and audit logs cannot tell the workloads apart. A dedicated account per workload keeps
    permissions and audit trails separate (MITRE ATT&CK T1078.001, Default Accounts).

    ## Example
    ```yaml
    spec:
      template:
        spec:
          containers:
          - name: worker
            image: registry.example.com/worker:1.0
    ```

    ## How to fix
    ```yaml
    apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: worker
    ---
    spec:
      template:
        spec:
          serviceAccountName: worker
          containers:
          - name: worker
            image: registry.example.com/worker:1.0
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/service-accounts/
    - https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
    - CIS Kubernetes Benchmark 5.1.5
    """
    name, scope, field = service_account_of(pod)
    if name and name != "default":
        return
    if pod.scope("automountServiceAccountToken").bool("automountServiceAccountToken") is False and not _projects_token(
        pod
    ):
        return
    how = f"{field}: default" if name else "serviceAccountName is unset"
    yield Violation(f"pod runs as the namespace's default ServiceAccount ({how})", scope.at(field))


# (apiVersion, kind) -> (Kubernetes version that stopped serving it, what to use instead).
# From the Kubernetes "Deprecated API Migration Guide" (removals of v1.16 to v1.32), plus the alpha
# versions removed in v1.23 (CHANGELOG-1.23, kubernetes/kubernetes#104248), which the guide omits.
_APPS_V1 = "apps/v1"
REMOVED_APIS: dict[tuple[str, str], tuple[str, str]] = {
    # v1.16
    ("extensions/v1beta1", "NetworkPolicy"): ("v1.16", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "DaemonSet"): ("v1.16", _APPS_V1),
    ("apps/v1beta2", "DaemonSet"): ("v1.16", _APPS_V1),
    ("extensions/v1beta1", "Deployment"): ("v1.16", _APPS_V1),
    ("apps/v1beta1", "Deployment"): ("v1.16", _APPS_V1),
    ("apps/v1beta2", "Deployment"): ("v1.16", _APPS_V1),
    ("apps/v1beta1", "StatefulSet"): ("v1.16", _APPS_V1),
    ("apps/v1beta2", "StatefulSet"): ("v1.16", _APPS_V1),
    ("extensions/v1beta1", "ReplicaSet"): ("v1.16", _APPS_V1),
    ("apps/v1beta1", "ReplicaSet"): ("v1.16", _APPS_V1),
    ("apps/v1beta2", "ReplicaSet"): ("v1.16", _APPS_V1),
    ("extensions/v1beta1", "PodSecurityPolicy"): (
        "v1.16",
        "Pod Security Admission (PodSecurityPolicy itself was removed in v1.25)",
    ),
    # v1.22
    ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration"): (
        "v1.22",
        "admissionregistration.k8s.io/v1",
    ),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"): (
        "v1.22",
        "admissionregistration.k8s.io/v1",
    ),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"): ("v1.22", "apiextensions.k8s.io/v1"),
    ("apiregistration.k8s.io/v1beta1", "APIService"): ("v1.22", "apiregistration.k8s.io/v1"),
    ("authentication.k8s.io/v1beta1", "TokenReview"): ("v1.22", "authentication.k8s.io/v1"),
    ("authorization.k8s.io/v1beta1", "LocalSubjectAccessReview"): ("v1.22", "authorization.k8s.io/v1"),
    ("authorization.k8s.io/v1beta1", "SelfSubjectAccessReview"): ("v1.22", "authorization.k8s.io/v1"),
    ("authorization.k8s.io/v1beta1", "SubjectAccessReview"): ("v1.22", "authorization.k8s.io/v1"),
    ("authorization.k8s.io/v1beta1", "SelfSubjectRulesReview"): ("v1.22", "authorization.k8s.io/v1"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"): ("v1.22", "certificates.k8s.io/v1"),
    ("coordination.k8s.io/v1beta1", "Lease"): ("v1.22", "coordination.k8s.io/v1"),
    ("extensions/v1beta1", "Ingress"): ("v1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "Ingress"): ("v1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "IngressClass"): ("v1.22", "networking.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"): ("v1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"): ("v1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "Role"): ("v1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "RoleBinding"): ("v1.22", "rbac.authorization.k8s.io/v1"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"): ("v1.22", "scheduling.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSIDriver"): ("v1.22", "storage.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSINode"): ("v1.22", "storage.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "StorageClass"): ("v1.22", "storage.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"): ("v1.22", "storage.k8s.io/v1"),
    # v1.23 (alpha versions, kubernetes/kubernetes#104248)
    ("rbac.authorization.k8s.io/v1alpha1", "ClusterRole"): ("v1.23", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1alpha1", "ClusterRoleBinding"): ("v1.23", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1alpha1", "Role"): ("v1.23", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1alpha1", "RoleBinding"): ("v1.23", "rbac.authorization.k8s.io/v1"),
    ("scheduling.k8s.io/v1alpha1", "PriorityClass"): ("v1.23", "scheduling.k8s.io/v1"),
    # v1.25
    ("batch/v1beta1", "CronJob"): ("v1.25", "batch/v1"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): ("v1.25", "discovery.k8s.io/v1"),
    ("events.k8s.io/v1beta1", "Event"): ("v1.25", "events.k8s.io/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): ("v1.25", "autoscaling/v2"),
    ("policy/v1beta1", "PodDisruptionBudget"): ("v1.25", "policy/v1"),
    ("policy/v1beta1", "PodSecurityPolicy"): (
        "v1.25",
        "Pod Security Admission (namespace labels) or a policy engine; there is no replacement API",
    ),
    ("node.k8s.io/v1beta1", "RuntimeClass"): ("v1.25", "node.k8s.io/v1"),
    # v1.26
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"): ("v1.26", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"): (
        "v1.26",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): ("v1.26", "autoscaling/v2"),
    # v1.27
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): ("v1.27", "storage.k8s.io/v1"),
    # v1.29
    ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"): ("v1.29", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration"): (
        "v1.29",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    # v1.32
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"): ("v1.32", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration"): (
        "v1.32",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
}
REMOVED_API_KINDS = frozenset(kind for _v, kind in REMOVED_APIS)


@check(
    id="KF-WL-003",
    name="removed-api-version",
    title="Object uses an API version that Kubernetes no longer serves",
    verified="Object uses an API version that Kubernetes still serves",
    severity=Severity.LOW,
    target="object",
    kinds=REMOVED_API_KINDS,
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: Upgrading and application security practices",),
        trivy=("KSV-0107",),
        kube_linter=("no-extensions-v1beta",),
    ),
    remediation="Move the object to the replacement apiVersion named in the message (kubectl convert can help) and review the field changes listed in the Kubernetes deprecated API migration guide.",
)
def removed_api_version(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags built-in objects whose `apiVersion` and `kind` name an API version that Kubernetes
    has stopped serving: for example `extensions/v1beta1` Deployment, DaemonSet, ReplicaSet,
    Ingress, NetworkPolicy and PodSecurityPolicy; `apps/v1beta1` and `apps/v1beta2`;
    `batch/v1beta1` CronJob; `policy/v1beta1` PodDisruptionBudget and PodSecurityPolicy;
    `networking.k8s.io/v1beta1` Ingress and IngressClass; `rbac.authorization.k8s.io/v1beta1`
    and `v1alpha1`; `autoscaling/v2beta1` and `v2beta2` HorizontalPodAutoscaler; the
    `flowcontrol.apiserver.k8s.io` betas; `storage.k8s.io/v1beta1` CSIStorageCapacity. The
    message names the Kubernetes version that removed it and the `apiVersion` to use instead.

    The table follows the Kubernetes "Deprecated API Migration Guide" (removals in v1.16, v1.22,
    v1.25, v1.26, v1.27, v1.29 and v1.32), plus `rbac.authorization.k8s.io/v1alpha1` and
    `scheduling.k8s.io/v1alpha1`, removed in v1.23. Only these kinds are evaluated; other kinds
    get no outcome, current versions of them pass.

    ## Why is this bad?
    The API server rejects such a manifest, so the object silently stays at whatever version is
    deployed, or the whole release fails to apply during an upgrade. Security objects are hit
    hardest: a `policy/v1beta1` PodSecurityPolicy enforces nothing on a current cluster, and an
    old Ingress or NetworkPolicy manifest that never applies leaves the previous (or no) rule in
    place while the repository claims otherwise.

    ## Example
    ```yaml
    apiVersion: extensions/v1beta1
    kind: Ingress
    metadata:
      name: web
    spec:
      backend:
        serviceName: web
        servicePort: 80
    ```

    ## How to fix
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: web
    spec:
      defaultBackend:
        service:
          name: web
          port:
            number: 80
    ```

    ## References
    - https://kubernetes.io/docs/reference/using-api/deprecation-guide/
    - https://github.com/kubernetes/kubernetes/blob/master/CHANGELOG/CHANGELOG-1.23.md
    """
    key = (res.id.api_version, res.id.kind)
    if key in REMOVED_APIS:
        removed, use = REMOVED_APIS[key]
        yield Violation(
            f"{res.id.api_version} {res.id.kind} is no longer served since Kubernetes {removed}; use {use}",
            ("apiVersion",),
        )
