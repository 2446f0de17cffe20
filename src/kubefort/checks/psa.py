"""KF-PSA: Pod Security admission labels on Namespaces, and workloads their own namespace rejects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.checks.pss import field_path, verdict
from kubefort.kube import pss
from kubefort.kube.apis import require_api_version
from kubefort.kube.pods import Fields, find_pods
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, NotEvaluated, Resource, Severity, Violation
from kubefort.registry import Mappings, check

PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
LEVEL_RANK = {"privileged": 0, "baseline": 1, "restricted": 2}
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")
NSA = ("NSA-CISA Kubernetes Hardening Guide: Kubernetes Pod security",)
NAMESPACE_NOT_SCANNED = "the workload's Namespace is not in the scan"
NO_ENFORCE_LABEL = "its Namespace has no enforce label"


def _labels(res: Resource) -> dict[str, str]:
    """metadata.labels as the API server decodes them (map[string]string): a null value is the empty
    string, Go's zero value, so the label is present; any other non-string value makes the API
    server reject the object, and the Namespace is not evaluated. A Namespace sent as a version the
    API server does not serve is not evaluated either (custom resources of that name: out of scope)."""
    require_api_version(res, "v1")
    try:
        return Fields(res.obj, ()).str_map("metadata", "labels")
    except NotEvaluated as exc:
        raise NotEvaluated(f"{res.id}: {exc.reason}; the API server rejects it", exc.path) from None


def _label_path(key: str) -> tuple[str, ...]:
    return ("metadata", "labels", key)


def namespace_policy(res: Resource) -> dict[str, tuple[str, str]]:
    """mode -> (level, version) as the admission plugin resolves the labels (errors fail closed for enforce)."""
    labels = _labels(res)
    out: dict[str, tuple[str, str]] = {}
    for mode in MODES:
        level = labels.get(PREFIX + mode)
        if level is None:
            continue
        version = labels.get(PREFIX + mode + "-version", "latest")
        level_ok = isinstance(level, str) and level in LEVEL_RANK
        version_ok = isinstance(version, str) and (version == "latest" or _VERSION.match(version) is not None)
        if mode == "enforce":
            out[mode] = (level if level_ok else "restricted", version if version_ok else "latest")
        else:
            out[mode] = (level if level_ok else "privileged", version if version_ok else "latest")
    return out


@check(
    id="KF-PSA-001",
    name="namespace-without-enforce-label",
    title="Namespace has no Pod Security enforce label",
    verified="Namespace has a Pod Security enforce label",
    severity=Severity.MEDIUM,
    target="object",
    kinds=("Namespace",),
    mappings=Mappings(
        cis=("5.2.1",), nsa=NSA, pss=("admission",), mitre=("T1610",), owasp=("K01", "K04"), kubescape=("C-0193",)
    ),
    remediation="Label the namespace pod-security.kubernetes.io/enforce=restricted (or baseline) with a pinned enforce-version.",
)
def namespace_without_enforce_label(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags `Namespace` objects without a `pod-security.kubernetes.io/enforce` label.

    ## Why is this bad?
    Without the label, the Pod Security admission plugin applies the cluster's default, which
    is `privileged` (no restriction at all) unless an AdmissionConfiguration says otherwise. Any
    pod, privileged or with host namespaces, is admitted to the namespace.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: shop
    ```

    ## How to fix
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: shop
      labels:
        pod-security.kubernetes.io/enforce: restricted
        pod-security.kubernetes.io/enforce-version: v1.34
    ```

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name. A
    Namespace sent as a version the API server does not serve (`apps/v1`) is not evaluated
    (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces
    - CIS Kubernetes Benchmark 5.2.1
    """
    if PREFIX + "enforce" not in _labels(res):
        yield Violation(
            f"namespace {res.id.name!r} has no {PREFIX}enforce label (the cluster default, usually privileged, applies)",
            ("metadata",),
        )


@check(
    id="KF-PSA-002",
    name="namespace-enforces-privileged",
    title="Namespace enforces the privileged Pod Security level",
    verified="Namespace's Pod Security enforce level is not privileged",
    severity=Severity.MEDIUM,
    target="object",
    kinds=("Namespace",),
    mappings=Mappings(cis=("5.2.1",), nsa=NSA, pss=("admission",), mitre=("T1610", "T1611"), owasp=("K01",)),
    remediation="Enforce baseline or restricted; keep privileged only for system namespaces, with an exception that says why.",
)
def namespace_enforces_privileged(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags namespaces labelled `pod-security.kubernetes.io/enforce: privileged`.

    ## Why is this bad?
    `privileged` turns Pod Security admission off for the namespace: privileged containers,
    host namespaces and hostPath mounts of `/` are all admitted. It is meant for system
    components (CNI, storage drivers, node agents), not for applications.

    ## Example
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: privileged
    ```

    ## How to fix
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: baseline
        pod-security.kubernetes.io/warn: restricted
    ```
    For a system namespace that needs it, keep `privileged` and add a reviewed exception:
    `kubefort.io/ignore: "KF-PSA-002=CNI daemonset needs host networking"`.

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name. A
    Namespace sent as a version the API server does not serve (`apps/v1`) is not evaluated
    (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#privileged
    """
    level = _labels(res).get(PREFIX + "enforce")
    if level == "privileged":
        yield Violation(
            f"namespace {res.id.name!r} enforces the privileged level (no restrictions)",
            _label_path(PREFIX + "enforce"),
        )


@check(
    id="KF-PSA-003",
    name="pod-security-version-unpinned",
    title="Pod Security enforce level is not pinned to a version",
    verified="Pod Security enforce level is pinned to a version, or needs no pin",
    severity=Severity.LOW,
    target="object",
    kinds=("Namespace",),
    mappings=Mappings(pss=("admission",), nsa=NSA, mitre=("T1610",), owasp=("K01",)),
    remediation="Set pod-security.kubernetes.io/enforce-version to the Kubernetes minor version the workloads were tested against (v1.N).",
)
def pod_security_version_unpinned(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags namespaces that enforce `baseline` or `restricted` with no `enforce-version`, or with
    `latest` (`privileged` means the same at every version, so its version is not checked).

    ## Why is this bad?
    An unpinned policy changes with every cluster upgrade: a control added or tightened in a
    new policy version starts rejecting pods on the day of the upgrade, and teams respond by
    loosening the level. Pinning makes policy changes deliberate: raise the version after
    checking the workloads (`kubefort scan --pss restricted --pss-version v1.N`).

    ## Example
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: restricted
    ```

    ## How to fix
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: restricted
        pod-security.kubernetes.io/enforce-version: v1.34
    ```

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name. A
    Namespace sent as a version the API server does not serve (`apps/v1`) is not evaluated
    (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces
    """
    labels = _labels(res)
    if labels.get(PREFIX + "enforce") in (None, "privileged"):
        return  # no level, or one whose meaning no policy version changes
    v = labels.get(PREFIX + "enforce-version")
    if v is None or v == "latest":
        state = "is 'latest'" if v == "latest" else "is not set (means latest)"
        where = _label_path(PREFIX + "enforce-version") if v is not None else _label_path(PREFIX + "enforce")
        yield Violation(f"namespace {res.id.name!r}: enforce-version {state}", where)


@dataclass(frozen=True, slots=True)
class StaleOptions:
    max_minor_lag: int = 4  # how many minor versions behind the newest policy a pin may be


@check(
    id="KF-PSA-004",
    name="pod-security-version-stale",
    title="Pod Security version pin is far behind the current policy",
    verified="Pod Security version pins, if any, are close to the current policy",
    severity=Severity.LOW,
    target="object",
    kinds=("Namespace",),
    options=StaleOptions,
    mappings=Mappings(pss=("admission",), nsa=NSA, mitre=("T1610",), owasp=("K01",)),
    remediation="Check the workloads against a newer policy (kubefort scan --pss LEVEL --pss-version v1.N) and raise the pinned version.",
)
def pod_security_version_stale(res: Resource, ctx: CheckContext[StaleOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags pinned `enforce-version`, `audit-version` or `warn-version` labels more than
    `max_minor_lag` minor versions (default 4) behind the newest policy version kubefort knows.

    ## Why is this bad?
    A stale pin keeps the policy of years ago: controls added since (for example the
    probe and lifecycle `host` rule of v1.34, or `procMount` rules of v1.35) are not enforced,
    so the namespace is weaker than its level suggests.

    ## Example
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: restricted
        pod-security.kubernetes.io/enforce-version: v1.23
    ```

    ## How to fix
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: restricted
        pod-security.kubernetes.io/enforce-version: v1.34
    ```

    ## Options
    `max_minor_lag` (default 4).

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name. A
    Namespace sent as a version the API server does not serve (`apps/v1`) is not evaluated
    (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy history)
    """
    labels = _labels(res)
    newest = pss.parse_version("latest")[1]
    for mode in MODES:
        key = PREFIX + mode + "-version"
        v = labels.get(key)
        if labels.get(PREFIX + mode, "privileged") == "privileged":
            continue  # privileged means the same at every version
        if isinstance(v, str) and _VERSION.match(v):
            minor = int(v.split(".")[1])
            if newest - minor > ctx.options.max_minor_lag:
                yield Violation(
                    f"namespace {res.id.name!r}: {mode}-version {v} is {newest - minor} minor versions behind v1.{newest}",
                    _label_path(key),
                )


@check(
    id="KF-PSA-005",
    name="pod-security-enforce-weaker-than-warn",
    title="Pod Security enforce level is weaker than warn or audit",
    verified="Pod Security enforce level is as strict as warn and audit",
    severity=Severity.INFO,
    target="object",
    kinds=("Namespace",),
    mappings=Mappings(pss=("admission",), nsa=NSA, mitre=("T1610",), owasp=("K01",)),
    remediation="Once warnings and audit events are clean, raise enforce to the warn/audit level.",
)
def pod_security_enforce_weaker_than_warn(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags namespaces whose `enforce` level is less strict than their `warn` or `audit`
    level (a missing enforce label counts as `privileged`).

    ## Why is this bad?
    This is the recommended way to *prepare* a stricter level, so it is informational: pods
    that only trigger a warning or an audit annotation are still admitted. Left in place, the
    stricter level is a promise the cluster does not keep, and warnings nobody reads become
    normal.

    ## Example
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: baseline
        pod-security.kubernetes.io/warn: restricted
    ```

    ## How to fix
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: restricted
        pod-security.kubernetes.io/warn: restricted
    ```

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name. A
    Namespace sent as a version the API server does not serve (`apps/v1`) is not evaluated
    (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/migrate-from-psp/
    """
    labels = _labels(res)
    enforce = labels.get(PREFIX + "enforce", "privileged")
    if enforce not in LEVEL_RANK:
        return
    for mode in ("warn", "audit"):
        other = labels.get(PREFIX + mode)
        if other in LEVEL_RANK and LEVEL_RANK[other] > LEVEL_RANK[enforce]:
            yield Violation(
                f"namespace {res.id.name!r} enforces {enforce} but {mode}s at {other}", _label_path(PREFIX + mode)
            )


@check(
    id="KF-PSA-006",
    name="invalid-pod-security-label",
    title="Pod Security label has an invalid value",
    verified="Pod Security labels have valid values",
    severity=Severity.HIGH,
    target="object",
    kinds=("Namespace",),
    mappings=Mappings(pss=("admission",), nsa=NSA, mitre=("T1610",), owasp=("K01",)),
    remediation="Use privileged, baseline or restricted for levels, and latest or v1.N for versions.",
)
def invalid_pod_security_label(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags `pod-security.kubernetes.io/*` labels whose value the admission plugin cannot
    parse: a level other than `privileged`, `baseline` or `restricted`, a version other than
    `latest` or `v1.N`, or an unknown mode (`pod-security.kubernetes.io/enforced`).

    ## Why is this bad?
    The admission plugin resolves an invalid enforce label to `restricted:latest` (failing
    closed) and invalid audit or warn labels to `privileged` (failing open). Either way the
    namespace does not get the policy its author wrote, and a typo in a mode name is ignored.

    ## Example
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: restrictive
        pod-security.kubernetes.io/warn-version: "1.30"
    ```

    ## How to fix
    ```yaml
    metadata:
      labels:
        pod-security.kubernetes.io/enforce: restricted
        pod-security.kubernetes.io/warn-version: v1.30
    ```

    ## Not applicable when
    The object is a custom resource of another API group that reuses the kind's name. A
    Namespace sent as a version the API server does not serve (`apps/v1`) is not evaluated
    (KF-INPUT-005 reports it).

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces
    """
    for key, value in sorted(_labels(res).items()):
        if not isinstance(key, str) or not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :]
        mode, _, suffix = name.partition("-")
        if mode not in MODES or suffix not in ("", "version"):
            yield Violation(f"unknown Pod Security label {key!r} (modes: enforce, audit, warn)", _label_path(key))
        elif suffix == "" and value not in LEVEL_RANK:
            yield Violation(f"{key}={value!r} is not a level (privileged, baseline, restricted)", _label_path(key))
        elif suffix == "version" and not (value == "latest" or (isinstance(value, str) and _VERSION.match(value))):
            yield Violation(f"{key}={value!r} is not 'latest' or 'v1.N'", _label_path(key))


@check(
    id="KF-PSA-007",
    name="workload-rejected-by-namespace-policy",
    title="Workload would be rejected by its own namespace's Pod Security level",
    verified="Workload is admitted by its own namespace's Pod Security level",
    severity=Severity.HIGH,
    target="cluster",
    kinds=("@namespaced-pods",),
    needs=("Namespace",),
    mappings=Mappings(pss=("admission",), nsa=NSA, mitre=("T1610",), owasp=("K01",)),
    remediation="Fix the listed controls in the pod template, or change the namespace's level deliberately.",
)
def workload_rejected_by_namespace_policy(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    For every pod-bearing object whose Namespace is part of the scan and carries an enforce
    label, evaluates the pod template at that namespace's enforce level and version, exactly
    as the admission plugin would when the pod is created. Objects whose namespace is not in
    the scan (or has no enforce label) are out of scope: no outcome.

    ## Why is this bad?
    Pod Security admission checks pods, not Deployments: the Deployment is accepted, then its
    ReplicaSet fails to create pods, and the failure shows up only as an event on the
    ReplicaSet while the rollout hangs. This finds it before the deploy.

    ## Example
    ```yaml
    kind: Namespace
    metadata: {name: shop, labels: {pod-security.kubernetes.io/enforce: restricted}}
    ---
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec: {template: {spec: {containers: [{name: app, image: "nginx:1.27"}]}}}
    ```

    ## How to fix
    Make the pod template meet the namespace's level (see KF-PSS-001/002 for the controls).

    ## Not applicable when
    The workload's Namespace is not in the scan, or its Namespace has no enforce label (the
    cluster's default level, which manifests do not show, applies; KF-PSA-001 reports the
    Namespace).

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/
    """
    ns = index.namespace(res.id.namespace)
    if ns is None:
        raise NotApplicable(NAMESPACE_NOT_SCANNED)
    policy = namespace_policy(ns).get("enforce")
    if policy is None:
        raise NotApplicable(NO_ENFORCE_LABEL)
    level, version = policy
    if level == "privileged":
        return
    for pod in find_pods(res):
        found = verdict(pod, level, version)
        if found:
            controls = sorted({v.control for v in found})
            yield Violation(
                f"namespace {ns.id.name!r} enforces {level}:{version}; its pods would be rejected by "
                f"[{', '.join(controls)}]: " + "; ".join(f"{v.field}={v.value}" for v in found[:8]),
                field_path(pod, found[0].field),
            )
