"""Defences switched off through the API: KF-AUDIT-010 admission control changed (webhooks and
admission policies), KF-AUDIT-012 namespaces' Pod Security labels removed or weakened."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import (
    TrustOptions,
    actor,
    changed,
    did,
    kind_name,
    named,
    require_object,
    trusted,
)
from kubefort.checks.psa import LEVEL_RANK
from kubefort.kube.pods import Fields, need, type_name
from kubefort.model import NotEvaluated, Severity, Violation
from kubefort.registry import Mappings, check

ADMISSION_GROUP = "admissionregistration.k8s.io"
ADMISSION_RESOURCES = frozenset(
    f"{r}.{ADMISSION_GROUP}"
    for r in (
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    )
)
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
ADMISSION_EFFECT = {
    "create": "it now takes part in admitting every request it matches",
    "update": "what it admits, rejects or changes may differ now",
    "patch": "what it admits, rejects or changes may differ now",
    "delete": "the checks it made no longer run",
    "deletecollection": "the checks they made no longer run",
}


@check(
    id="KF-AUDIT-010",
    name="admission-control-changed",
    title="An admission webhook or admission policy was created, changed or deleted",
    verified="Request changes no admission webhook or admission policy, or was made by a trusted principal",
    severity=Severity.HIGH,
    target="audit",
    options=TrustOptions,
    audit=AuditScope(verbs=WRITES, resources=ADMISSION_RESOURCES),
    mappings=Mappings(mitre=("T1562.001",), owasp=("K04",)),
    remediation="Confirm the change with its author; keep admission configuration in reviewed manifests, restrict write access to it, and list the operators that manage their own webhooks in `trusted_users`.",
)
def admission_control_changed(ev: AuditEvent, ctx: AuditContext[TrustOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every allowed create, update, patch, delete or deletecollection of a
    ValidatingWebhookConfiguration, MutatingWebhookConfiguration, ValidatingAdmissionPolicy,
    MutatingAdmissionPolicy or one of their bindings by a principal that is not trusted (by
    default the control-plane identities). Refused requests and dry runs are passes.

    Webhook servers that rotate their own certificate patch `caBundle` (cert-manager's
    cainjector, ingress controllers): list their ServiceAccounts in `trusted_users`.

    Options (`options: {KF-AUDIT-010: {...}}`): `trusted_users` (names or shell patterns),
    `trusted_groups`, `trust_system` (default true).

    ## Why is this bad?
    Admission control is where policy is enforced (Pod Security beyond the built-in levels,
    image signatures, Kyverno or Gatekeeper rules). Deleting a webhook or setting its
    `failurePolicy: Ignore` switches that enforcement off; a new mutating webhook sees, and can
    change, every object it matches, Secrets included (MITRE ATT&CK T1562.001 Impair Defenses).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "delete", "user": {"username": "mallory"},
     "objectRef": {"resource": "validatingwebhookconfigurations",
                   "apiGroup": "admissionregistration.k8s.io", "name": "gatekeeper-validating-webhook-configuration"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Restore the configuration from its manifests if the change was not intended, and restrict
    write access to admission configuration to administrators and the operators that own it
    (`kubefort rbac who-can delete validatingwebhookconfigurations`).

    ## References
    - Kubernetes: Dynamic Admission Control (https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/)
    - Kubernetes: Validating Admission Policy (https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/)
    - MITRE ATT&CK for Containers T1562.001 (https://attack.mitre.org/techniques/T1562/001/)
    """
    if not changed(ev) or trusted(ev, ctx.options):
        return
    kind = kind_name(ev)
    effect = ADMISSION_EFFECT.get(ev.verb, "")
    if ev.verb == "deletecollection":
        yield Violation(f"{actor(ev)} deleted every {kind}: {effect}")
    else:
        yield Violation(f"{actor(ev)} {did(ev)} {kind} {named(ev)}: {effect}")


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-012 Pod Security labels
# ------------------------------------------------------------------------------------------------
PSA_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
MODE_LABELS = {PSA_PREFIX + m: m for m in MODES}
LABELS_PATH = "/metadata/labels"


STATE_LIMIT = 100_000  # namespaces whose labels are remembered (the oldest forgotten first)
Known = dict[str, str | None]  # mode label -> its value (None: absent), for the labels known


def effective(mode: str, value: str) -> str:
    """The level a label value gives, as the admission plugin resolves it (PolicyToEvaluate):
    a level, or for any other value restricted for enforce (it fails closed) and privileged for
    audit and warn (they fail open)."""
    if value in LEVEL_RANK:
        return value
    return "restricted" if mode == "enforce" else "privileged"


def label_change(key: str, value: Any, removed: bool) -> str | None:
    """What setting (or removing) one label does to Pod Security, if it weakens it whatever the
    label was before: removing it, or a value that makes the mode privileged."""
    mode = MODE_LABELS.get(key)
    if mode is None:
        return None
    if removed:
        return f"removes the {mode} label"
    if value is None:  # in a whole object, null is the empty string (Go's zero value)
        value = ""
    if not isinstance(value, str):
        raise NotEvaluated(f"label {key} is {type_name(value)}, expected a string")
    if value == "privileged":
        return f"sets {mode}=privileged"
    if effective(mode, value) == "privileged":
        return f"sets {mode}={value!r}, not a level: {mode} fails open, as privileged"
    return None


def labels_weakened(labels: Any, where: str, patch: bool) -> list[str]:
    """Weakenings in a labels mapping: a mode label made privileged, or (in a merge patch, where
    null removes a key) removed."""
    if labels is None:
        return ["removes every label, Pod Security ones included"] if patch else []
    if not isinstance(labels, dict):
        raise NotEvaluated(f"{where} is {type_name(labels)}, expected a mapping")
    found = [label_change(k, v, patch and v is None) for k, v in labels.items()]
    return [f for f in found if f]


def json_pointer_key(path: str) -> str:
    """The last step of a JSON pointer, unescaped (RFC 6901: ~1 is /, ~0 is ~)."""
    return path.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")


def json_patch_weakened(ops: list[Any]) -> list[str]:
    """Weakenings in a JSON patch (RFC 6902) of a Namespace."""
    out: list[str] = []
    for i, raw in enumerate(ops):
        op = Fields(need(raw, dict, "a JSON patch operation", (i,)), (i,))
        kind, path = op.str("op") or "", op.str("path") or ""
        if kind not in ("add", "replace", "remove"):
            continue
        if path == LABELS_PATH:
            out += (
                ["removes every label, Pod Security ones included"]
                if kind == "remove"
                else labels_weakened(op.get("value"), f"operation {i} value", False)
            )
        elif path.startswith(LABELS_PATH + "/"):
            change = label_change(json_pointer_key(path), op.get("value"), kind == "remove")
            if change:
                out.append(change)
    return out


def merge_patch_weakened(body: dict[str, Any]) -> list[str]:
    """Weakenings in a merge, strategic merge or apply patch of a Namespace."""
    meta = body.get("metadata")
    if meta is None or (isinstance(meta, dict) and "labels" not in meta):
        return []
    if not isinstance(meta, dict):
        raise NotEvaluated(f"the patch's metadata is {type_name(meta)}, expected a mapping")
    return labels_weakened(meta["labels"], "the patch's metadata.labels", True)


def psa_weakened(ev: AuditEvent) -> list[str]:
    """What the request does to the namespace's Pod Security labels that weakens them, read from
    the request alone."""
    if ev.verb != "patch":
        return labels_weakened(Fields(require_object(ev), ()).mapping("metadata").get("labels"), "labels", False)
    body = ev.raw.get("requestObject")
    if isinstance(body, list):
        return json_patch_weakened(body)
    if isinstance(body, dict):
        return merge_patch_weakened(body)
    if body is None:
        raise unrecorded_patch(ev)
    raise NotEvaluated(f"the recorded patch is {type_name(body)}, expected a JSON patch or a merge patch")


# -- what the log says the labels were: a namespace's labels before an update ----------------------
def _whole(obj: Any) -> Known | None:
    """The mode labels of a whole Namespace object (None: not one, or its labels unreadable)."""
    if not isinstance(obj, dict):
        return None
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None
    labels = meta.get("labels")
    if labels is None:
        return dict.fromkeys(MODE_LABELS)
    if not isinstance(labels, dict):
        return None
    out: Known = {}
    for key in MODE_LABELS:
        value = labels.get(key)
        out[key] = value if isinstance(value, str) else ("" if key in labels and value is None else None)
    return out


def _patched(before: Known | None, body: Any) -> Known | None:
    """The mode labels known after a patch applied to those known before (None: unknown)."""
    known: Known = dict(before or {})
    if isinstance(body, list):  # JSON patch
        for raw in body:
            if not isinstance(raw, dict):
                return None
            kind, path = raw.get("op"), raw.get("path")
            if not isinstance(path, str) or kind == "test":
                continue
            if kind in ("move", "copy") and (
                path.startswith("/metadata") or str(raw.get("from", "")).startswith("/metadata")
            ):
                return None
            if path in ("/metadata", LABELS_PATH):
                if kind == "remove":
                    known = dict.fromkeys(MODE_LABELS)
                    continue
                value = raw.get("value")
                whole = _whole({"metadata": value} if path == LABELS_PATH and isinstance(value, dict) else value)
                if path == LABELS_PATH and value is None:
                    whole = dict.fromkeys(MODE_LABELS)
                if whole is None:
                    return None
                known = whole
            elif path.startswith(LABELS_PATH + "/"):
                key = json_pointer_key(path)
                if key in MODE_LABELS:
                    value = raw.get("value")
                    known[key] = None if kind == "remove" else (value if isinstance(value, str) else "")
        return known or None
    if not isinstance(body, dict) or ("apiVersion" in body and "kind" in body):
        # a server-side apply patch may also remove the labels its manager set before: unknown
        return None
    meta = body.get("metadata")
    if not isinstance(meta, dict) or "labels" not in meta:
        return before
    labels = meta["labels"]
    if labels is None:
        return dict.fromkeys(MODE_LABELS)
    if not isinstance(labels, dict):
        return None
    for key in MODE_LABELS:
        if key in labels:
            value = labels[key]
            known[key] = value if isinstance(value, str) else None  # null removes in a merge patch
    return known or None


def labels_after(ev: AuditEvent, before: Known | None) -> Known | None:
    """The namespace's mode labels after the request: from the object the response returned, else
    the request's whole object (create, update) or the patch applied to what was known."""
    after = _whole(ev.raw.get("responseObject"))
    if after is not None:
        return after
    body = ev.raw.get("requestObject")
    return _patched(before, body) if ev.verb == "patch" else _whole(body)


def lowered(before: Known, after: Known) -> list[str]:
    """Weakenings seen by comparing the labels before and after: a label removed, or a level lowered."""
    out: list[str] = []
    for key, mode in MODE_LABELS.items():
        if key not in before or key not in after:
            continue
        was, now = before[key], after[key]
        if was is None:
            continue
        if now is None:
            out.append(f"removes the {mode} label")
            continue
        a, b = effective(mode, was), effective(mode, now)
        if LEVEL_RANK[b] < LEVEL_RANK[a]:
            out.append(f"lowers {mode} from {a} to {b}")
    return out


def remember(ctx: AuditContext[TrustOptions], name: str, after: Known | None) -> None:
    known: dict[str, Known] = ctx.scratch.setdefault("labels", {})
    known.pop(name, None)
    if after is None:
        return
    known[name] = after
    if len(known) > STATE_LIMIT:
        del known[next(iter(known))]


def unrecorded_patch(ev: AuditEvent) -> NotEvaluated:
    return NotEvaluated(
        f"the audit policy did not record the patch (level {ev.level or 'unknown'}): record namespaces at level "
        "Request or RequestResponse"
    )


@check(
    id="KF-AUDIT-012",
    name="pod-security-labels-weakened",
    title="A namespace's Pod Security labels were removed or set to privileged",
    verified="Request removes no Pod Security label of a namespace and sets none to privileged",
    severity=Severity.HIGH,
    target="audit",
    options=TrustOptions,
    audit=AuditScope(
        verbs=frozenset({"create", "update", "patch"}), resources=frozenset({"namespaces"}), stateful=True
    ),
    mappings=Mappings(mitre=("T1562.001", "T1610"), owasp=("K04",)),
    remediation="Restore the namespace's pod-security.kubernetes.io labels; restrict who can update and patch namespaces, and pin the cluster-wide defaults in the API server's PodSecurity admission configuration.",
)
def pod_security_labels_weakened(ev: AuditEvent, ctx: AuditContext[TrustOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags an allowed request that weakens a namespace's Pod Security admission labels
    (`pod-security.kubernetes.io/enforce`, `audit`, `warn`):

    - a patch that removes one of them (a merge patch setting it to null, a JSON patch
      `remove`), removes every label, or sets one to `privileged`; the patch is read from the
      request body (the whole change is in it);
    - a create or update whose namespace has one of them set to `privileged` (read from the
      request body, or the response body when only that was recorded);
    - a value that is not a level (`Privileged`, `""`) for `audit` or `warn`: the admission
      plugin then fails open, as privileged (for `enforce` it fails closed, as restricted);
    - an update or patch that removes a label, or lowers a level (restricted to baseline), that
      the log showed the namespace had: the check remembers each namespace's labels from the
      requests and responses it reads (creates, updates, patches, by anyone, trusted or not).

    An update replaces the whole namespace, and an event does not record the labels before it:
    an update of a namespace the log has not shown before is judged on its body alone (only a
    privileged level is seen). Patches (what `kubectl label`, `kubectl edit` and `kubectl apply`
    send) are read exactly. A request whose body was not recorded is not evaluated, naming the
    level to record, and what the check knew of that namespace is forgotten. Refused requests,
    dry runs and trusted principals (by default the control plane) are passes.

    Options (`options: {KF-AUDIT-012: {...}}`): `trusted_users`, `trusted_groups`,
    `trust_system` (default true).

    ## Why is this bad?
    The labels are what makes the API server refuse privileged pods in a namespace. Removing
    `enforce` (or setting it to `privileged`) is the step before deploying a privileged pod,
    and removing `audit` and `warn` hides it (MITRE ATT&CK T1562.001 Impair Defenses).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "level": "Request", "verb": "patch", "user": {"username": "mallory"},
     "objectRef": {"resource": "namespaces", "name": "shop"},
     "responseStatus": {"code": 200},
     "requestObject": {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": null}}}}
    ```

    ## How to fix
    Put the labels back and find out who removed them. Restrict `update` and `patch` on
    namespaces to administrators, and set cluster-wide defaults in the PodSecurity admission
    configuration so that a namespace without labels is still held to baseline.

    ## References
    - Kubernetes: Enforce Pod Security Standards with namespace labels (https://kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-namespace-labels/)
    - MITRE ATT&CK for Containers T1562.001 (https://attack.mitre.org/techniques/T1562/001/)
    """
    if not changed(ev):
        return
    name = ev.name
    known: dict[str, Known] = ctx.scratch.get("labels", {})
    before = None if ev.verb == "create" else known.get(name)
    after = labels_after(ev, before)
    remember(ctx, name, after)
    if trusted(ev, ctx.options):
        return
    found = psa_weakened(ev)
    if before is not None and after is not None:
        found += lowered(before, after)
    if found:
        yield Violation(f"{actor(ev)} {did(ev)} namespace {named(ev)}: {', '.join(dict.fromkeys(found))}")
