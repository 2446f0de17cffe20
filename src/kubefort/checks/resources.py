"""KF-RES: compute resources: container requests and limits, namespace quotas and defaults."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from kubefort.kube.apis import require_api_version
from kubefort.kube.pods import ContainerView, Fields, PodView, type_name
from kubefort.kube.quantity import QuantityError, parse_quantity
from kubefort.model import (
    CheckContext,
    ClusterIndex,
    NotApplicable,
    NotEvaluated,
    Path_,
    Resource,
    Severity,
    Violation,
    format_path,
)
from kubefort.registry import Mappings, check

NSA_RES = ("NSA-CISA Kubernetes Hardening Guide: Namespaces (resource policies)",)
MITRE_DOS = ("T1499",)
MITRE_DOS_HIJACK = ("T1499", "T1496")
# resources that pod-level `spec.resources` (PodLevelResources) can set for the whole pod
POD_LEVEL = frozenset({"cpu", "memory"})
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
EPHEMERAL = "an ephemeral container: the API does not let it set resources"
SYSTEM_NAMESPACE = "a system namespace (kube-system, kube-public, kube-node-lease)"


def quantity(fields: Fields, section: str, resource: str) -> Decimal | None:
    """resources.<section>.<resource> as the API server decodes it: None when the key is absent, else
    its exact value (a null is zero, as Quantity decodes it). NotEvaluated when a level is not a
    mapping or the value is not a quantity: the API server rejects such a pod."""
    m = fields.mapping("resources", section)
    if resource not in m:
        return None
    try:
        return parse_quantity(m[resource])
    except QuantityError as exc:
        p = fields.at("resources", section, resource)
        raise NotEvaluated(f"{format_path(p)}: {exc}; the API server rejects it", p) from None


def effective(pod: PodView, c: ContainerView, section: str, resource: str) -> tuple[Decimal, Path_] | None:
    """The <section> (requests / limits) of <resource> in effect for the container and the field
    that sets it; None when nothing does.

    A request defaults to the limit when only the limit is set; pod-level resources
    (spec.resources, cpu and memory) bound every container of the pod that sets none itself.
    NotApplicable for ephemeral containers, which cannot set resources.
    """
    if c.kind == "ephemeral container":
        raise NotApplicable(EPHEMERAL)
    for fields in (c, pod.spec) if resource in POD_LEVEL else (c,):
        for where in (section, "limits") if section == "requests" else (section,):
            value = quantity(fields, where, resource)
            if value is not None:
                return value, fields.at("resources", where, resource)
    return None


def _missing(pod: PodView, c: ContainerView, section: str, resource: str) -> Iterator[Violation]:
    if effective(pod, c, section, resource) is None:
        what = "request" if section == "requests" else "limit"
        yield Violation(
            f"{c.label()} sets no {resource} {what} (resources.{section}.{resource})",
            c.at("resources", section, resource),
        )


@check(
    id="KF-RES-001",
    name="cpu-request-missing",
    title="Container has no CPU request",
    verified="Container sets a CPU request",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=NSA_RES,
        mitre=MITRE_DOS,
        owasp=("K01",),
        trivy=("KSV-0015",),
        checkov=("CKV_K8S_10",),
        kubescape=("C-0268", "C-0050"),
        kube_linter=("unset-cpu-requirements",),
        polaris=("cpuRequestsMissing",),
    ),
    remediation="Set resources.requests.cpu to what the container needs at steady state, for example cpu: 250m.",
)
def cpu_request_missing(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers without `resources.requests.cpu`. A CPU limit alone passes (the request
    then defaults to the limit), and so does a pod-level `spec.resources` CPU request or limit.
    Init containers are checked; ephemeral containers are exempt (the API does not let them
    set resources) and get no outcome. Defaults a namespace's LimitRange would inject are not
    considered (see KF-RES-007).

    ## Why is this bad?
    The scheduler places pods by their requests. A container without a CPU request counts as
    needing nothing, so nodes get overcommitted; under contention it gets the smallest CPU
    share, and if no container of the pod sets any request or limit the pod is `BestEffort`,
    the first to be evicted when the node runs short. A busy neighbour, or an attacker
    burning CPU in a compromised pod, then degrades everything on the node (MITRE ATT&CK
    T1499 Endpoint Denial of Service).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 256Mi}
        limits: {memory: 256Mi}
    ```

    ## Not evaluated when
    `resources`, `resources.requests` or `resources.limits` is not a mapping, or the value
    is not a quantity (such as 250m, 1.5 or 256Mi; a null is zero).

    ## Not applicable when
    The container is an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    - https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/
    """
    return _missing(pod, c, "requests", "cpu")


@check(
    id="KF-RES-002",
    name="memory-request-missing",
    title="Container has no memory request",
    verified="Container sets a memory request",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=NSA_RES,
        mitre=MITRE_DOS,
        owasp=("K01",),
        trivy=("KSV-0016",),
        checkov=("CKV_K8S_12",),
        kubescape=("C-0269", "C-0004"),
        polaris=("memoryRequestsMissing",),
    ),
    remediation="Set resources.requests.memory to the container's working set, for example memory: 256Mi (equal to the memory limit for predictable behaviour).",
)
def memory_request_missing(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers without `resources.requests.memory`. A memory limit alone passes (the
    request then defaults to the limit), and so does a pod-level `spec.resources` memory
    request or limit. Init containers are checked; ephemeral containers are exempt (the API
    does not let them set resources) and get no outcome. LimitRange defaults are not
    considered (see KF-RES-007).

    ## Why is this bad?
    Memory cannot be throttled, only reclaimed by killing. Pods that use more memory than
    they requested are the kubelet's first eviction candidates when a node runs short, and
    without a request the scheduler packs nodes as if the container used none, so memory
    pressure, evictions and OOM kills become routine and spread to well-behaved neighbours
    (MITRE ATT&CK T1499).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 256Mi}
        limits: {memory: 256Mi}
    ```

    ## Not evaluated when
    `resources`, `resources.requests` or `resources.limits` is not a mapping, or the value
    is not a quantity (such as 250m, 1.5 or 256Mi; a null is zero).

    ## Not applicable when
    The container is an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    """
    return _missing(pod, c, "requests", "memory")


@check(
    id="KF-RES-003",
    name="memory-limit-missing",
    title="Container has no memory limit",
    verified="Container sets a memory limit",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=NSA_RES,
        mitre=MITRE_DOS_HIJACK,
        owasp=("K01",),
        trivy=("KSV-0018",),
        checkov=("CKV_K8S_13",),
        kubescape=("C-0271", "C-0004", "C-0009"),
        kube_linter=("unset-memory-requirements",),
        polaris=("memoryLimitsMissing",),
    ),
    remediation="Set resources.limits.memory, usually equal to requests.memory, for example memory: 256Mi.",
)
def memory_limit_missing(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers without `resources.limits.memory`, unless the pod sets a pod-level
    memory limit (`spec.resources.limits.memory`) that bounds all its containers. Init
    containers are checked; ephemeral containers are exempt (the API does not let them set
    resources) and get no outcome. LimitRange defaults are not considered (see KF-RES-007).

    Severity is low like Trivy's KSV-0018: the kubelet evicts pods that exceed their memory
    requests first, which contains most runaway containers; raise it with
    `severity: {KF-RES-003: medium}` where nodes are shared between teams.

    ## Why is this bad?
    Without a limit a leaking or compromised container (a cryptominer, a memory bomb) can
    take the node's memory until the kernel OOM killer or the kubelet's eviction picks
    victims, and those can be other teams' pods or node daemons (MITRE ATT&CK T1499
    Endpoint Denial of Service, T1496 Resource Hijacking).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 256Mi}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 256Mi}
        limits: {memory: 256Mi}
    ```

    ## Not evaluated when
    `resources` or `resources.limits` is not a mapping, or the value is not a quantity
    (such as 250m, 1.5 or 256Mi; a null is zero).

    ## Not applicable when
    The container is an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    - https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/
    """
    return _missing(pod, c, "limits", "memory")


@check(
    id="KF-RES-004",
    name="cpu-limit-missing",
    title="Container has no CPU limit",
    verified="Container sets a CPU limit",
    severity=Severity.INFO,
    target="container",
    mappings=Mappings(
        nsa=NSA_RES,
        mitre=("T1496",),
        owasp=("K01",),
        trivy=("KSV-0011",),
        checkov=("CKV_K8S_11",),
        kubescape=("C-0270", "C-0050", "C-0009"),
        polaris=("cpuLimitsMissing",),
    ),
    remediation="Where CPU must be capped (shared or multi-tenant nodes, untrusted code), set resources.limits.cpu; otherwise keep accurate CPU requests and accept this finding.",
)
def cpu_limit_missing(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers without `resources.limits.cpu`, unless the pod sets a pod-level CPU
    limit (`spec.resources.limits.cpu`). Init containers are checked; ephemeral containers are
    exempt (the API does not let them set resources) and get no outcome.

    Severity is **info** on purpose: many operators deliberately leave CPU limits out. CPU is
    compressible: with accurate CPU requests, the kernel's CFS shares already divide CPU in
    proportion under contention, while a CFS quota (the limit) throttles a container even
    when the node is idle, which shows up as latency spikes. This check is for clusters that
    want a hard cap anyway (multi-tenant nodes, untrusted or batch code); otherwise select it
    out with `checks: {ignore: [KF-RES-004]}`.

    ## Why is this bad?
    Without a limit a container can use every idle CPU of its node, so a compromised pod can
    mine cryptocurrency at the node's full capacity (MITRE ATT&CK T1496 Resource Hijacking)
    and latency-sensitive neighbours see their spare headroom disappear.

    ## Example
    ```yaml
    containers:
    - name: batch
      image: registry.example.com/batch:2.0
      resources:
        requests: {cpu: "1", memory: 1Gi}
        limits: {memory: 1Gi}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: batch
      image: registry.example.com/batch:2.0
      resources:
        requests: {cpu: "1", memory: 1Gi}
        limits: {cpu: "2", memory: 1Gi}
    ```

    ## Not evaluated when
    `resources` or `resources.limits` is not a mapping, or the value is not a quantity
    (such as 250m, 1.5 or 256Mi; a null is zero).

    ## Not applicable when
    The container is an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#how-pods-with-resource-limits-are-run
    - https://kubernetes.io/docs/tasks/configure-pod-container/assign-cpu-resource/
    """
    return _missing(pod, c, "limits", "cpu")


@check(
    id="KF-RES-005",
    name="ephemeral-storage-limit-missing",
    title="Container has no ephemeral-storage limit",
    verified="Container sets an ephemeral-storage limit",
    severity=Severity.INFO,
    target="container",
    mappings=Mappings(nsa=NSA_RES, mitre=MITRE_DOS, owasp=("K01",)),
    remediation="Set resources.limits.ephemeral-storage (and a matching request) to what the container may write to its writable layer, logs and emptyDir volumes, for example ephemeral-storage: 1Gi.",
)
def ephemeral_storage_limit_missing(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers without `resources.limits.ephemeral-storage`. Only the limit is checked:
    it is what makes the kubelet evict the offending pod instead of the node filling up; a
    request without a limit caps nothing, and a limit alone also sets the request. Init
    containers are checked; ephemeral containers are exempt (the API does not let them set
    resources) and get no outcome.

    Severity is **info**: most peers have no such check, and a container that only writes to
    volumes it mounts (and logs modestly) needs none. Use it where nodes are shared.

    ## Why is this bad?
    The writable container layer, container logs and disk-backed `emptyDir` volumes all live
    on the node's disk. One container writing without bound (a log storm, a cache, an
    attacker filling the disk) puts the node under `DiskPressure`, and the kubelet then
    evicts pods that did nothing wrong and refuses new ones (MITRE ATT&CK T1499).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 256Mi}
        limits: {memory: 256Mi}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      resources:
        requests: {cpu: 250m, memory: 256Mi, ephemeral-storage: 512Mi}
        limits: {memory: 256Mi, ephemeral-storage: 1Gi}
    ```

    ## Not evaluated when
    `resources` or `resources.limits` is not a mapping, or the value is not a quantity
    (such as 250m, 1.5 or 256Mi; a null is zero).

    ## Not applicable when
    The container is an ephemeral container: the API does not let it set resources.

    ## References
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    """
    return _missing(pod, c, "limits", "ephemeral-storage")


# ---------------------------------------------------------------------------------------------
# namespaces: quotas and default limits (cross-object checks)
# ---------------------------------------------------------------------------------------------
# quota keys that bound what the namespace's pods may consume
_COMPUTE_QUOTA_KEYS = frozenset(
    {
        "pods",
        "cpu",
        "memory",
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
        "ephemeral-storage",
        "requests.ephemeral-storage",
        "limits.ephemeral-storage",
    }
)


def _namespace_in_scope(res: Resource) -> str:
    """The Namespace's name; NotApplicable for system namespaces (and custom resources named
    Namespace), NotEvaluated for a Namespace sent as a version the API server does not serve."""
    require_api_version(res, "v1")
    name = res.id.name
    if name in SYSTEM_NAMESPACES:
        raise NotApplicable(SYSTEM_NAMESPACE)
    return name


def _spec(r: Resource) -> Fields:
    """The object's spec as the API server decodes it: absent or null is an empty spec."""
    spec = r.obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise NotEvaluated(f"spec is {type_name(spec)}, expected a mapping", ("spec",))
    return Fields(spec, ("spec",))


def _about(r: Resource, exc: NotEvaluated) -> NotEvaluated:
    """A quota's or LimitRange's problem as the reason its Namespace is not evaluated."""
    return NotEvaluated(f"{r.id}: {exc.reason}; the API server rejects it")


def _quota_caps(r: Resource) -> tuple[bool, str]:
    """(caps the namespace's pods?, why not). NotEvaluated when the quota is malformed.

    Absent and null fields are empty, as the API server decodes them: a quota without `hard`
    caps nothing. It applies to every pod unless `scopes` or `scopeSelector.matchExpressions`
    narrow it (apiserver quota evaluator: no scope matches everything)."""
    spec = _spec(r)
    hard = spec.mapping("hard")
    for key, value in hard.items():
        try:
            parse_quantity(value)
        except QuantityError as exc:
            raise NotEvaluated(f"spec.hard.{key}: {exc}", spec.at("hard", str(key))) from None
    scopes = spec.str_list("scopes")
    selector = Fields(spec.mapping("scopeSelector"), spec.at("scopeSelector"))
    if scopes or selector.list("matchExpressions"):
        return False, f"ResourceQuota {r.id.name!r} is scoped to some pods only"
    if not hard:
        return False, f"ResourceQuota {r.id.name!r} sets no hard limits"
    if not _COMPUTE_QUOTA_KEYS & {str(k) for k in hard}:
        return False, f"ResourceQuota {r.id.name!r} caps no compute resource or pod count"
    return True, ""


def _range_covers(r: Resource) -> tuple[bool, str]:
    """(limits containers or pods?, why not). NotEvaluated when the LimitRange is malformed.

    Absent and null fields are empty: a LimitRange without `limits` limits nothing, and a null
    item is an item with no type."""
    spec = _spec(r)
    limits = spec.list("limits")
    for i, item in enumerate(limits):
        if item is None:
            continue
        if not isinstance(item, dict):
            raise NotEvaluated(f"spec.limits[{i}] is {type_name(item)}, expected a mapping", spec.at("limits", i))
        if Fields(item, spec.at("limits", i)).str("type") in ("Container", "Pod"):
            return True, ""
    if not limits:
        return False, f"LimitRange {r.id.name!r} sets no limits"
    return False, f"LimitRange {r.id.name!r} covers neither containers nor pods"


@check(
    id="KF-RES-006",
    name="namespace-without-resourcequota",
    title="Namespace has no ResourceQuota",
    verified="Namespace has a ResourceQuota",
    severity=Severity.LOW,
    target="cluster",
    posture="resourceQuota",
    kinds=("Namespace",),
    needs=("ResourceQuota",),
    mappings=Mappings(nsa=NSA_RES, mitre=MITRE_DOS_HIJACK, owasp=("K01",), trivy=("KSV-0040",)),
    remediation="Add a ResourceQuota to the namespace that caps requests.cpu, requests.memory, limits.memory and the pod count.",
)
def namespace_without_resourcequota(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For each core `Namespace` object in the scanned set, looks for a `ResourceQuota` in that
    namespace (`metadata.namespace`) among the scanned objects that caps the namespace as a
    whole: at least one of `pods`, `cpu`, `memory`, `requests.*`, `limits.*` of cpu, memory
    or ephemeral-storage in `spec.hard`, and no `scopes` / `scopeSelector` (a scoped quota,
    such as the usual one that only admits `system-cluster-critical` pods, caps nothing
    else). Flags the Namespace when there is none.

    System namespaces (`kube-system`, `kube-public`, `kube-node-lease`) are out of scope and
    get no outcome: control-plane add-ons are sized by their installers, and a quota there
    can keep critical pods from starting. Only Namespaces defined in the scanned manifests
    are judged; namespaces that objects merely refer to are not.

    ## Why is this bad?
    Without a quota, one namespace's workloads, a runaway HorizontalPodAutoscaler, or an
    attacker who can create pods there can claim the whole cluster's capacity and starve
    every other tenant (MITRE ATT&CK T1499, T1496). A quota also forces every pod in the
    namespace to declare the resources it caps.

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
    kind: ResourceQuota
    metadata:
      name: compute
      namespace: shop
    spec:
      hard:
        requests.cpu: "8"
        requests.memory: 16Gi
        limits.memory: 16Gi
        pods: "50"
    ```

    ## Known limitations
    Scan the Namespace together with its quotas: a quota kept in another repository, or one
    without `metadata.namespace` (applied with `kubectl apply -n`), is not seen.

    ## Not evaluated when
    A quota in the namespace is malformed (a `spec` or `spec.hard` that is not a mapping,
    `scopes` that is not a list of strings, a hard limit that is not a quantity) and no other
    quota caps the namespace. Absent and null fields are empty, as the API server reads them:
    a quota without `spec` or `hard` is an empty one and caps nothing (failed). A Namespace
    sent as an apiVersion the API server does not serve (KF-INPUT-005) is not evaluated either.

    ## Not applicable when
    The Namespace is a system namespace (kube-system, kube-public, kube-node-lease), or it is
    a custom resource of another API group that reuses the kind's name.

    ## References
    - https://kubernetes.io/docs/concepts/policy/resource-quotas/
    - https://kubernetes.io/docs/tasks/administer-cluster/manage-resources/quota-memory-cpu-namespace/
    """
    ns = _namespace_in_scope(res)
    quotas = [q for q in index.in_namespace("ResourceQuota", ns) if q.id.api_version == "v1"]
    reasons: list[str] = []
    broken: NotEvaluated | None = None
    for q in quotas:
        try:
            caps, why = _quota_caps(q)
        except NotEvaluated as exc:
            broken = _about(q, exc)
            continue
        if caps:
            return
        reasons.append(why)
    if broken is not None:
        raise broken
    detail = f"; {'; '.join(reasons)}" if reasons else ""
    yield Violation(
        f"Namespace {ns!r} has no ResourceQuota capping its compute resources{detail}", ("metadata", "name")
    )


@check(
    id="KF-RES-007",
    name="namespace-without-limitrange",
    title="Namespace has no LimitRange for containers",
    verified="Namespace has a LimitRange for containers",
    severity=Severity.LOW,
    target="cluster",
    posture="limitRange",
    kinds=("Namespace",),
    needs=("LimitRange",),
    mappings=Mappings(nsa=NSA_RES, mitre=MITRE_DOS, owasp=("K01",), trivy=("KSV-0039",)),
    remediation="Add a LimitRange of type Container to the namespace with defaultRequest and default values for cpu and memory (and max where useful).",
)
def namespace_without_limitrange(res: Resource, index: ClusterIndex, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    For each core `Namespace` object in the scanned set, looks for a `LimitRange` in that
    namespace among the scanned objects with at least one `spec.limits[]` entry of type
    `Container` or `Pod` (a LimitRange only for `PersistentVolumeClaim` does nothing for
    pods). Flags the Namespace when there is none.

    System namespaces (`kube-system`, `kube-public`, `kube-node-lease`) are out of scope and
    get no outcome, as in KF-RES-006. Only Namespaces defined in the scanned manifests are
    judged.

    ## Why is this bad?
    A LimitRange gives containers that declare no requests or limits sensible defaults and
    can cap what a single container may ask for. Without one, every container that forgets
    its `resources` (KF-RES-001..005) runs unbounded and, if the namespace has a
    ResourceQuota, is rejected outright instead of defaulted (MITRE ATT&CK T1499).

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
    kind: LimitRange
    metadata:
      name: defaults
      namespace: shop
    spec:
      limits:
      - type: Container
        defaultRequest: {cpu: 100m, memory: 128Mi}
        default: {memory: 256Mi}
        max: {memory: 4Gi}
    ```

    ## Known limitations
    Scan the Namespace together with its LimitRanges: one kept elsewhere, or without
    `metadata.namespace`, is not seen.

    ## Not evaluated when
    A LimitRange in the namespace is malformed (a `spec` that is not a mapping, `spec.limits`
    that is not a list of mappings, a `type` that is not a string) and no other LimitRange
    covers containers. Absent and null fields are empty, as the API server reads them: a
    LimitRange with `spec: {}` or without `limits` limits nothing (failed). A Namespace sent
    as an apiVersion the API server does not serve (KF-INPUT-005) is not evaluated either.

    ## Not applicable when
    The Namespace is a system namespace (kube-system, kube-public, kube-node-lease), or it is
    a custom resource of another API group that reuses the kind's name.

    ## References
    - https://kubernetes.io/docs/concepts/policy/limit-range/
    """
    ns = _namespace_in_scope(res)
    ranges = [r for r in index.in_namespace("LimitRange", ns) if r.id.api_version == "v1"]
    broken: NotEvaluated | None = None
    reasons: list[str] = []
    for r in ranges:
        try:
            covers, why = _range_covers(r)
        except NotEvaluated as exc:
            broken = _about(r, exc)
            continue
        if covers:
            return
        reasons.append(why)
    if broken is not None:
        raise broken
    detail = f"; {'; '.join(reasons)}" if reasons else ""
    yield Violation(f"Namespace {ns!r} has no LimitRange for containers{detail}", ("metadata", "name"))
