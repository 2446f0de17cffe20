"""KF-RES 008..012: configurable bounds on container requests and limits.

Each check is off until `.kubefort.yaml` sets its bound (containers then get no outcome, as
documented); the bounds are validated when the configuration is read, like a LimitRange's
`max`, `min` and `maxLimitRequestRatio`, which the checks mirror for manifests.

    options:
      KF-RES-008: {max_cpu: "4"}
      KF-RES-009: {max_memory: 8Gi}
      KF-RES-010: {min_cpu: 50m}
      KF-RES-011: {min_memory: 64Mi}
      KF-RES-012: {max_cpu_ratio: 4, max_memory_ratio: 1.5}
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from kubefort.checks.resources import MITRE_DOS, MITRE_DOS_HIJACK, NSA_RES, effective
from kubefort.kube.pods import ContainerView, PodView
from kubefort.kube.quantity import QuantityError, format_quantity, parse_quantity
from kubefort.model import CheckContext, NotApplicable, OffUntilSet, Severity, Violation
from kubefort.registry import Mappings, check

OFF = "the check is off: no bound is configured in .kubefort.yaml options"


def bound(option: str, text: str) -> Decimal | None:
    """A configured bound: None when unset (""), else a positive quantity; ValueError otherwise."""
    if text == "":
        return None
    try:
        value = parse_quantity(text)
    except QuantityError:
        value = Decimal(0)
    if value <= 0:
        raise ValueError(f"{option}: {text!r} is not a positive quantity (for example 2, 500m or 4Gi)")
    return value


def ratio(option: str, value: float) -> None:
    """A configured limit/request ratio: 0 (off) or at least 1, as LimitRange validation requires."""
    if value != 0 and not value >= 1:
        raise ValueError(f"{option}: {value} is below 1; a limit can never be smaller than its request")


@dataclass(frozen=True, slots=True)
class MaxCPUOptions(OffUntilSet):
    max_cpu: str = ""  # the largest CPU limit a container may have (2, 1500m); "" leaves the check off

    def __post_init__(self) -> None:
        bound("max_cpu", self.max_cpu)


@dataclass(frozen=True, slots=True)
class MaxMemoryOptions(OffUntilSet):
    max_memory: str = ""  # the largest memory limit a container may have (4Gi); "" leaves the check off

    def __post_init__(self) -> None:
        bound("max_memory", self.max_memory)


@dataclass(frozen=True, slots=True)
class MinCPUOptions(OffUntilSet):
    min_cpu: str = ""  # the smallest CPU request a container may make (50m); "" leaves the check off

    def __post_init__(self) -> None:
        bound("min_cpu", self.min_cpu)


@dataclass(frozen=True, slots=True)
class MinMemoryOptions(OffUntilSet):
    min_memory: str = ""  # the smallest memory request a container may make (64Mi); "" leaves the check off

    def __post_init__(self) -> None:
        bound("min_memory", self.min_memory)


@dataclass(frozen=True, slots=True)
class RatioOptions(OffUntilSet):
    max_cpu_ratio: float = 0.0  # the largest CPU limit/request ratio; 0 does not check CPU
    max_memory_ratio: float = 0.0  # the largest memory limit/request ratio; 0 does not check memory

    def __post_init__(self) -> None:
        ratio("max_cpu_ratio", self.max_cpu_ratio)
        ratio("max_memory_ratio", self.max_memory_ratio)


def _above_maximum(pod: PodView, c: ContainerView, resource: str, option: str, text: str) -> Iterator[Violation]:
    maximum = bound(option, text)
    if maximum is None:
        raise NotApplicable(OFF)
    found = effective(pod, c, "limits", resource)
    shown = f"{format_quantity(maximum, resource)} ({option})"
    if found is None:
        yield Violation(
            f"{c.label()} sets no {resource} limit: it is unbounded, above the maximum {shown}",
            c.at("resources", "limits", resource),
        )
    elif found[0] > maximum:
        yield Violation(
            f"{c.label()} has a {resource} limit of {format_quantity(found[0], resource)}, above the maximum {shown}",
            found[1],
        )


def _below_minimum(pod: PodView, c: ContainerView, resource: str, option: str, text: str) -> Iterator[Violation]:
    minimum = bound(option, text)
    if minimum is None:
        raise NotApplicable(OFF)
    found = effective(pod, c, "requests", resource)
    shown = f"{format_quantity(minimum, resource)} ({option})"
    if found is None:
        yield Violation(
            f"{c.label()} sets no {resource} request: it requests nothing, below the minimum {shown}",
            c.at("resources", "requests", resource),
        )
    elif found[0] < minimum:
        yield Violation(
            f"{c.label()} requests {format_quantity(found[0], resource)} {resource}, below the minimum {shown}",
            found[1],
        )


@check(
    id="KF-RES-008",
    name="cpu-limit-above-maximum",
    title="Container's CPU limit is above the configured maximum",
    verified="Container's CPU limit is within the configured maximum",
    severity=Severity.LOW,
    target="container",
    options=MaxCPUOptions,
    mappings=Mappings(nsa=NSA_RES, mitre=("T1496",), owasp=("K01",), kubescape=("C-0050",)),
    remediation="Lower resources.limits.cpu to the configured maximum (split the work across replicas), or raise max_cpu for the workloads that need more.",
)
def cpu_limit_above_maximum(pod: PodView, c: ContainerView, ctx: CheckContext[MaxCPUOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose CPU limit is above `max_cpu`, or that set no CPU limit at all
    (unbounded is above any maximum). A pod-level `spec.resources.limits.cpu` bounds the
    containers that set none. Init containers are checked. Quantities are compared exactly
    (`1500m` is `1.5`), as the API server compares them; a LimitRange's `max.cpu` enforces the
    same bound at admission.

    Off by default: sizes depend on your nodes. Set the bound in `.kubefort.yaml`:
    ```yaml
    options:
      KF-RES-008: {max_cpu: "4"}
    ```

    ## Why is this bad?
    A container allowed more CPU than a node (or the team's share of it) can run hogs or
    cannot be scheduled; a compromised one mines cryptocurrency at that rate (MITRE ATT&CK
    T1496 Resource Hijacking).

    ## Example
    With `max_cpu: "4"`:
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: "2", memory: 4Gi}
        limits: {cpu: "8", memory: 4Gi}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: "2", memory: 4Gi}
        limits: {cpu: "4", memory: 4Gi}
    ```

    ## Options
    - `max_cpu` (quantity, default unset): the largest CPU limit allowed, for example `"4"`
      or `3500m`. A value that is not a positive quantity is a configuration error.

    ## Not evaluated when
    `resources` or `resources.limits` is not a mapping, or the limit is not a quantity.

    ## Not applicable when
    The check is off: no bound is configured in .kubefort.yaml options; or the container is
    an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/policy/limit-range/
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    """
    return _above_maximum(pod, c, "cpu", "max_cpu", ctx.options.max_cpu)


@check(
    id="KF-RES-009",
    name="memory-limit-above-maximum",
    title="Container's memory limit is above the configured maximum",
    verified="Container's memory limit is within the configured maximum",
    severity=Severity.LOW,
    target="container",
    options=MaxMemoryOptions,
    mappings=Mappings(nsa=NSA_RES, mitre=MITRE_DOS_HIJACK, owasp=("K01",), kubescape=("C-0004",)),
    remediation="Lower resources.limits.memory to the configured maximum, or raise max_memory for the workloads that need more.",
)
def memory_limit_above_maximum(
    pod: PodView, c: ContainerView, ctx: CheckContext[MaxMemoryOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose memory limit is above `max_memory`, or that set no memory limit
    at all (unbounded is above any maximum). A pod-level `spec.resources.limits.memory`
    bounds the containers that set none. Init containers are checked. Quantities are compared
    exactly (`1Gi` is 1073741824 bytes, `1G` is 10^9), as the API server compares them; a
    LimitRange's `max.memory` enforces the same bound at admission.

    Off by default: sizes depend on your nodes. Set the bound in `.kubefort.yaml`:
    ```yaml
    options:
      KF-RES-009: {max_memory: 8Gi}
    ```

    ## Why is this bad?
    A container allowed more memory than its node can give is an eviction and OOM-kill
    waiting to happen for its neighbours; a leaking or compromised one takes it all (MITRE
    ATT&CK T1499 Endpoint Denial of Service, T1496 Resource Hijacking).

    ## Example
    With `max_memory: 8Gi`:
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: "1", memory: 16Gi}
        limits: {cpu: "2", memory: 16Gi}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: "1", memory: 6Gi}
        limits: {cpu: "2", memory: 6Gi}
    ```

    ## Options
    - `max_memory` (quantity, default unset): the largest memory limit allowed, for example
      `8Gi`. A value that is not a positive quantity is a configuration error.

    ## Not evaluated when
    `resources` or `resources.limits` is not a mapping, or the limit is not a quantity.

    ## Not applicable when
    The check is off: no bound is configured in .kubefort.yaml options; or the container is
    an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/policy/limit-range/
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    """
    return _above_maximum(pod, c, "memory", "max_memory", ctx.options.max_memory)


@check(
    id="KF-RES-010",
    name="cpu-request-below-minimum",
    title="Container's CPU request is below the configured minimum",
    verified="Container's CPU request meets the configured minimum",
    severity=Severity.LOW,
    target="container",
    options=MinCPUOptions,
    mappings=Mappings(nsa=NSA_RES, mitre=MITRE_DOS, owasp=("K01",), kubescape=("C-0050",)),
    remediation="Raise resources.requests.cpu to at least the configured minimum (what the container uses at steady state).",
)
def cpu_request_below_minimum(pod: PodView, c: ContainerView, ctx: CheckContext[MinCPUOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose CPU request is below `min_cpu`, or that request no CPU at all. A
    request defaults to the limit when only the limit is set, and a pod-level
    `spec.resources` CPU request (or limit) covers the containers that set none, as in
    KF-RES-001. Init containers are checked. A LimitRange's `min.cpu` enforces the same
    bound at admission.

    Off by default. Set the bound in `.kubefort.yaml`:
    ```yaml
    options:
      KF-RES-010: {min_cpu: 50m}
    ```

    ## Why is this bad?
    Token requests (`1m`) let the scheduler pack a node as if the container needed nothing:
    under contention it gets almost no CPU time, and the node is overcommitted for everyone
    else (MITRE ATT&CK T1499).

    ## Example
    With `min_cpu: 50m`:
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 1m, memory: 256Mi}
        limits: {cpu: "1", memory: 256Mi}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 256Mi}
        limits: {cpu: "1", memory: 256Mi}
    ```

    ## Options
    - `min_cpu` (quantity, default unset): the smallest CPU request allowed, for example
      `50m`. A value that is not a positive quantity is a configuration error.

    ## Not evaluated when
    `resources`, `resources.requests` or `resources.limits` is not a mapping, or the request
    is not a quantity.

    ## Not applicable when
    The check is off: no bound is configured in .kubefort.yaml options; or the container is
    an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/policy/limit-range/
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    """
    return _below_minimum(pod, c, "cpu", "min_cpu", ctx.options.min_cpu)


@check(
    id="KF-RES-011",
    name="memory-request-below-minimum",
    title="Container's memory request is below the configured minimum",
    verified="Container's memory request meets the configured minimum",
    severity=Severity.LOW,
    target="container",
    options=MinMemoryOptions,
    mappings=Mappings(nsa=NSA_RES, mitre=MITRE_DOS, owasp=("K01",), kubescape=("C-0004",)),
    remediation="Raise resources.requests.memory to at least the configured minimum (the container's working set).",
)
def memory_request_below_minimum(
    pod: PodView, c: ContainerView, ctx: CheckContext[MinMemoryOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose memory request is below `min_memory`, or that request no memory
    at all. A request defaults to the limit when only the limit is set, and a pod-level
    `spec.resources` memory request (or limit) covers the containers that set none, as in
    KF-RES-002. Init containers are checked. A LimitRange's `min.memory` enforces the same
    bound at admission.

    Off by default. Set the bound in `.kubefort.yaml`:
    ```yaml
    options:
      KF-RES-011: {min_memory: 64Mi}
    ```

    ## Why is this bad?
    A container that requests less memory than it uses is the kubelet's first eviction
    candidate when the node runs short, and the scheduler packs nodes as if it used nothing
    (MITRE ATT&CK T1499).

    ## Example
    With `min_memory: 64Mi`:
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 100m, memory: 1Mi}
        limits: {cpu: "1", memory: 512Mi}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 100m, memory: 256Mi}
        limits: {cpu: "1", memory: 512Mi}
    ```

    ## Options
    - `min_memory` (quantity, default unset): the smallest memory request allowed, for
      example `64Mi`. A value that is not a positive quantity is a configuration error.

    ## Not evaluated when
    `resources`, `resources.requests` or `resources.limits` is not a mapping, or the request
    is not a quantity.

    ## Not applicable when
    The check is off: no bound is configured in .kubefort.yaml options; or the container is
    an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/policy/limit-range/
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    """
    return _below_minimum(pod, c, "memory", "min_memory", ctx.options.min_memory)


def _ratio_exceeded(pod: PodView, c: ContainerView, resource: str, maximum: float) -> Violation | None:
    """LimitRanger's maxLimitRequestRatio constraint (plugin/pkg/admission/limitranger): request and
    limit must both be set and non-zero, and limit/request at most `maximum`."""
    option = f"max_{resource}_ratio"
    limit = effective(pod, c, "limits", resource)
    if limit is None or limit[0] == 0:
        return Violation(
            f"{c.label()} sets no {resource} limit (or 0): its limit/request ratio is unbounded, above {maximum:g} ({option})",
            c.at("resources", "limits", resource) if limit is None else limit[1],
        )
    request = effective(pod, c, "requests", resource)  # a request defaults to the limit
    if request is None or request[0] == 0:
        return Violation(
            f"{c.label()} requests no {resource} (or 0): its limit/request ratio is unbounded, above {maximum:g} ({option})",
            c.at("resources", "requests", resource) if request is None else request[1],
        )
    value = limit[0] / request[0]
    if value > Decimal(str(maximum)):
        return Violation(
            f"{c.label()} {resource} limit {format_quantity(limit[0], resource)} is {value.normalize():f} times its "
            f"request {format_quantity(request[0], resource)}, above {maximum:g} ({option})",
            limit[1],
        )
    return None


@check(
    id="KF-RES-012",
    name="limit-request-ratio-above-maximum",
    title="Container's limit/request ratio is above the configured maximum",
    verified="Container's limit/request ratios are within the configured maximum",
    severity=Severity.LOW,
    target="container",
    options=RatioOptions,
    mappings=Mappings(nsa=NSA_RES, mitre=MITRE_DOS, owasp=("K01",)),
    remediation="Bring resources.requests closer to resources.limits (equal for memory gives predictable behaviour), or raise the configured ratio.",
)
def limit_request_ratio_above_maximum(
    pod: PodView, c: ContainerView, ctx: CheckContext[RatioOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose CPU limit divided by its CPU request is above `max_cpu_ratio`, or
    whose memory limit divided by its memory request is above `max_memory_ratio`, exactly as
    a LimitRange's `maxLimitRequestRatio` is enforced at admission: the limit and the request
    must both be set and non-zero (a request left out defaults to the limit, ratio 1). A
    pod-level `spec.resources` value covers the containers that set none. Init containers
    are checked.

    Off by default; each resource is checked only when its ratio is set:
    ```yaml
    options:
      KF-RES-012: {max_cpu_ratio: 4, max_memory_ratio: 1.5}
    ```

    ## Why is this bad?
    The scheduler places pods by their requests; the limit is what they may actually use. A
    wide gap overcommits the node: when several containers use what their limits allow, CPU
    is throttled and memory runs out, and the kubelet evicts pods that stayed within their
    limits (MITRE ATT&CK T1499).

    ## Example
    With `max_memory_ratio: 1.5`:
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 256Mi}
        limits: {cpu: "1", memory: 2Gi}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 1536Mi}
        limits: {cpu: "1", memory: 2Gi}
    ```

    ## Options
    - `max_cpu_ratio` (number, default 0: CPU not checked): the largest CPU limit/request
      ratio allowed.
    - `max_memory_ratio` (number, default 0: memory not checked): the largest memory
      limit/request ratio allowed.
    A ratio below 1 (other than 0) is a configuration error, as it is in a LimitRange.

    ## Not evaluated when
    `resources`, `resources.requests` or `resources.limits` is not a mapping, or a value is
    not a quantity.

    ## Not applicable when
    The check is off: no bound is configured in .kubefort.yaml options; or the container is
    an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/policy/limit-range/
    - https://kubernetes.io/docs/tasks/administer-cluster/manage-resources/memory-constraint-namespace/
    """
    checks = [(r, m) for r, m in (("cpu", ctx.options.max_cpu_ratio), ("memory", ctx.options.max_memory_ratio)) if m]
    if not checks:
        raise NotApplicable(OFF)
    for resource, maximum in checks:
        found = _ratio_exceeded(pod, c, resource, maximum)
        if found is not None:
            yield found
