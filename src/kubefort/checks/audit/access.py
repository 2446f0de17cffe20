"""Access into running pods and nodes: KF-AUDIT-001 exec, attach and port-forward, KF-AUDIT-002
ephemeral (debug) containers, KF-AUDIT-009 the kubelet API through the API server (nodes/proxy)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import (
    POD_FACT_CHECKS,
    SYSTEM_NAMESPACES,
    TrustOptions,
    actor,
    allowed,
    authorized,
    changed,
    changed_object,
    named,
    object_outcomes,
    path_of,
    system_note,
    trusted,
)
from kubefort.kube.pods import Fields, need
from kubefort.model import Severity, Status, Violation
from kubefort.registry import Mappings, check

_VERBS = {"exec": "ran a command in", "attach": "attached to", "portforward": "opened a port-forward to"}


@check(
    id="KF-AUDIT-001",
    name="pod-exec-attach-portforward",
    title="Someone opened a shell, attach or port-forward into a pod",
    verified="Request is not an exec, attach or port-forward into a pod",
    severity=Severity.MEDIUM,
    target="audit",
    audit=AuditScope(
        verbs=frozenset({"create", "get"}), resources=frozenset({"pods/exec", "pods/attach", "pods/portforward"})
    ),
    mappings=Mappings(mitre=("T1609", "T1613"), owasp=("K01",)),
    remediation="Confirm with the person who made the request; restrict pods/exec, pods/attach and pods/portforward in RBAC to break-glass roles, and use ephemeral debug containers with an audited workflow.",
)
def pod_exec_attach_portforward(ev: AuditEvent, ctx: AuditContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every authorized request to the `exec`, `attach` or `portforward` subresource of a pod
    (what `kubectl exec`, `kubectl attach`, `kubectl debug` into a running container and
    `kubectl port-forward` send). Authorized means the authorizer's recorded decision
    (`authorization.k8s.io/decision: allow`) when the event has it, so an exec the authorizer
    let through is reported even when it then failed (a 400 because the kubelet could not be
    reached: the principal holds and used the right); without the annotation, any response
    below 400. Requests the authorizer refused (401, 403) are not findings here; bursts of
    refused requests are KF-AUDIT-023's.
    The message names the pod and says when it is in a system namespace (`kube-system`,
    `kube-public`, `kube-node-lease`), where a shell reaches the cluster's own components.

    Falco k8saudit equivalent: *Attach/Exec Pod*, *port-forward*.

    ## Why is this bad?
    An interactive session inside a container bypasses everything reviewed in the image and
    the manifest: the person (or stolen credential) can read the pod's secrets and service
    account token, change files, and pivot to other services (MITRE ATT&CK T1609, Container
    Administration Command). Routine operations should not need it; each occurrence should be
    explainable.

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseStarted",
     "verb": "create", "user": {"username": "alice@example.com"},
     "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "kube-system",
                   "name": "etcd-node-1"},
     "responseStatus": {"code": 101}}
    ```

    ## How to fix
    Find out who made the request and why (the event names the user, source IP and user
    agent). Remove `pods/exec`, `pods/attach` and `pods/portforward` from roles that do not
    need them (`kubefort rbac who-can create pods/exec`), and accept known break-glass users
    with an exception that names them.

    ## References
    - Kubernetes: Auditing (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/)
    - MITRE ATT&CK for Containers T1609 (https://attack.mitre.org/techniques/T1609/)
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    if not authorized(ev):
        return
    what = _VERBS.get(ev.subresource, ev.subresource)
    where = f"pod {ev.namespace}/{ev.name}" if ev.namespace else f"pod {ev.name}"
    system = " (a system namespace)" if ev.namespace in SYSTEM_NAMESPACES else ""
    yield Violation(f"{ev.principal or 'an unnamed user'} {what} {where}{system}")


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-002 ephemeral containers
# ------------------------------------------------------------------------------------------------
def ephemeral_containers(obj: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(name, image) of each ephemeral container a Pod (or a patch of one) names. NotEvaluated
    for fields of a type the API server never decodes."""
    if obj is None:
        return []
    f = Fields(obj, ())
    out = []
    for i, c in enumerate(f.list("spec", "ephemeralContainers")):
        at = f.at("spec", "ephemeralContainers", i)
        cf = Fields(need(c, dict, "a container mapping", at), at)
        out.append((cf.str("name") or "?", cf.str("image") or "?"))
    return out


def ephemeral_facts(ctx: AuditContext[Any], pod: dict[str, Any] | None, names: set[str]) -> list[str]:
    """What the per-object pod checks find about those ephemeral containers of the whole Pod, and
    about the pod itself (host namespaces and volumes, which its ephemeral containers share)."""
    if pod is None or not names:
        return []
    return [
        f"{o.check_id} {o.message}"
        for o in object_outcomes(ctx, pod, POD_FACT_CHECKS)
        if o.status is Status.FAILED and (o.container is None or o.container in names)
    ]


@check(
    id="KF-AUDIT-002",
    name="ephemeral-container-added",
    title="Someone added an ephemeral (debug) container to a running pod",
    verified="Request adds no ephemeral container to a pod",
    severity=Severity.MEDIUM,
    target="audit",
    audit=AuditScope(verbs=frozenset({"update", "patch"}), resources=frozenset({"pods/ephemeralcontainers"})),
    mappings=Mappings(mitre=("T1609", "T1610"), owasp=("K01",)),
    remediation="Confirm with the person who made the request; restrict pods/ephemeralcontainers in RBAC to break-glass roles and review the debug profiles allowed.",
)
def ephemeral_container_added(ev: AuditEvent, ctx: AuditContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every allowed update or patch of a pod's `ephemeralcontainers` subresource: what
    `kubectl debug` sends to add a debug container to a running pod. The message names the pod
    (and says when it is in a system namespace), the ephemeral containers the request names with
    their images when the policy recorded the request body, and what the pod checks (KF-POD-001
    privileged, KF-POD-002/003/004 host namespaces, KF-POD-011 capabilities, KF-POD-014 host
    paths, ...) find about those containers and about the pod, whose namespaces and volumes they
    share, when the whole pod was recorded (the request body of an update, the response body of a
    patch). Refused requests and dry runs are passes.

    Falco k8saudit equivalent: *EphemeralContainers Created*.

    ## Why is this bad?
    An ephemeral container joins a running pod: it sees the pod's processes (with
    `--target`), its volumes, its network and its service account token, and with
    `--profile=sysadmin` it runs privileged. It is a shell in production that no manifest review
    saw (MITRE ATT&CK T1609 Container Administration Command, T1610 Deploy Container).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "patch", "user": {"username": "alice@example.com"},
     "objectRef": {"resource": "pods", "subresource": "ephemeralcontainers",
                   "namespace": "shop", "name": "web-0"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Find out who debugged the pod and why. Keep `pods/ephemeralcontainers` (update, patch) to
    break-glass roles (`kubefort rbac who-can patch pods/ephemeralcontainers`), and accept
    known debugging sessions with an exception naming the user.

    ## References
    - Kubernetes: Ephemeral Containers (https://kubernetes.io/docs/concepts/workloads/pods/ephemeral-containers/)
    - MITRE ATT&CK for Containers T1609 (https://attack.mitre.org/techniques/T1609/)
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    if not changed(ev):
        return
    named_in_request = ephemeral_containers(ev.request_object())
    pod = changed_object(ev)
    facts = ephemeral_facts(ctx, pod, {n for n, _ in ephemeral_containers(pod)})
    msg = f"{actor(ev)} added an ephemeral container to pod {named(ev)}{system_note(ev.namespace)}"
    if named_in_request:
        msg += ": " + ", ".join(f"{n} (image {i})" for n, i in named_in_request)
    if facts:
        msg += "; " + "; ".join(facts)
    yield Violation(msg)


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-009 the kubelet API through the API server
# ------------------------------------------------------------------------------------------------
# what a path of the kubelet's API does (k8s.io/kubernetes pkg/kubelet/server/server.go)
KUBELET_PATHS = {
    "exec": "runs commands in containers",
    "run": "runs commands in containers",
    "attach": "attaches to containers",
    "portForward": "opens port-forwards into pods",
    "cri": "talks to the container runtime's streaming server",
    "containerLogs": "reads container logs",
    "logs": "reads the node's log files",
    "checkpoint": "checkpoints a container (a copy of its memory)",
    "pods": "lists the node's pods and their specs",
    "runningpods": "lists the node's running pods",
    "metrics": "reads metrics",
    "stats": "reads resource statistics",
    "spec": "reads the node's machine information",
    "configz": "reads the kubelet's configuration",
    "debug": "reads the kubelet's debug endpoints",
}


def kubelet_path(ev: AuditEvent) -> str:
    """The kubelet path a nodes/proxy request reaches (`/run/shop/web-0/app`; "/" for the root)."""
    parts = path_of(ev).split("/")
    for i in range(len(parts) - 1):
        if parts[i] == "nodes" and i + 2 < len(parts) and parts[i + 2] == "proxy":
            return "/" + "/".join(parts[i + 3 :])
    return "/"


@dataclass(frozen=True, slots=True)
class KubeletProxyOptions(TrustOptions):
    """ignored_paths: kubelet path prefixes whose use is not a finding (`/metrics` for a
    monitoring system that scrapes kubelets through the API server); trusted principals as
    TrustOptions."""

    ignored_paths: tuple[str, ...] = ()


@check(
    id="KF-AUDIT-009",
    name="kubelet-api-proxied",
    title="Someone reached a kubelet's API through the API server (nodes/proxy)",
    verified="Request does not reach a kubelet's API through nodes/proxy",
    severity=Severity.HIGH,
    target="audit",
    options=KubeletProxyOptions,
    audit=AuditScope(resources=frozenset({"nodes/proxy"})),
    mappings=Mappings(mitre=("T1609", "T1613"), owasp=("K03",)),
    remediation="Remove nodes/proxy from roles that do not need it (monitoring needs nodes/metrics and nodes/stats, not proxy); accept known scrapers with `ignored_paths` or `trusted_users`.",
)
def kubelet_api_proxied(ev: AuditEvent, ctx: AuditContext[KubeletProxyOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every allowed request to the `proxy` subresource of a node, which the API server
    forwards to that node's kubelet (`/api/v1/nodes/NODE/proxy/PATH`), by a principal that is not
    trusted (by default the control-plane identities: see the options). The message names the
    node and the kubelet path with what it does: `/run` and `/exec` run commands in any
    container of the node, `/containerLogs` and `/logs` read logs, `/checkpoint` copies a
    container's memory, `/pods` lists every pod spec. Refused requests are passes.

    The API server serves only `proxy` (and `status`) of a node: the other node subresources of
    the authorizer (`nodes/log`, `nodes/metrics`, `nodes/stats`, ...) are checked by kubelets
    for callers that reach them directly, which the API server's audit log does not record as
    requests of their own (only as the kubelet's SubjectAccessReviews).

    Options (`.kubefort.yaml` `options: {KF-AUDIT-009: {...}}`): `ignored_paths` (kubelet path
    prefixes, such as `/metrics`), `trusted_users` (names or shell patterns), `trusted_groups`,
    `trust_system` (default true: `system:` users other than `system:anonymous`, and kube-system
    ServiceAccounts).

    ## Why is this bad?
    The kubelet API runs commands in every container of its node and reads their logs and
    secrets, and a command run through it is recorded only as a nodes/proxy request, not as a
    pods/exec (MITRE ATT&CK T1609 Container Administration Command). Even `get` on nodes/proxy
    is enough: a websocket upgrade of a GET reaches `/exec`.

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "create", "user": {"username": "system:serviceaccount:ci:runner"},
     "requestURI": "/api/v1/nodes/node-1/proxy/run/kube-system/etcd-node-1/etcd?cmd=id",
     "objectRef": {"resource": "nodes", "subresource": "proxy", "name": "node-1"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Find out who used the kubelet API and why. Grant monitoring `nodes/metrics` and
    `nodes/stats` instead of `nodes/proxy`, and remove `nodes/proxy` from every other role
    (`kubefort rbac who-can get nodes/proxy`).

    ## References
    - Kubernetes: Kubelet authentication/authorization (https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/)
    - Kubernetes: RBAC good practices, nodes/proxy (https://kubernetes.io/docs/concepts/security/rbac-good-practices/#access-to-proxy-subresource-of-nodes)
    - MITRE ATT&CK for Containers T1609 (https://attack.mitre.org/techniques/T1609/)
    """
    opts = ctx.options
    if not allowed(ev) or trusted(ev, opts):
        return
    path = kubelet_path(ev)
    if any(path.startswith(p) for p in opts.ignored_paths):
        return
    first = path.strip("/").split("/", 1)[0]
    what = KUBELET_PATHS.get(first)
    node = ev.name or "?"
    yield Violation(
        f"{actor(ev)} reached the kubelet API of node {node} through the API server: {ev.verb} {path}"
        + (f" ({what})" if what else "")
    )
