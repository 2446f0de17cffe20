"""Selectors that select nothing: KF-NET-013 Service selector matching no pod template, 014
controller selector not matching its own template (rejected by the API server), 018
PodDisruptionBudget selecting no pod template.

A selector is judged only when the scan read pod templates of its namespace (see
kube/exposure/model.py `Exposures.unread`): otherwise the outcome is not evaluated, with the
reason. A template's pods carry its labels and those their controller adds
(kube/exposure/templates.py `generated_labels`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.checks.network.common import OWASP
from kubefort.kube.exposure import (
    Exposures,
    PodTemplate,
    describe_labels,
    exposures,
    namespace_of,
    selects,
    service_selector,
    spec_of,
)
from kubefort.kube.pods import Fields
from kubefort.kube.selectors import Selector, parse_selector
from kubefort.model import (
    CheckContext,
    ClusterIndex,
    NotApplicable,
    NotEvaluated,
    Resource,
    Severity,
    Violation,
)
from kubefort.registry import Mappings, check
from kubefort.wording import plural

WORKLOAD_NEEDS = ("Namespace", "@pods")
WORKLOAD_OWASP = ("K01",)  # OWASP Kubernetes Top 10: Insecure Workload Configurations
# controllers whose spec.selector the API server requires to match spec.template.metadata.labels
APPS_CONTROLLERS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")


def _unreadable(unknown: list[PodTemplate]) -> NotEvaluated:
    t = unknown[0]
    return NotEvaluated(f"the pod template labels of {t.resource.id} could not be read: {t.problem}")


def _workload_text(ex: Exposures, ns: str) -> str:
    n = len({id(t.resource) for t in ex.templates.get(ns, [])})
    return f"{plural(n, 'pod-bearing object')} of namespace {ns!r} in the scan"


# ------------------------------------------------------------------------------------------------
# KF-NET-013
# ------------------------------------------------------------------------------------------------
def _runtime_labels(templates: list[PodTemplate], sel: dict[str, str]) -> NotEvaluated | None:
    """A template that has some of the selector's keys, with the selector's values, and lacks the
    others: those may be put on its pods at runtime (an operator's `role: primary`), which no
    manifest shows."""
    for t in templates:
        shared = [k for k in sel if t.values(k)[0]]
        if shared and len(shared) < len(sel) and all(t.may_have(k, sel[k]) for k in shared):
            missing = ", ".join(sorted(set(sel) - set(shared)))
            return NotEvaluated(
                f"no pod template carries {missing}; {t.resource.id} has the selector's other labels: the pods may "
                "get the rest at runtime (set by an operator or the application)"
            )
    return None


@check(
    id="KF-NET-013",
    name="service-selects-no-workload",
    title="Service selector matches no pod template",
    verified="Service selector matches a pod template",
    severity=Severity.LOW,
    target="cluster",
    kinds=("Service",),
    needs=WORKLOAD_NEEDS,
    mappings=Mappings(owasp=OWASP, kubescape=("C-0293",), kube_linter=("dangling-service",)),
    remediation="Make spec.selector equal to labels of the pod template the Service is for (or remove the Service).",
)
def service_selects_no_workload(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For `v1` Services with a non-empty `spec.selector`: fails when no pod template of the
    Service's namespace (Pods, controllers, CronJobs, CRDs carrying pod templates) can carry
    every label of the selector. A template's pods carry its labels and those their controller
    adds (a StatefulSet's `statefulset.kubernetes.io/pod-name` `<name>-<ordinal>` and
    `apps.kubernetes.io/pod-index`, a Job's `job-name`, hashes such as `pod-template-hash`; see
    kube/exposure/templates.py `generated_labels`). Services without a selector (endpoints managed by hand)
    and `ExternalName` Services select no pods by design: out of scope.

    ## Why is this bad?
    A Service that selects nothing has no endpoints: its clients get connection errors, and a
    typo in a label often hides a second mistake, such as a NetworkPolicy or PodDisruptionBudget
    written for the same wrong labels.

    ## Example
    ```yaml
    kind: Service
    spec: {selector: {app: wbe}}     # the Deployment's pods are labelled app: web
    ```

    ## How to fix
    Use the pod template's labels: `selector: {app: web}`.

    ## Not evaluated when
    The scan holds no pod-bearing object of the Service's namespace (manifests: they may be
    defined elsewhere; cluster: the namespace was not listed), the labels of one of them cannot
    be read, or a pod template has the selector's values for the keys it carries and lacks the
    other keys (labels an operator or the application may set on running pods, such as
    `role: primary`).

    ## Not applicable when
    - not a core v1 Service;
    - ExternalName Services select no pods;
    - a Service without selector: its endpoints are managed by hand.

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service

    ## Known limitations
    Pods created by an operator from a custom resource without a pod template (and not listed
    themselves, as in a manifest scan) are not known: a Service for them fails.
    """
    if res.id.api_version != "v1":
        raise NotApplicable("not a core v1 Service")
    spec = spec_of(res)
    if spec.str("type") == "ExternalName":
        raise NotApplicable("ExternalName Services select no pods")
    sel = service_selector(res)
    if sel is None:
        raise NotApplicable("a Service without selector: its endpoints are managed by hand")
    ex = exposures(index)
    hits, unknown = ex.selected(res)
    if hits:
        return
    ns = namespace_of(res)
    why = ex.unread(res, "pod-bearing objects", ns, bool(ex.templates.get(ns)))
    if why is not None:
        raise NotEvaluated(f"cannot tell which pods the selector matches: {why}")
    if unknown:
        raise _unreadable(unknown)
    runtime = _runtime_labels(ex.templates.get(ns, []), sel)
    if runtime is not None:
        raise runtime
    yield Violation(
        f"selector {describe_labels(sel)} matches no pod template ({_workload_text(ex, ns)}): the Service has no endpoints",
        ("spec", "selector"),
    )


# ------------------------------------------------------------------------------------------------
# KF-NET-014
# ------------------------------------------------------------------------------------------------
def _complete_template(spec: Fields) -> None:
    """NotApplicable for an object that is not complete enough to be applied for its selector to
    matter: a kustomize patch or another fragment (no pod template, or a container without an
    image; the API server requires both)."""
    containers = spec.list("template", "spec", "containers")
    if not containers or not all(
        isinstance(c, dict) and isinstance(c.get("image"), str) and c["image"] for c in containers
    ):
        raise NotApplicable("an incomplete object (no pod template with images): a patch or fragment")


def _rc_violation(spec: Fields, labels: dict[str, str]) -> Iterator[Violation]:
    # core/v1 defaulting copies the template labels into an empty selector (SetDefaults_ReplicationController);
    # validation then requires a non-empty selector that matches the template labels
    sel = spec.str_map("selector")
    if not sel and not labels:
        yield Violation(
            "spec.selector is empty and the template has no labels to default it from: the API server rejects the "
            "ReplicationController",
            ("spec",),
        )
    elif sel and not selects(sel, labels):
        yield Violation(
            f"spec.selector {describe_labels(sel)} does not match the template labels ({describe_labels(labels)}): "
            "the API server rejects the ReplicationController",
            ("spec", "selector"),
        )


@check(
    id="KF-NET-014",
    name="controller-selector-mismatch",
    title="Controller selector does not match its pod template",
    verified="Controller selector matches its pod template",
    severity=Severity.MEDIUM,
    target="object",
    kinds=(*APPS_CONTROLLERS, "ReplicationController"),
    mappings=Mappings(owasp=WORKLOAD_OWASP, kubescape=("C-0296",), kube_linter=("mismatching-selector",)),
    remediation="Make spec.template.metadata.labels carry every label of spec.selector (the selector cannot be changed after creation).",
)
def controller_selector_mismatch(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Reports `apps/v1` Deployments, ReplicaSets, StatefulSets and DaemonSets whose
    `spec.selector` is missing, empty, or does not match `spec.template.metadata.labels`, and
    `v1` ReplicationControllers whose selector does not match their template labels (an empty
    one is defaulted from the template labels). The API server rejects every one of them
    (apps validation: "`selector` does not match template `labels`", "empty selector is
    invalid"), so this is a broken manifest rather than a risk. Jobs and CronJobs are out of
    scope (their selectors are generated), and so are fragments such as kustomize patches: an
    object without a pod template whose containers all name an image.

    ## Why is this bad?
    The object never reaches the cluster: the deployment fails, and until someone reads the
    error every other finding about it describes something that does not run.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    spec:
      selector: {matchLabels: {app: web}}
      template: {metadata: {labels: {app: frontend}}}
    ```

    ## How to fix
    Label the template with the selector's labels (`app: web`). The selector of an existing
    controller is immutable: to change it, create a new object.

    ## Not evaluated when
    The selector or the labels have the wrong types, or a `matchExpressions` operator is invalid.

    ## Not applicable when
    - only apps/v1 controllers are served by current API servers (KF-WL-003 reports the others);
    - not a core v1 ReplicationController;
    - an incomplete object (no pod template with images): a patch or fragment.

    ## References
    - https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#selector
    """
    spec = spec_of(res)
    _complete_template(spec)
    if res.id.kind == "ReplicationController":
        if res.id.api_version != "v1":
            raise NotApplicable("not a core v1 ReplicationController")
        yield from _rc_violation(spec, spec.str_map("template", "metadata", "labels"))
        return
    if res.id.api_version != "apps/v1":
        raise NotApplicable("only apps/v1 controllers are served by current API servers")
    labels = spec.str_map("template", "metadata", "labels")
    raw = spec.get("selector")
    if raw is None:
        yield Violation(
            f"spec.selector is missing: apps/v1 requires it; the API server rejects the {res.id.kind}", ("spec",)
        )
        return
    sel = parse_selector(raw, ("spec", "selector"))
    if sel.empty:
        yield Violation(f"spec.selector is empty: the API server rejects the {res.id.kind}", ("spec", "selector"))
    elif not sel.matches(labels):
        yield Violation(
            f"spec.selector {sel} does not match the template labels ({describe_labels(labels)}): the API server "
            f"rejects the {res.id.kind}",
            ("spec", "selector"),
        )


# ------------------------------------------------------------------------------------------------
# KF-NET-018
# ------------------------------------------------------------------------------------------------
def _pdb_selector(res: Resource) -> Selector | None:
    raw: Any = spec_of(res).get("selector")
    return None if raw is None else parse_selector(raw, ("spec", "selector"))


@check(
    id="KF-NET-018",
    name="pdb-selects-no-workload",
    title="PodDisruptionBudget selects no pod template",
    verified="PodDisruptionBudget selects a pod template",
    severity=Severity.LOW,
    target="cluster",
    kinds=("PodDisruptionBudget",),
    needs=WORKLOAD_NEEDS,
    mappings=Mappings(owasp=WORKLOAD_OWASP),
    remediation="Set spec.selector to the labels of the pod template the budget protects.",
)
def pdb_selects_no_workload(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For `policy/v1` PodDisruptionBudgets: fails when `spec.selector` is absent (in policy/v1 a
    null selector selects no pod) or matches no pod template of the budget's namespace (its
    labels and those the controller adds, as for KF-NET-013). An empty selector (`{}`) selects
    every pod of the namespace.

    ## Why is this bad?
    The budget protects nothing: a node drain or cluster upgrade evicts every replica at once,
    although the manifests promise availability.

    ## Example
    ```yaml
    apiVersion: policy/v1
    kind: PodDisruptionBudget
    spec: {minAvailable: 1, selector: {matchLabels: {app: wbe}}}
    ```

    ## How to fix
    `selector: {matchLabels: {app: web}}` (the pod template's labels).

    ## Not evaluated when
    The scan holds no pod-bearing object of the namespace (manifests: they may be defined
    elsewhere; cluster: the namespace was not listed), or the labels of one of them cannot be
    read, or the selector is invalid.

    ## Not applicable when
    - only policy/v1 PodDisruptionBudgets are served by current API servers (KF-WL-003 reports
      the others).

    ## References
    - https://kubernetes.io/docs/tasks/run-application/configure-pdb/#specifying-a-poddisruptionbudget
    """
    if res.id.api_version != "policy/v1":
        raise NotApplicable("only policy/v1 PodDisruptionBudgets are served by current API servers")
    sel = _pdb_selector(res)
    if sel is None:
        yield Violation("spec.selector is not set: in policy/v1 a null selector selects no pod", ("spec",))
        return
    ex = exposures(index)
    ns = namespace_of(res)
    templates = ex.templates.get(ns, [])
    if any(t.labels is not None and t.may_match(sel) for t in templates):
        return
    why = ex.unread(res, "pod-bearing objects", ns, bool(templates))
    if why is not None:
        raise NotEvaluated(f"cannot tell which pods the selector matches: {why}")
    unknown = [t for t in templates if t.labels is None]
    if unknown:
        raise _unreadable(unknown)
    yield Violation(
        f"spec.selector {sel} matches no pod template ({_workload_text(ex, ns)}): the budget protects nothing",
        ("spec", "selector"),
    )
