"""`kubefort admission vap`: kubefort's checks as ValidatingAdmissionPolicies, with no webhook.

For every selected check that CEL expresses exactly (vap_rules.py; `--list` and vap_coverage.py
say which and why), one `ValidatingAdmissionPolicy` and one `ValidatingAdmissionPolicyBinding`
(`admissionregistration.k8s.io/v1`, Kubernetes 1.30 or later):

* the policy `kubefort-<check id>` matches CREATE and UPDATE of every built-in kind that carries a
  pod template (Pods and their ephemeral containers, PodTemplates, ReplicationControllers,
  Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs); an UPDATE that leaves
  the pod template alone is not judged again (`matchConditions`). One validation, whose message
  names the check ID, what failed (the containers) and the fix; `reason: Forbidden` (403);
* its binding applies it with `validationActions` (Deny by default; Warn and Audit to roll out)
  in every namespace but kube-system (and others excluded), optionally only in namespaces with
  given labels.

One policy per check, so a denial names the one check that failed and a check can be dropped
(or bound differently) on its own. Nothing here reads a cluster: the output is for `kubectl apply`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubefort.admission.vap_cel import TEMPLATE_CHANGED, cel_string, variables_for
from kubefort.admission.vap_rules import COVERED, Rule
from kubefort.registry import CheckMeta, Registry

API_VERSION = "admissionregistration.k8s.io/v1"
ACTIONS = ("Deny", "Warn", "Audit")
FAILURE_POLICIES = ("Fail", "Ignore")
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubefort"}
CHECK_LABEL = "kubefort.io/check"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?")


class VapError(ValueError):
    """Options the API server would refuse (a usage error)."""


@dataclass(frozen=True, slots=True)
class VapOptions:
    actions: tuple[str, ...] = ("Deny",)
    failure_policy: str = "Fail"
    exclude_namespaces: tuple[str, ...] = ("kube-system",)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)  # the binding's matchLabels
    binding_suffix: str = ""  # a second binding of the same policies (another action, other namespaces)

    def validate(self) -> None:
        if not self.actions:
            raise VapError("give at least one --action")
        unknown = [a for a in self.actions if a not in ACTIONS]
        if unknown:
            raise VapError(f"unknown action {unknown[0]!r} (choose from {', '.join(ACTIONS)})")
        # admissionregistration validation: "Deny and Warn may not be used together"
        if "Deny" in self.actions and "Warn" in self.actions:
            raise VapError("--action Deny and Warn cannot be combined (a denial already tells the client)")
        if self.binding_suffix and not _DNS_LABEL.fullmatch(self.binding_suffix):
            raise VapError(
                f"binding suffix {self.binding_suffix!r} must be lower-case letters, digits and '-' (a DNS label)"
            )
        if self.failure_policy not in FAILURE_POLICIES:
            raise VapError(f"unknown failure policy {self.failure_policy!r} (choose Fail or Ignore)")


def policy_name(check_id: str) -> str:
    return f"kubefort-{check_id.lower()}"


def binding_name(check_id: str, suffix: str = "") -> str:
    return policy_name(check_id) + (f"-{suffix}" if suffix else "")


def _message(meta: CheckMeta) -> str:
    return f"{meta.id} {meta.name}: {meta.title}. Fix: {meta.remediation}"


def _message_expression(meta: CheckMeta, rule: Rule) -> str:
    head = cel_string(f"{meta.id} {meta.name}: {meta.title} (")
    tail = cel_string(f"). Fix: {meta.remediation}")
    return f"{head} + {rule.detail} + {tail}"


def _labels(meta: CheckMeta) -> dict[str, str]:
    return {**MANAGED_BY, CHECK_LABEL: meta.id}


def _resource_rules(rule: Rule) -> list[dict[str, Any]]:
    return [
        {"apiGroups": [group], "apiVersions": [version], "operations": list(ops), "resources": list(resources)}
        for group, version, resources, ops in rule.resources
    ]


def policy(meta: CheckMeta, rule: Rule, options: VapOptions) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy of one check."""
    validation: dict[str, Any] = {"expression": rule.allowed, "message": _message(meta), "reason": "Forbidden"}
    if rule.detail:
        validation["messageExpression"] = _message_expression(meta, rule)
    texts = [rule.allowed, rule.detail]
    spec: dict[str, Any] = {
        "failurePolicy": options.failure_policy,
        "matchConstraints": {"resourceRules": _resource_rules(rule)},
    }
    if any("UPDATE" in ops for *_rest, ops in rule.resources):
        spec["matchConditions"] = [{"name": "pod-template-changed", "expression": TEMPLATE_CHANGED}]
    spec["variables"] = [{"name": n, "expression": e} for n, e in variables_for(texts)]
    spec["validations"] = [validation]
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {
            "name": policy_name(meta.id),
            "labels": _labels(meta),
            "annotations": {"kubefort.io/check-name": meta.name, "kubefort.io/severity": meta.severity.label},
        },
        "spec": spec,
    }


def binding(meta: CheckMeta, options: VapOptions) -> dict[str, Any]:
    """The ValidatingAdmissionPolicyBinding of one check's policy."""
    selector: dict[str, Any] = {}
    if options.namespace_labels:
        selector["matchLabels"] = dict(sorted(options.namespace_labels.items()))
    if options.exclude_namespaces:
        selector["matchExpressions"] = [
            {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": sorted(set(options.exclude_namespaces))}
        ]
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": binding_name(meta.id, options.binding_suffix), "labels": _labels(meta)},
        "spec": {
            "policyName": policy_name(meta.id),
            "validationActions": list(options.actions),
            "matchResources": {"namespaceSelector": selector},
        },
    }


def generate(check_ids: Iterable[str], registry: Registry, options: VapOptions | None = None) -> list[dict[str, Any]]:
    """Policy then binding of every covered check among `check_ids`, in check ID order; the IDs
    that are not covered are left out (`covered_ids` says which)."""
    opts = options or VapOptions()
    opts.validate()
    out: list[dict[str, Any]] = []
    for cid in sorted(set(check_ids)):
        rule = COVERED.get(cid)
        if rule is None:
            continue
        meta = registry.get(cid)
        out += [policy(meta, rule, opts), binding(meta, opts)]
    return out


def covered_ids(check_ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """(covered, not covered) among `check_ids`, each sorted."""
    ids = sorted(set(check_ids))
    return [i for i in ids if i in COVERED], [i for i in ids if i not in COVERED]
