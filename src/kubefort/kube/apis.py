"""Which built-in kinds the Kubernetes API serves under which group and version.

The API server resolves `apiVersion` + `kind` to a REST mapping before it decodes anything: a kind
that its group does not have, or a version that group never served (`v1` NetworkPolicy,
`apps/v1beta9` Deployment), is rejected with "no matches for kind". `unserved` says so for the
built-in groups, and says nothing about other groups (a CustomResourceDefinition decides those,
and a custom resource may well reuse a built-in kind name, such as Calico's NetworkPolicy).

The table holds every version of every built-in kind that a Kubernetes release served:
* current: the discovery documents of kube-apiserver v1.37.2 started with
  `--runtime-config=api/all=true` (every alpha and beta version enabled);
* earlier: versions later releases removed, from the discovery snapshots kept in
  kubernetes/kubernetes `api/discovery/` and the deprecated API migration guide (the removed ones
  are also KF-WL-003's table, `kubefort.checks.workload.REMOVED_APIS`).
Subresource kinds that are posted as objects (Binding, Eviction, Scale, TokenRequest) are listed
with their groups too, so that such bodies are never reported.
"""

from __future__ import annotations

import functools
from typing import NoReturn

from kubefort.model import NotApplicable, NotEvaluated, Resource

# group -> version -> kinds, as served by kube-apiserver v1.37.2 with every API version enabled
_CURRENT: dict[str, dict[str, tuple[str, ...]]] = {
    "": {
        "v1": (
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        )
    },
    "admissionregistration.k8s.io": {
        "v1": (
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        ),
        "v1alpha1": ("MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"),
        "v1beta1": ("MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"),
    },
    "apiextensions.k8s.io": {"v1": ("CustomResourceDefinition",)},
    "apiregistration.k8s.io": {"v1": ("APIService",)},
    "apps": {"v1": ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet")},
    "authentication.k8s.io": {"v1": ("SelfSubjectReview", "TokenReview", "TokenRequest")},
    "authorization.k8s.io": {
        "v1": ("LocalSubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview")
    },
    "autoscaling": {"v1": ("HorizontalPodAutoscaler", "Scale"), "v2": ("HorizontalPodAutoscaler",)},
    "batch": {"v1": ("CronJob", "Job")},
    "certificates.k8s.io": {
        "v1": ("CertificateSigningRequest", "ClusterTrustBundle", "PodCertificateRequest"),
        "v1beta1": ("ClusterTrustBundle", "PodCertificateRequest"),
    },
    "coordination.k8s.io": {"v1": ("Lease",), "v1alpha2": ("LeaseCandidate",), "v1beta1": ("LeaseCandidate",)},
    "discovery.k8s.io": {"v1": ("EndpointSlice",)},
    "events.k8s.io": {"v1": ("Event",)},
    "flowcontrol.apiserver.k8s.io": {"v1": ("FlowSchema", "PriorityLevelConfiguration")},
    "internal.apiserver.k8s.io": {"v1alpha1": ("StorageVersion",)},
    "lifecycle.k8s.io": {"v1alpha1": ("Eviction", "EvictionRequest")},
    "networking.k8s.io": {"v1": ("IPAddress", "Ingress", "IngressClass", "NetworkPolicy", "ServiceCIDR")},
    "node.k8s.io": {"v1": ("RuntimeClass",)},
    "policy": {"v1": ("Eviction", "PodDisruptionBudget")},
    "rbac.authorization.k8s.io": {"v1": ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")},
    "resource.k8s.io": {
        "v1": ("DeviceClass", "DeviceTaintRule", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"),
        "v1alpha3": ("DeviceTaintRule", "ResourcePoolStatusRequest"),
        "v1beta1": ("DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"),
        "v1beta2": ("DeviceClass", "DeviceTaintRule", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"),
    },
    "scheduling.k8s.io": {
        "v1": ("PriorityClass",),
        "v1alpha3": ("CompositePodGroup", "PodGroup", "Workload"),
        "v1beta1": ("PodGroup", "Workload"),
    },
    "storage.k8s.io": {
        "v1": (
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
            "VolumeAttributesClass",
        )
    },
    "storagemigration.k8s.io": {"v1": ("StorageVersionMigration",), "v1beta1": ("StorageVersionMigration",)},
}

# group -> version -> kinds that earlier releases served and v1.37 no longer does
_EARLIER: dict[str, dict[str, tuple[str, ...]]] = {
    "admissionregistration.k8s.io": {
        "v1alpha1": ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"),
        "v1beta1": (
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        ),
    },
    "apiextensions.k8s.io": {"v1beta1": ("CustomResourceDefinition",)},
    "apiregistration.k8s.io": {"v1beta1": ("APIService",)},
    "apps": {
        "v1beta1": ("ControllerRevision", "Deployment", "ReplicaSet", "StatefulSet"),
        "v1beta2": ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"),
    },
    "authentication.k8s.io": {"v1alpha1": ("SelfSubjectReview",), "v1beta1": ("SelfSubjectReview", "TokenReview")},
    "authorization.k8s.io": {
        "v1beta1": (
            "LocalSubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
        )
    },
    "autoscaling": {"v2beta1": ("HorizontalPodAutoscaler",), "v2beta2": ("HorizontalPodAutoscaler",)},
    "batch": {"v1beta1": ("CronJob",), "v2alpha1": ("CronJob",)},
    "certificates.k8s.io": {
        "v1alpha1": ("ClusterTrustBundle", "PodCertificateRequest"),
        "v1beta1": ("CertificateSigningRequest",),
    },
    "checkpoint.k8s.io": {"v1alpha1": ("PodCheckpoint",)},
    "coordination.k8s.io": {"v1alpha1": ("LeaseCandidate",), "v1beta1": ("Lease",)},
    "discovery.k8s.io": {"v1alpha1": ("EndpointSlice",), "v1beta1": ("EndpointSlice",)},
    "events.k8s.io": {"v1beta1": ("Event",)},
    "extensions": {
        "v1beta1": ("DaemonSet", "Deployment", "Ingress", "NetworkPolicy", "PodSecurityPolicy", "ReplicaSet", "Scale")
    },
    "flowcontrol.apiserver.k8s.io": {
        "v1alpha1": ("FlowSchema", "PriorityLevelConfiguration"),
        "v1beta1": ("FlowSchema", "PriorityLevelConfiguration"),
        "v1beta2": ("FlowSchema", "PriorityLevelConfiguration"),
        "v1beta3": ("FlowSchema", "PriorityLevelConfiguration"),
    },
    "networking.k8s.io": {
        "v1alpha1": ("ClusterCIDR", "IPAddress", "ServiceCIDR"),
        "v1beta1": ("IPAddress", "Ingress", "IngressClass", "ServiceCIDR"),
    },
    "node.k8s.io": {"v1alpha1": ("RuntimeClass",), "v1beta1": ("RuntimeClass",)},
    "policy": {"v1beta1": ("Eviction", "PodDisruptionBudget", "PodSecurityPolicy")},
    "rbac.authorization.k8s.io": {
        "v1alpha1": ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
        "v1beta1": ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
    },
    "resource.k8s.io": {
        "v1alpha2": (
            "PodSchedulingContext",
            "ResourceClaim",
            "ResourceClaimParameters",
            "ResourceClaimTemplate",
            "ResourceClass",
            "ResourceClassParameters",
            "ResourceSlice",
        ),
        "v1alpha3": ("DeviceClass", "PodSchedulingContext", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"),
    },
    "scheduling.k8s.io": {
        "v1alpha1": ("PriorityClass", "Workload"),
        "v1alpha2": ("CompositePodGroup", "PodGroup", "Workload"),
        "v1beta1": ("PriorityClass",),
    },
    "settings.k8s.io": {"v1alpha1": ("PodPreset",)},
    "storage.k8s.io": {
        "v1alpha1": ("CSIStorageCapacity", "VolumeAttachment", "VolumeAttributesClass"),
        "v1beta1": (
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
            "VolumeAttributesClass",
        ),
    },
    "storagemigration.k8s.io": {"v1alpha1": ("StorageVersionMigration",)},
}

BUILTIN_API_GROUPS = frozenset(_CURRENT) | frozenset(_EARLIER)


@functools.cache
def _versions() -> dict[tuple[str, str], tuple[frozenset[str], tuple[str, ...]]]:
    """(group, kind) -> (every version ever served, the versions v1.37 serves, newest first)."""
    out: dict[tuple[str, str], tuple[set[str], list[str]]] = {}
    for table, current in ((_CURRENT, True), (_EARLIER, False)):
        for group, versions in table.items():
            for version, kinds in versions.items():
                for kind in kinds:
                    every, now = out.setdefault((group, kind), (set(), []))
                    every.add(version)
                    if current:
                        now.append(version)
    return {k: (frozenset(every), tuple(sorted(now, key=_version_rank))) for k, (every, now) in out.items()}


def _version_rank(version: str) -> tuple[int, int, int]:
    """Kubernetes' version priority (GA > beta > alpha, then the higher number), as a sort key."""
    major, _, rest = version[1:].partition("alpha") if "alpha" in version else version[1:].partition("beta")
    stage = 0 if "alpha" in version else 1 if "beta" in version else 2
    return (-stage, -int(major or 0), -int(rest or 0))


@functools.cache
def _groups_of_kind() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for group, kind in _versions():
        out.setdefault(kind, []).append(group)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def parse_group_version(api_version: str) -> tuple[str, str] | None:
    """(group, version) as apimachinery's `schema.ParseGroupVersion` reads it, None when it is not one."""
    if api_version.count("/") > 1:
        return None
    group, _, version = api_version.rpartition("/")
    return group, version


def served_as(group: str, kind: str) -> tuple[str, ...]:
    """The apiVersions v1.37 serves `kind` of `group` as (newest first); () when it serves none."""
    found = _versions().get((group, kind))
    return tuple(f"{group}/{v}" if group else v for v in found[1]) if found else ()


def _current_api_versions(kind: str) -> tuple[str, ...]:
    return tuple(av for group in _groups_of_kind().get(kind, ()) for av in served_as(group, kind))


@functools.lru_cache(maxsize=4096)  # every object of a scan asks; the pairs repeat
def unserved(api_version: str, kind: str) -> str | None:
    """Why the API server would reject an object of `kind` sent as `api_version` ("no matches for
    kind"), or None when it may serve it: a version some release served, or a group that is not
    built in (custom resources are their CRD's business)."""
    gv = parse_group_version(api_version)
    if gv is None:
        return f"apiVersion {api_version!r} is not GROUP/VERSION"
    group, version = gv
    if group not in BUILTIN_API_GROUPS:
        return None
    found = _versions().get((group, kind))
    if found is not None:
        if version in found[0]:
            return None
        use = served_as(group, kind) or _current_api_versions(kind)
        return f"{kind} is not served as {api_version} by any Kubernetes release" + (f"; use {use[0]}" if use else "")
    if kind in _groups_of_kind():
        use = _current_api_versions(kind)
        where = "the core API" if not group else f"the {group} API group"
        return f"{kind} is not served as {api_version}: {where} has no {kind}" + (f"; use {use[0]}" if use else "")
    for g, k in _versions():
        if g == group and k.lower() == kind.lower():
            return f"{kind} is not served as {api_version}: kinds are case-sensitive, the kind is {k}"
    return None  # a kind kubefort does not know in a built-in group: a newer release may serve it


CUSTOM_KIND = "a custom resource of another API group that reuses the kind's name"
OTHER_VERSION = "a version of the kind that the check does not read"


def require_api_version(res: Resource, *served: str) -> None:
    """Nothing when `res` is sent as one of the apiVersions `served` (the ones a check reads), else
    as `not_served`."""
    if res.id.api_version not in served:
        not_served(res)


def not_served(res: Resource) -> NoReturn:
    """NotApplicable (`CUSTOM_KIND`) for a custom resource that reuses a built-in kind's name;
    NotEvaluated for a version of a built-in group the API server rejects (KF-INPUT-005 and
    KF-WL-003 report the object itself)."""
    gv = parse_group_version(res.id.api_version)
    if gv is not None and gv[0] not in BUILTIN_API_GROUPS:
        raise NotApplicable(CUSTOM_KIND)
    reason = unserved(res.id.api_version, res.id.kind)
    if reason is None and gv is not None and res.id.api_version in served_as(gv[0], res.id.kind):
        raise NotApplicable(OTHER_VERSION)  # served, but not the version the check reads
    reason = reason or f"{res.id.kind} is no longer served as {res.id.api_version} (KF-WL-003)"
    raise NotEvaluated(f"{reason}; the API server rejects it", ("apiVersion",))
