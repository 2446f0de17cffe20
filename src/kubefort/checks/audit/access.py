"""KF-AUDIT-001: interactive access into running pods (exec, attach, port-forward)."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.model import Severity, Violation
from kubefort.registry import Mappings, check

# namespaces whose pods run the cluster itself: a shell there is a shell on the control plane
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
_VERBS = {"exec": "ran a command in", "attach": "attached to", "portforward": "opened a port-forward to"}


def allowed(ev: AuditEvent) -> bool:
    """The API server let the request through (2xx, or 101 Switching Protocols for streams);
    a request with no recorded response code is taken as allowed (it was not refused)."""
    return ev.code is None or 100 <= ev.code < 400


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
    Flags every allowed request to the `exec`, `attach` or `portforward` subresource of a pod
    (what `kubectl exec`, `kubectl attach`, `kubectl debug` into a running container and
    `kubectl port-forward` send). Requests the API server refused (401, 403, ...) are not
    findings here; bursts of refused requests are reported by the access-violation checks.
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
    if not allowed(ev):
        return
    what = _VERBS.get(ev.subresource, ev.subresource)
    where = f"pod {ev.namespace}/{ev.name}" if ev.namespace else f"pod {ev.name}"
    system = " (a system namespace)" if ev.namespace in SYSTEM_NAMESPACES else ""
    yield Violation(f"{ev.principal or 'an unnamed user'} {what} {where}{system}")
