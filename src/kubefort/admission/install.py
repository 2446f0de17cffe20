"""`kubefort admission install`: the ValidatingWebhookConfiguration that sends reviews to
`kubefort admission serve`.

Three webhooks, one per failure scope, so that a webhook that is down blocks only what asked to
be protected (docs/admission.md "When the webhook is down"):

| webhook | what it receives | failurePolicy (scoped) |
|---|---|---|
| `labelled.webhook.kubefort.io` | namespaced objects in namespaces labelled `kubefort.io/enforce: <level>` | Fail: the namespace opted in to enforcement, so nothing unchecked gets in |
| `namespaced.webhook.kubefort.io` | namespaced objects elsewhere | Ignore: a webhook outage never blocks them |
| `cluster.webhook.kubefort.io` | cluster-scoped objects (Namespaces, ClusterRoles...) | Ignore |

`--failure-policy Fail` or `Ignore` sets all three. Every webhook excludes kube-system and
kubefort's own namespace (by the `kubernetes.io/metadata.name` label the API server sets on every
namespace), so a broken webhook can neither stop the control plane's add-ons nor its own
repair. Each object matches exactly one webhook (the namespace selectors exclude each other, and
`scope` keeps cluster-scoped objects, whose namespaceSelector would otherwise be ignored, to
the third), so it is judged once.

Rules name the resources kubefort's selected per-object checks judge (RESOURCES), for CREATE and
UPDATE, at the version listed; `matchPolicy: Equivalent` sends a request made through another
version of the same resource too, converted to that version. Secrets are never sent (the webhook
never sees a Secret's value), nor high-volume objects written by the control plane (Events,
Leases, EndpointSlices, Nodes), nor webhook configurations (the API server never sends those).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kubefort.admission.policy import LABEL_PREFIX
from kubefort.model import Severity
from kubefort.registry import Registry

NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_NAME = "kubefort"
DEFAULT_TIMEOUT = 5
FAILURE_POLICIES = ("scoped", "Fail", "Ignore")
PATH = "/validate"

# kind -> (API group, version, resource, cluster-scoped): what the webhook may receive
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "Pod": ("", "v1", "pods", False),
    "PodTemplate": ("", "v1", "podtemplates", False),
    "ReplicationController": ("", "v1", "replicationcontrollers", False),
    "Service": ("", "v1", "services", False),
    "ConfigMap": ("", "v1", "configmaps", False),
    "Namespace": ("", "v1", "namespaces", True),
    "Deployment": ("apps", "v1", "deployments", False),
    "ReplicaSet": ("apps", "v1", "replicasets", False),
    "StatefulSet": ("apps", "v1", "statefulsets", False),
    "DaemonSet": ("apps", "v1", "daemonsets", False),
    "Job": ("batch", "v1", "jobs", False),
    "CronJob": ("batch", "v1", "cronjobs", False),
    "Ingress": ("networking.k8s.io", "v1", "ingresses", False),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies", False),
    "PodDisruptionBudget": ("policy", "v1", "poddisruptionbudgets", False),
    "HorizontalPodAutoscaler": ("autoscaling", "v2", "horizontalpodautoscalers", False),
    "Role": ("rbac.authorization.k8s.io", "v1", "roles", False),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings", False),
    "ClusterRole": ("rbac.authorization.k8s.io", "v1", "clusterroles", True),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", True),
}
POD_KINDS = (
    "Pod",
    "PodTemplate",
    "ReplicationController",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
)
# `kubectl debug` adds ephemeral containers through this subresource: judged as the whole Pod
EPHEMERAL = "pods/ephemeralcontainers"
ENFORCING = sorted(s.label for s in Severity)  # the label values that enforce


@dataclass(frozen=True, slots=True)
class Rule:
    group: str
    version: str  # "*" for custom resources given by the user
    resource: str
    cluster: bool


def judged_kinds(registry: Registry, check_ids: Iterable[str]) -> set[str]:
    """The kinds of RESOURCES some selected check judges: the kinds object checks name, and
    every pod-bearing kind when a pod, container or pod-targeting check is selected."""
    kinds: set[str] = set()
    for cid in check_ids:
        m = registry.get(cid)
        if m.target in ("pod", "container") or (
            m.target == "cluster" and set(m.kinds or ()) & {"@pods", "@namespaced-pods"}
        ):
            kinds.update(POD_KINDS)
        elif m.target == "object" and m.kinds:
            kinds.update(k for k in m.kinds if k in RESOURCES)
    return kinds


def parse_resource(text: str) -> Rule:
    """`argoproj.io/workflows` (a custom resource with pod templates), any version, namespaced;
    `argoproj.io/clusterworkflowtemplates:cluster` for a cluster-scoped one."""
    spec, _, scope = text.partition(":")
    group, slash, resource = spec.strip().rpartition("/")
    if not slash or not group or not resource or scope not in ("", "cluster", "namespaced"):
        raise ValueError(f"{text!r}: expected GROUP/RESOURCE[:cluster] (for example argoproj.io/workflows)")
    return Rule(group, "*", resource, scope == "cluster")


def rules_for(kinds: Iterable[str], extra: Sequence[Rule] = ()) -> list[Rule]:
    out = [Rule(*RESOURCES[k]) for k in kinds if k in RESOURCES]
    if "Pod" in kinds:
        out.append(Rule("", "v1", EPHEMERAL, False))
    out.extend(extra)
    return sorted(set(out), key=lambda r: (r.cluster, r.group, r.version, r.resource))


def _rule_objects(rules: Sequence[Rule], cluster: bool) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[str]] = {}
    for r in rules:
        if r.cluster == cluster:
            groups.setdefault((r.group, r.version), []).append(r.resource)
    return [
        {
            "apiGroups": [g],
            "apiVersions": [v],
            "resources": sorted(res),
            "operations": ["CREATE", "UPDATE"],
            "scope": "Cluster" if cluster else "Namespaced",
        }
        for (g, v), res in sorted(groups.items())
    ]


def client_config(*, service: tuple[str, str, int] | None, url: str | None, ca_bundle: bytes | None) -> dict[str, Any]:
    """`clientConfig`: a Service (namespace, name, port) or a URL, and the CA (PEM) that signed
    the server's certificate."""
    cc: dict[str, Any] = {}
    if service is not None:
        ns, name, port = service
        cc["service"] = {"namespace": ns, "name": name, "port": port, "path": PATH}
    elif url is not None:
        cc["url"] = url.rstrip("/") + PATH if not url.rstrip("/").endswith(PATH) else url
    else:
        raise ValueError("a Service or a URL is needed")
    if ca_bundle:
        cc["caBundle"] = base64.b64encode(ca_bundle).decode()
    return cc


def webhook_configuration(
    rules: Sequence[Rule],
    *,
    client: dict[str, Any],
    name: str = DEFAULT_NAME,
    failure_policy: str = "scoped",
    timeout: int = DEFAULT_TIMEOUT,
    exclude_namespaces: Sequence[str] = ("kube-system",),
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1)."""
    if failure_policy not in FAILURE_POLICIES:
        raise ValueError(f"failure policy {failure_policy!r}: choose one of {', '.join(FAILURE_POLICIES)}")
    if not 1 <= timeout <= 30:
        raise ValueError(f"timeout {timeout}: the API server takes 1 to 30 seconds")
    excluded = {"key": NAME_LABEL, "operator": "NotIn", "values": sorted(set(exclude_namespaces))}
    enforce_label = {"key": LABEL_PREFIX + "enforce", "operator": "In", "values": ENFORCING}
    not_enforced = {**enforce_label, "operator": "NotIn"}

    def policy(scoped: str) -> str:
        return scoped if failure_policy == "scoped" else failure_policy

    def webhook(prefix: str, selector: list[dict[str, Any]], cluster: bool, scoped: str) -> dict[str, Any]:
        return {  # copies: each webhook its own objects (a YAML dump shows no anchors)
            "name": f"{prefix}.webhook.kubefort.io",
            "clientConfig": copy.deepcopy(client),
            "rules": _rule_objects(rules, cluster),
            "failurePolicy": policy(scoped),
            "matchPolicy": "Equivalent",
            "namespaceSelector": {"matchExpressions": copy.deepcopy(selector)},
            "sideEffects": "None",
            "timeoutSeconds": timeout,
            "admissionReviewVersions": ["v1"],
        }

    hooks = []
    if any(not r.cluster for r in rules):
        hooks.append(webhook("labelled", [excluded, enforce_label], False, "Fail"))
        hooks.append(webhook("namespaced", [excluded, not_enforced], False, "Ignore"))
    if any(r.cluster for r in rules):
        hooks.append(webhook("cluster", [excluded], True, "Ignore"))
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": "kubefort"}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": hooks,
    }
