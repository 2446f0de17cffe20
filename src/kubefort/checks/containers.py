"""KF-WL: pod-spec hygiene: liveness (010) and readiness (011) probes, duplicate environment
variables (012), `hostAliases` (013)."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.kube.pods import BUILTIN_GROUPS, ContainerView, Fields, PodView, api_group, memoised, need
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Path_, Severity, Violation, format_path
from kubefort.registry import Mappings, check

# NotApplicable reasons, also written in the checks' documentation
NOT_A_MAIN_CONTAINER = "init and ephemeral containers take no probes here"
RUNS_TO_COMPLETION = "the pod runs to completion"

# the probe handlers of core/v1 ProbeHandler; a probe without one is rejected by the API server
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
BATCH_KINDS = frozenset({"Job", "CronJob"})


def _long_running(pod: PodView, c: ContainerView) -> None:
    """NotApplicable unless `c` is a main container of a pod that runs until it is stopped."""
    reason = memoised(c.memo, "containers.not_long_running", _not_long_running, pod, c)  # asked by 010 and 011
    if reason is not None:
        raise NotApplicable(reason)


def _not_long_running(pod: PodView, c: ContainerView) -> str | None:
    """Why `c` is not a main container of a long-running pod (None: it is one)."""
    if c.kind != "container":  # init, ephemeral, Argo template script/sidecar containers
        return NOT_A_MAIN_CONTAINER
    if pod.origin == "template":  # an Argo Workflows step
        return RUNS_TO_COMPLETION
    res = pod.resource
    if res.id.kind in BATCH_KINDS and api_group(res.id.api_version) in BUILTIN_GROUPS:
        return RUNS_TO_COMPLETION
    if pod.spec.str("restartPolicy") in ("Never", "OnFailure"):
        return RUNS_TO_COMPLETION
    return None


def _probe_set(c: ContainerView, field: str) -> bool:
    """Is the probe defined? NotEvaluated when it is not a mapping or names no handler."""
    probe = c.get(field)
    if probe is None:
        return False
    need(probe, dict, "a probe mapping", c.at(field))
    if not any(probe.get(h) is not None for h in PROBE_HANDLERS):
        raise NotEvaluated(
            f"{format_path(c.at(field))} names no handler ({', '.join(PROBE_HANDLERS)}); the API server rejects it",
            c.at(field),
        )
    return True


@check(
    id="KF-WL-010",
    name="liveness-probe-missing",
    title="Container has no liveness probe",
    verified="Container has a liveness probe",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        mitre=("T1499",),
        owasp=("K01",),
        checkov=("CKV_K8S_8",),
        kubescape=("C-0056",),
        kube_linter=("no-liveness-probe",),
        polaris=("livenessProbeMissing",),
    ),
    remediation="Add a livenessProbe (httpGet, tcpSocket, grpc or exec) that fails only when the process is stuck beyond recovery.",
)
def liveness_probe_missing(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers without a `livenessProbe`. A probe that names no handler (`exec`,
    `httpGet`, `tcpSocket` or `grpc`) is not evaluated: the API server rejects it.

    Only the main containers of long-running pods are judged.

    ## Why is this bad?
    Without a liveness probe the kubelet restarts a container only when its process exits. A
    process that deadlocks, leaks itself into a stall or loses its backend connection for good
    keeps running and keeps receiving traffic until someone notices; the probe turns that into
    an automatic restart, also when an attacker hangs the process on purpose (MITRE ATT&CK T1499,
    Endpoint Denial of Service).

    ## Example
    ```yaml
    containers:
    - name: web
      image: registry.example.com/web:2.3
    ```

    ## How to fix
    ```yaml
    containers:
    - name: web
      image: registry.example.com/web:2.3
      livenessProbe:
        httpGet: {path: /healthz, port: 8080}
        periodSeconds: 10
        failureThreshold: 3
    ```

    ## Not applicable when
    - init and ephemeral containers take no probes here: init containers (native sidecars
      included), ephemeral containers, and the script and sidecar containers of Argo Workflows;
    - the pod runs to completion: Jobs and CronJobs, pods with `restartPolicy: Never` or
      `OnFailure` (which also covers the pods a Job creates and most batch custom resources),
      and Argo Workflows steps.

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
    - https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
    """
    _long_running(pod, c)
    if not _probe_set(c, "livenessProbe"):
        yield Violation(f"{c.label()} has no livenessProbe: a hung process is never restarted", c.at("livenessProbe"))


@check(
    id="KF-WL-011",
    name="readiness-probe-missing",
    title="Container has no readiness probe",
    verified="Container has a readiness probe",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        mitre=("T1499",),
        owasp=("K01",),
        checkov=("CKV_K8S_9",),
        kubescape=("C-0018",),
        kube_linter=("no-readiness-probe",),
        polaris=("readinessProbeMissing",),
    ),
    remediation="Add a readinessProbe that succeeds only when the container can serve requests.",
)
def readiness_probe_missing(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers without a `readinessProbe`. A probe that names no handler (`exec`,
    `httpGet`, `tcpSocket` or `grpc`) is not evaluated: the API server rejects it.

    Only the main containers of long-running pods are judged.

    ## Why is this bad?
    Without a readiness probe a pod counts as ready as soon as its containers have started:
    Services send it traffic before the application listens, during a rolling update the old
    pods are removed before the new ones can serve, and a pod that loses its database keeps
    receiving requests it can only fail: every incident turns into an outage (MITRE ATT&CK T1499,
    Endpoint Denial of Service).

    ## Example
    ```yaml
    containers:
    - name: web
      image: registry.example.com/web:2.3
    ```

    ## How to fix
    ```yaml
    containers:
    - name: web
      image: registry.example.com/web:2.3
      readinessProbe:
        httpGet: {path: /ready, port: 8080}
        periodSeconds: 5
    ```

    ## Not applicable when
    - init and ephemeral containers take no probes here: init containers (native sidecars
      included), ephemeral containers, and the script and sidecar containers of Argo Workflows;
    - the pod runs to completion: Jobs and CronJobs, pods with `restartPolicy: Never` or
      `OnFailure` (which also covers the pods a Job creates and most batch custom resources),
      and Argo Workflows steps.

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
    - https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-probes
    """
    _long_running(pod, c)
    if not _probe_set(c, "readinessProbe"):
        yield Violation(
            f"{c.label()} has no readinessProbe: it receives traffic as soon as it starts", c.at("readinessProbe")
        )


def _hides(text: str, value_from: object, name: str) -> bool:
    """Does a later definition of `name` (value `text`, `valueFrom`) hide the earlier one? The API
    server's own rule (kubernetes pkg/api/pod/warnings.go, "hides previous definition of"): it does
    unless it only extends the earlier value, `X=$(X):more` (a reference to itself plus something
    else, no valueFrom)."""
    ref = f"$({name})"
    return value_from is not None or text == ref or ref not in text


def _duplicates(c: ContainerView) -> list[tuple[str, int, int]]:
    """(name, index of the first definition, index of the hiding one) for every hidden variable."""
    env = c.plain_env()
    if env is None:
        return duplicates_checked(c)
    first: dict[str, int] = {}
    found: list[tuple[str, int, int]] = []
    for i, item in enumerate(env):
        name = item.get("name") or ""
        if name not in first:
            first[name] = i
        elif _hides(item.get("value") or "", item.get("valueFrom"), name):
            found.append((name, first[name], i))
    return found


def duplicates_checked(c: ContainerView) -> list[tuple[str, int, int]]:
    """`_duplicates` entry by entry: NotEvaluated for the first entry that is not a mapping, or
    whose name or value is not a string (the API server rejects the pod)."""
    first: dict[str, int] = {}
    found: list[tuple[str, int, int]] = []
    for i, var in enumerate(c.env_items()):
        name = var.str("name") or ""
        var.str("value")  # a value of another type: the API server rejects the pod
        if name not in first:
            first[name] = i
        elif _hides(var.str("value") or "", var.get("valueFrom"), name):
            found.append((name, first[name], i))
    return found


@check(
    id="KF-WL-012",
    name="duplicate-env-var",
    title="Container defines an environment variable more than once",
    verified="Container defines each environment variable once",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(mitre=("T1562",), owasp=("K01",), kubescape=("C-0295",), kube_linter=("duplicate-env-var",)),
    remediation="Keep one definition of each variable in env (a later $(NAME) reference that extends the earlier value is fine).",
)
def duplicate_env_var(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose `env` list defines a name again, replacing the earlier definition.
    The rule is the API server's own (it warns "hides previous definition of ..."): a later
    entry with `valueFrom`, with a plain value, or with exactly `$(NAME)` hides the earlier one;
    an entry that extends the earlier value (`PATH: $(PATH):/opt/bin`) does not. Every kind of
    container is judged. Variables that `env` overrides from `envFrom` are not reported.

    ## Why is this bad?
    The container sees only the last definition, so the first one is configuration that does
    nothing while it looks authoritative: a reviewer reads `TLS_VERIFY=true` near the top and
    misses the `false` further down, often added by a Helm values merge or a kustomize patch,
    a quiet way to switch a safeguard off (MITRE ATT&CK T1562, Impair Defenses).
    `kubectl apply` and server-side apply merge `env` by name, so one of the entries may also
    be dropped silently on the next apply.

    ## Example
    ```yaml
    env:
    - {name: TLS_VERIFY, value: "true"}
    - {name: LOG_LEVEL, value: info}
    - {name: TLS_VERIFY, value: "false"}
    ```

    ## How to fix
    ```yaml
    env:
    - {name: TLS_VERIFY, value: "true"}
    - {name: LOG_LEVEL, value: info}
    ```

    ## References
    - https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/
    - https://github.com/kubernetes/kubernetes/blob/master/pkg/api/pod/warnings.go
    """
    found = _duplicates(c)
    if found:
        shown = ", ".join(f"{name!r} (env[{i}] hides env[{j}])" for name, j, i in found)
        yield Violation(
            f"{c.label()} defines environment variables more than once, only the last definition counts: {shown}",
            c.at("env", found[0][2], "name"),
        )


def _aliases(scope: Fields) -> list[tuple[str, list[str], Path_]]:
    out = []
    for i, item in enumerate(scope.list("hostAliases")):
        path = scope.at("hostAliases", i)
        view = Fields(need(item, dict, "a host alias mapping", path), path)
        out.append((view.str("ip") or "?", view.str_list("hostnames"), path))
    return out


@check(
    id="KF-WL-013",
    name="host-aliases",
    title="Pod overrides name resolution with hostAliases",
    verified="Pod sets no hostAliases",
    severity=Severity.LOW,
    target="pod",
    mappings=Mappings(mitre=("T1565.002",), owasp=("K01",), trivy=("KSV-0007",)),
    remediation="Remove spec.hostAliases and publish the names in DNS (a Service, an ExternalName Service or the cluster DNS configuration).",
)
def host_aliases(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags pods that set `spec.hostAliases`, entries the kubelet writes into every container's
    `/etc/hosts`. The message lists each address and its host names. For an Argo Workflows
    template, the workflow's `spec.hostAliases` applies when the template sets none.

    ## Why is this bad?
    `/etc/hosts` wins over DNS, so these entries silently redirect the names they cover, for
    this pod only: a registry, an API endpoint or a database name points to an address that no
    DNS record, NetworkPolicy review or service catalogue shows. Stale addresses break the
    workload when the target moves, and a malicious change redirects its traffic to a host an
    attacker controls (MITRE ATT&CK T1565.002, Transmitted Data Manipulation).

    ## Example
    ```yaml
    spec:
      hostAliases:
      - ip: "10.1.2.3"
        hostnames: ["payments.internal"]
    ```

    ## How to fix
    ```yaml
    apiVersion: v1
    kind: Service
    metadata:
      name: payments
    spec:
      type: ExternalName
      externalName: payments.example.com
    ```

    ## References
    - https://kubernetes.io/docs/tasks/network/customize-hosts-file-for-pods/
    """
    scope = pod.scope("hostAliases")
    aliases = _aliases(scope)
    if aliases:
        shown = "; ".join(f"{ip} -> {', '.join(names) or '(no host names)'}" for ip, names, _ in aliases)
        yield Violation(f"pod adds /etc/hosts entries with hostAliases: {shown}", scope.at("hostAliases"))
