"""The labels pods of a pod template carry (their template's, and those their controller adds),
and Service selectors over them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.exposure.routes import group_of, spec_of
from kubefort.kube.pods import BUILTIN_GROUPS, KNOWN_POD_PATHS, Fields, find_pods
from kubefort.kube.selectors import Selector
from kubefort.model import NotEvaluated, Resource


@dataclass(slots=True)
class PodTemplate:
    """The labels the pods of one pod template carry: the template's `labels`, and the labels
    their controller adds (`generated`: key -> the values it can take, None for any value, such
    as a hash). `labels` None: they could not be read (`problem` says why)."""

    resource: Resource
    labels: dict[str, str] | None
    problem: str = ""
    generated: dict[str, frozenset[str] | None] = field(default_factory=dict)

    def values(self, key: str) -> tuple[bool, frozenset[str] | None]:
        """(whether the pods carry `key`, the values it can have: None for any)."""
        labels = self.labels or {}
        if key in self.generated:
            gen = self.generated[key]
            return True, None if gen is None else gen | ({labels[key]} if key in labels else frozenset())
        if key in labels:
            return True, frozenset({labels[key]})
        return False, frozenset()

    def may_have(self, key: str, value: str) -> bool:
        present, values = self.values(key)
        return present and (values is None or value in values)

    def may_select(self, selector: Mapping[str, str]) -> bool:
        """Can a Service selector (equality on every key) select pods of this template?"""
        return all(self.may_have(k, v) for k, v in selector.items())

    def may_match(self, selector: Selector) -> bool:
        """Can a label selector match pods of this template?"""
        if not all(self.may_have(k, v) for k, v in selector.labels):
            return False
        for key, op, vals in selector.exprs:
            present, values = self.values(key)
            if op == "In":
                ok = present and (values is None or bool(values & set(vals)))
            elif op == "NotIn":
                ok = not present or values is None or bool(values - set(vals))
            elif op == "Exists":
                ok = present
            else:
                ok = not present
            if not ok:
                return False
        return True


# controllers cap the ordinals they enumerate here; a larger StatefulSet's pod names are "any"
_MAX_ORDINALS = 10_000
ANY: frozenset[str] | None = None


def _ordinals(res: Resource) -> range | None:
    spec = res.obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    replicas = spec.get("replicas", 1)
    ordinals = spec.get("ordinals")
    start = ordinals.get("start", 0) if isinstance(ordinals, dict) else 0
    if type(replicas) is not int or type(start) is not int or not 0 <= replicas <= _MAX_ORDINALS or start < 0:
        return None
    return range(start, start + replicas)


def _indexed(job_spec: Any) -> bool:
    return isinstance(job_spec, dict) and job_spec.get("completionMode") == "Indexed"


def generated_labels(res: Resource) -> dict[str, frozenset[str] | None]:
    """The labels a built-in controller adds to the pods of its template: Deployments
    `pod-template-hash`; DaemonSets `controller-revision-hash`, `pod-template-generation`;
    StatefulSets `controller-revision-hash`, `statefulset.kubernetes.io/pod-name` (`<name>-<i>`)
    and `apps.kubernetes.io/pod-index` (`<i>`) for each ordinal; Jobs `controller-uid` and
    `job-name` (also with the `batch.kubernetes.io/` prefix; the name is the Job's, a CronJob's
    Jobs get generated names) and, for Indexed Jobs, `batch.kubernetes.io/job-completion-index`."""
    if group_of(res) not in BUILTIN_GROUPS:
        return {}
    kind, name = res.id.kind, res.id.name
    if kind == "Deployment":
        return {"pod-template-hash": ANY}
    if kind == "DaemonSet":
        return {"controller-revision-hash": ANY, "pod-template-generation": ANY}
    if kind == "StatefulSet":
        ords = _ordinals(res)
        return {
            "controller-revision-hash": ANY,
            "statefulset.kubernetes.io/pod-name": None if ords is None else frozenset(f"{name}-{i}" for i in ords),
            "apps.kubernetes.io/pod-index": None if ords is None else frozenset(str(i) for i in ords),
        }
    if kind in ("Job", "CronJob"):
        spec = res.obj.get("spec")
        job_spec = spec if kind == "Job" else (spec.get("jobTemplate") if isinstance(spec, dict) else None)
        if kind == "CronJob":
            job_spec = job_spec.get("spec") if isinstance(job_spec, dict) else None
        job_name = frozenset({name}) if kind == "Job" else ANY
        out: dict[str, frozenset[str] | None] = {
            "controller-uid": ANY,
            "batch.kubernetes.io/controller-uid": ANY,
            "job-name": job_name,
            "batch.kubernetes.io/job-name": job_name,
        }
        if _indexed(job_spec):
            out["batch.kubernetes.io/job-completion-index"] = ANY
        return out
    return {}


def template_of(res: Resource, meta: Fields | None) -> PodTemplate:
    """One pod template from its metadata (`meta`; None: it has none, so no labels). The labels
    are a map[string]string as the API server decodes it (`Fields.str_map`): a null value is
    "", any other non-string value leaves them unreadable (`problem` says where)."""
    try:
        labels = {} if meta is None else meta.str_map("labels")
    except NotEvaluated as exc:
        return PodTemplate(res, None, exc.reason)
    return PodTemplate(res, labels, generated=generated_labels(res))


def template_labels(res: Resource) -> list[PodTemplate]:
    """The label sets of the object's pod templates. A built-in controller whose pod spec is
    malformed still has the labels of its template (a selector matches them or not); one
    without a template has no pods."""
    try:
        pods = find_pods(res)
    except NotEvaluated as exc:
        paths = KNOWN_POD_PATHS.get(res.id.kind)
        if paths is None or paths[1] is None or group_of(res) not in BUILTIN_GROUPS:
            return [PodTemplate(res, None, exc.reason)]
        keys = tuple(str(k) for k in paths[1])
        f = Fields(res.obj, ())
        try:
            if f.get(*keys[:-1]) is None:
                return []
            meta = Fields(f.mapping(*keys), paths[1])
        except NotEvaluated as inner:
            return [PodTemplate(res, None, inner.reason)]
        return [template_of(res, meta)]
    return [template_of(res, pod.meta) for pod in pods]


def service_selector(res: Resource) -> dict[str, str] | None:
    """A v1 Service's `spec.selector` (None: absent or empty, the endpoints are managed by hand), a
    map[string]string as the API server decodes it (`Fields.str_map`: a null value is ""; any
    other non-string value raises NotEvaluated, the API server rejects it)."""
    return spec_of(res).str_map("selector") or None


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service selector (equality on every key) against a label set."""
    return all(labels.get(k) == v for k, v in selector.items())


def describe_labels(labels: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"
