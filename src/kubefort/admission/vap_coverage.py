"""Which per-object checks `kubefort admission vap` turns into ValidatingAdmissionPolicies, and why
the others are not: `--list`.

A check is covered only when its rule (vap_rules.py) gives the same verdict as the Python check
on every object the API server admits; a check CEL could only approximate is not covered, and
the reason says what is missing. tests/test_admission_vap.py requires a decision, covered or a
reason, for every per-object check in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubefort.admission.vap_rules import COVERED
from kubefort.registry import CheckMeta, Registry

PER_OBJECT_TARGETS = ("object", "pod", "container")

_NODE = "judges a node's files and component configuration (`kubefort node`), not an object sent to the API server"
_FLAGS = (
    "reads a control-plane component's flags (Go flag syntax, files on the node) from its static pod, "
    "which never passes admission"
)
_IMAGE = "needs image-reference parsing (the distribution/reference grammar) beyond CEL"
_NAMESPACE = "a Namespace check: the generated policies cover the kinds that carry pods"

# area -> why none of its per-object checks is covered (every check of these areas)
AREA_REASONS: dict[str, str] = {
    "CLU": "judges cluster facts (versions against release and CVE data, an anonymous-access probe), not an admitted object",
    "CP": _NODE,
    "ETCD": _NODE,
    "KUBELET": _NODE,
}

# check ID -> why it is not covered
REASONS: dict[str, str] = {
    "KF-INPUT-005": "the API server itself refuses a version it does not serve",
    "KF-IMG-001": _IMAGE + ", and its floating-tag list comes from .kubefort.yaml options",
    "KF-IMG-002": _IMAGE,
    "KF-IMG-003": _IMAGE + ", and its floating-tag list comes from .kubefort.yaml options",
    "KF-IMG-004": _IMAGE + ", and its allowed registries come from .kubefort.yaml options",
    "KF-IMG-005": _IMAGE,
    "KF-IMG-006": _IMAGE + ", and its blocked registries come from .kubefort.yaml options",
    "KF-IMG-012": _IMAGE + ", and its signature policy comes from .kubefort.yaml (image_verification)",
    "KF-META-001": "validates kubefort's own exception annotation against the check registry, which the policies do not read",
    "KF-NET-011": "an Ingress check: the generated policies cover the kinds that carry pods",
    "KF-NET-014": "the API server itself rejects a controller whose selector does not match its template",
    "KF-POD-014": (
        "needs host path normalisation beyond CEL: `..` in a Windows-style path (which the API server accepts, "
        "it refuses `..` only between `/`) must be resolved before the path is compared"
    ),
    "KF-POD-023": (
        "reads net.ipv4.ip_unprivileged_port_start as a number with Python's int() grammar and is not evaluated "
        "on other values; CEL has no exact equivalent"
    ),
    "KF-POD-024": "needs shell parsing of command and args (quoting, wrappers, `sh -c` scripts) beyond CEL",
    "KF-POD-025": "needs shell parsing of command and args (quoting, wrappers, `sh -c` scripts) beyond CEL",
    "KF-PSA-001": _NAMESPACE,
    "KF-PSA-002": _NAMESPACE,
    "KF-PSA-003": _NAMESPACE,
    "KF-PSA-004": "needs the Kubernetes release data (the current version) at runtime",
    "KF-PSA-005": _NAMESPACE,
    "KF-PSA-006": _NAMESPACE,
    "KF-PSS-001": (
        "the whole Pod Security Standards at a level and version: enforce them with Pod Security Admission "
        "(label the namespace pod-security.kubernetes.io/enforce), the same evaluation built into the API server"
    ),
    "KF-PSS-002": (
        "the whole Pod Security Standards at a level and version: enforce them with Pod Security Admission "
        "(label the namespace pod-security.kubernetes.io/enforce), the same evaluation built into the API server"
    ),
    "KF-RES-008": "needs its bound from .kubefort.yaml options (off by default), which a policy does not read",
    "KF-RES-009": "needs its bound from .kubefort.yaml options (off by default), which a policy does not read",
    "KF-RES-010": "needs its bound from .kubefort.yaml options (off by default), which a policy does not read",
    "KF-RES-011": "needs its bound from .kubefort.yaml options (off by default), which a policy does not read",
    "KF-RES-012": "needs its bound from .kubefort.yaml options (off by default), which a policy does not read",
    "KF-SEC-001": "judges manifests kept in source control: at admission every Secret carries its data",
    "KF-SEC-002": "needs credential detection (token formats, entropy) beyond CEL",
    "KF-SEC-004": "needs credential detection (token formats, entropy) beyond CEL",
    "KF-WL-003": "the API server itself refuses a version it no longer serves",
    "KF-WL-006": (
        "judges workloads in kube-system, which the bindings exclude so that a broken policy cannot stop "
        "the control plane's add-ons"
    ),
    "KF-WL-007": _IMAGE + " to recognise Tiller",
    "KF-WL-008": "a Service check: the generated policies cover the kinds that carry pods",
    "KF-WL-009": "reads the Dashboard's flags (Go flag syntax) and image reference, beyond CEL",
    "KF-WL-012": (
        "finding a repeated name compares every env entry with every other (CEL has no maps built from lists "
        "before Kubernetes 1.32): a long env list costs the API server seconds of CPU (10 s for 3,000 entries, "
        "measured on v1.37)"
    ),
}
UNREVIEWED = "not reviewed for policy generation yet"


@dataclass(frozen=True, slots=True)
class Coverage:
    check_id: str
    name: str
    covered: bool
    reason: str  # why not covered; for a covered check, a note (or "")


def decide(meta: CheckMeta) -> Coverage:
    """Whether one per-object check is generated as a policy, and why (not)."""
    rule = COVERED.get(meta.id)
    if rule is not None:
        return Coverage(meta.id, meta.name, True, rule.note)
    if meta.area in AREA_REASONS and meta.kinds and "Pod" in meta.kinds:
        return Coverage(meta.id, meta.name, False, _FLAGS)  # a component's static pod
    reason = REASONS.get(meta.id) or AREA_REASONS.get(meta.area) or UNREVIEWED
    return Coverage(meta.id, meta.name, False, reason)


def coverage(registry: Registry) -> list[Coverage]:
    """Every per-object check (object, pod and container targets) in ID order."""
    return [decide(m) for m in registry if m.target in PER_OBJECT_TARGETS]
