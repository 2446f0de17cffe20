"""Deletions that hide or destroy: KF-AUDIT-011 Events deleted (covering tracks, the audit
tampering an API request can do), KF-AUDIT-014 namespaces deleted."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import (
    SYSTEM_NAMESPACES,
    TrustOptions,
    actor,
    changed,
    named,
    trusted,
)
from kubefort.model import Severity, Violation
from kubefort.registry import Mappings, check

EVENT_RESOURCES = frozenset({"events", "events.events.k8s.io"})


def selectors(ev: AuditEvent) -> str:
    """` matching labelSelector=..., fieldSelector=...` of a collection request ("" when none)."""
    query = parse_qs(urlsplit(ev.request_uri).query)
    found = [f"{k}={v[0]}" for k in ("labelSelector", "fieldSelector") if (v := query.get(k))]
    return f" matching {', '.join(found)}" if found else ""


@check(
    id="KF-AUDIT-011",
    name="events-deleted",
    title="Kubernetes Events were deleted (covering tracks)",
    verified="Request deletes no Events, or was made by a trusted principal",
    severity=Severity.MEDIUM,
    target="audit",
    options=TrustOptions,
    audit=AuditScope(verbs=frozenset({"delete", "deletecollection"}), resources=EVENT_RESOURCES),
    mappings=Mappings(mitre=("T1070",), owasp=("K05",)),
    remediation="Find out who deleted the Events and why; remove delete and deletecollection on events from roles (Events expire on their own), and ship Events to storage outside the cluster.",
)
def events_deleted(ev: AuditEvent, ctx: AuditContext[TrustOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every allowed delete or deletecollection of Events (`events` of the core group and of
    `events.k8s.io`) by a principal that is not trusted. By default the control-plane identities
    are trusted: the namespace controller deletes a deleted namespace's Events, and Events
    otherwise expire by themselves (the API server's `--event-ttl`), without a request.
    Refused requests and dry runs are passes.

    This is the audit tampering an API request can do. The audit log itself is out of the
    API's reach: the audit policy, log files and webhook backend are kube-apiserver flags and
    files on the control-plane nodes (`--audit-policy-file`, `--audit-log-path`,
    `--audit-webhook-config-file`), not API objects, so changing them shows in the log only as
    what it stops recording (see the audit coverage report) and as the API server restarting.

    Options (`options: {KF-AUDIT-011: {...}}`): `trusted_users`, `trusted_groups`,
    `trust_system` (default true).

    ## Why is this bad?
    Events record what happened to pods and nodes (images pulled, containers killed, volumes
    mounted). Deleting them removes the traces of an attack from `kubectl get events` and from
    the tools that read them (MITRE ATT&CK T1070 Indicator Removal).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "deletecollection", "user": {"username": "mallory"},
     "requestURI": "/api/v1/namespaces/shop/events",
     "objectRef": {"resource": "events", "namespace": "shop"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Find out who deleted the Events. Remove `delete` and `deletecollection` on events from
    every role that has it (`kubefort rbac who-can delete events`): nothing needs it, Events
    expire. Export Events (and the audit log) to storage outside the cluster.

    ## References
    - Kubernetes: Auditing (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/)
    - MITRE ATT&CK for Containers T1070 (https://attack.mitre.org/techniques/T1070/)
    """
    if not changed(ev) or trusted(ev, ctx.options):
        return
    if ev.verb == "deletecollection":
        yield Violation(f"{actor(ev)} deleted every Event {named(ev)}{selectors(ev)}")
    else:
        yield Violation(f"{actor(ev)} deleted Event {named(ev)}")


@check(
    id="KF-AUDIT-014",
    name="namespace-deleted",
    title="A namespace was deleted",
    verified="Request deletes no namespace, or was made by a trusted principal",
    severity=Severity.MEDIUM,
    target="audit",
    options=TrustOptions,
    audit=AuditScope(verbs=frozenset({"delete"}), resources=frozenset({"namespaces"})),
    mappings=Mappings(mitre=("T1485",), owasp=("K03",)),
    remediation="Confirm the deletion with its author; restrict delete on namespaces to administrators and pipelines, and keep the namespace's manifests to restore it.",
)
def namespace_deleted(ev: AuditEvent, ctx: AuditContext[TrustOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every allowed delete of a namespace by a principal that is not trusted (by default
    the control-plane identities: the namespace controller finishes a deletion someone else
    asked for). The message says when the namespace is a system one (kube-system, kube-public,
    kube-node-lease). Refused requests and dry runs are passes.

    Options (`options: {KF-AUDIT-014: {...}}`): `trusted_users` (a pipeline that tears down
    preview environments), `trusted_groups`, `trust_system` (default true).

    Falco k8saudit equivalent: *K8s Namespace Deleted*.

    ## Why is this bad?
    Deleting a namespace deletes everything in it: workloads, Secrets, PersistentVolumeClaims
    (and with them, often, the data), Events. It is one request for an outage, or for removing
    evidence (MITRE ATT&CK T1485 Data Destruction).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "delete", "user": {"username": "bob"},
     "objectRef": {"resource": "namespaces", "name": "payments"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Confirm the deletion was intended. Keep `delete` on namespaces to administrators and the
    pipelines that own short-lived namespaces (list those in `trusted_users`).

    ## References
    - Kubernetes: Namespaces (https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/)
    - MITRE ATT&CK for Containers T1485 (https://attack.mitre.org/techniques/T1485/)
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    if not changed(ev) or trusted(ev, ctx.options):
        return
    system = " (a system namespace: the cluster's own components run there)" if ev.name in SYSTEM_NAMESPACES else ""
    yield Violation(f"{actor(ev)} deleted namespace {ev.name or '?'}{system}, and everything in it")
