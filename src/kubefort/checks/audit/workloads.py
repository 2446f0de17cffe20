"""KF-AUDIT-003: pods and workloads admitted with host-level privileges, judged by the per-object
pod checks (one definition of "privileged": the checks `kubefort scan` runs) on the recorded body."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import (
    POD_FACT_CHECKS,
    TrustOptions,
    actor,
    changed,
    did,
    named,
    object_outcomes,
    require_object,
    system_note,
    trusted,
)
from kubefort.model import NotEvaluated, Outcome, Severity, Status, Violation
from kubefort.registry import Mappings, check

# the built-in resources whose objects carry a pod spec (kube/pods.py KNOWN_POD_PATHS)
POD_RESOURCES = frozenset(
    {
        "pods",
        "podtemplates",
        "replicationcontrollers",
        "deployments.apps",
        "replicasets.apps",
        "statefulsets.apps",
        "daemonsets.apps",
        "jobs.batch",
        "cronjobs.batch",
    }
)
PER_OBJECT_TARGETS = ("object", "pod", "container")


@dataclass(frozen=True, slots=True)
class PodFactsOptions(TrustOptions):
    """checks: the per-object checks whose failures make a pod "privileged" here (IDs of object,
    pod or container checks); trusted principals as TrustOptions (by default the control plane:
    the controllers that create a workload's pods, the kubelet's mirror pods)."""

    checks: tuple[str, ...] = POD_FACT_CHECKS

    def __post_init__(self) -> None:
        from kubefort.registry import REGISTRY

        for cid in self.checks:
            try:
                meta = REGISTRY.get(cid)
            except KeyError:
                raise ValueError(f"checks: unknown check {cid!r} (see `kubefort checks`)") from None
            if meta.target not in PER_OBJECT_TARGETS:
                raise ValueError(f"checks: {cid} is a {meta.target} check; only per-object checks judge a request body")


def facts_text(failed: list[Outcome], order: tuple[str, ...]) -> str:
    """The failures, grouped by check in the options' order: `KF-POD-001 container 'app' ...`."""
    rank = {cid: i for i, cid in enumerate(order)}
    return "; ".join(f"{o.check_id} {o.message}" for o in sorted(failed, key=lambda o: rank.get(o.check_id, 0)))


@check(
    id="KF-AUDIT-003",
    name="privileged-pod-requested",
    title="A pod or workload was created or changed to run with host-level privileges",
    verified="Request admits no pod or workload with host-level privileges",
    severity=Severity.HIGH,
    target="audit",
    options=PodFactsOptions,
    audit=AuditScope(verbs=frozenset({"create", "update", "patch"}), resources=POD_RESOURCES),
    mappings=Mappings(mitre=("T1610", "T1611"), owasp=("K01",)),
    remediation="Find out who deployed the workload and why; enforce Pod Security (baseline or restricted) on the namespace, and accept known privileged components with an exception naming them.",
)
def privileged_pod_requested(ev: AuditEvent, ctx: AuditContext[PodFactsOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags an allowed create, update or patch of a Pod, PodTemplate, ReplicationController,
    Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob whose pods run with
    host-level privileges, as the per-object checks of `kubefort scan` judge the object the
    request left (one definition of "privileged" for scans and audit logs): by default
    KF-POD-001 privileged container, KF-POD-002/003/004 the node's PID, IPC or network
    namespace, KF-POD-011 a dangerous capability (SYS_ADMIN, ...), KF-POD-014 a sensitive host
    path, KF-POD-018 an unmasked /proc, KF-POD-021 a Windows HostProcess container. One finding
    per request: its message names every fact with the check that found it and that check's
    own message, and says when the namespace is a system one (kube-system, ...).

    The object judged is the request body of a create or update (the response body when only
    that was recorded) and the response body of a patch (the request body of a patch is only the
    patch: a patch of a workload that already ran privileged is flagged too, as it admits the
    object again). A request whose object was not recorded is not evaluated, saying which audit level
    the policy must record (Request for creates and updates, RequestResponse for patches).
    Refused requests, dry runs and requests by trusted principals (by default the control plane,
    such as the controllers creating the pods of a Deployment already judged) are passes.
    Custom resources with pod templates (Argo Rollouts, ...) are judged through the built-in
    objects their controllers create.

    Falco k8saudit equivalents: *Create Privileged Pod*, *Create Sensitive Mount Pod*,
    *Create HostNetwork Pod*, *Create HostPid Pod*, *Create HostIPC Pod*.

    Options (`options: {KF-AUDIT-003: {...}}`): `checks` (the per-object check IDs that count),
    `trusted_users`, `trusted_groups`, `trust_system` (default true).

    ## Why is this bad?
    A privileged pod, or one that shares the node's namespaces or mounts its file system, is a
    root shell on the node away (MITRE ATT&CK T1611 Escape to Host): from there every pod of the
    node, its tokens and the kubelet's credentials. Deploying one is how an attacker with
    workload rights takes a node (T1610 Deploy Container).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "level": "Request", "verb": "create", "user": {"username": "mallory"},
     "objectRef": {"resource": "pods", "namespace": "shop", "name": "debug"},
     "responseStatus": {"code": 201},
     "requestObject": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"},
       "spec": {"hostPID": true, "containers": [{"name": "sh", "image": "busybox",
                "securityContext": {"privileged": true}}]}}}
    ```

    ## How to fix
    Find out who made the request and whether the workload needs those privileges. Enforce Pod
    Security on the namespace (`pod-security.kubernetes.io/enforce: baseline` or `restricted`) so
    that the API server refuses such pods, and accept known system components (CNI, storage
    drivers) with an exception naming them.

    ## References
    - Kubernetes: Pod Security Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/)
    - MITRE ATT&CK for Containers T1611 (https://attack.mitre.org/techniques/T1611/)
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    opts = ctx.options
    if not changed(ev) or trusted(ev, opts):
        return
    obj = require_object(ev)
    outs = object_outcomes(ctx, obj, opts.checks)
    failed = [o for o in outs if o.status is Status.FAILED]
    if not failed:
        unknown = sorted({f"{o.check_id}: {o.message}" for o in outs if o.status is Status.NOT_EVALUATED})
        if unknown:
            raise NotEvaluated("the recorded object cannot be judged: " + "; ".join(unknown))
        return
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ev.resource
    yield Violation(
        f"{actor(ev)} {did(ev)} {kind} {named(ev)}{system_note(ev.namespace)} with host-level privileges: "
        + facts_text(failed, opts.checks)
    )
