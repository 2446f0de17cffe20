"""GKE's Kubernetes audit logs (Cloud Audit Logs) as audit events.

GKE does not give the API server's own log: each request is one Cloud Logging `LogEntry` whose
`protoPayload` is a `google.cloud.audit.AuditLog` (`@type`
`type.googleapis.com/google.cloud.audit.AuditLog`, `serviceName` `k8s.io`). That is what
`gcloud logging read --format=json` prints (a JSON array) and what a log sink writes to Cloud
Storage or Pub/Sub (one entry per line). Sources: the LogEntry and AuditLog messages
(googleapis/google/logging/v2/log_entry.proto, google/cloud/audit/audit_log.proto) and GKE's
"Audit logging" documentation (cloud.google.com/kubernetes-engine/docs/how-to/audit-logging).

The mapping to `audit.k8s.io/v1` Event fields:

| Event field                   | from the LogEntry                                                      |
|-------------------------------|------------------------------------------------------------------------|
| auditID                       | `operation.id` (GKE writes the request's audit ID there), else `insertId` |
| stage                         | `ResponseComplete` (GKE writes one entry per request)                   |
| stageTimestamp, requestReceivedTimestamp | `timestamp`                                                |
| verb                          | the last part of `methodName` (`io.k8s.core.v1.pods.create` -> create)  |
| objectRef                     | `resourceName` (`core/v1/namespaces/shop/pods/web-0/exec`: group, version, namespace, resource, name, subresource; `core` is the core group), with `methodName` saying which part is the resource and which the subresource |
| user.username                 | `authenticationInfo.principalEmail`                                      |
| sourceIPs                     | `requestMetadata.callerIp`                                               |
| userAgent                     | `requestMetadata.callerSuppliedUserAgent`                                |
| responseStatus.code           | `status.code`, a google.rpc canonical code, as the HTTP status code.proto gives for it (0 or no status: 200, 7 PERMISSION_DENIED: 403, 16 UNAUTHENTICATED: 401, 5 NOT_FOUND: 404 ...) |
| requestObject, responseObject | `request`, `response` (without their `@type`)                           |
| level                         | RequestResponse when `response` is recorded, Request when `request` is, else Metadata |
| annotations                   | `labels` (GKE puts `authorization.k8s.io/decision` and `reason` there)   |
| requestURI                    | `resourceName` only for non-resource requests (a path such as `/readyz`) |

No equivalent (left empty, so detections that need them cannot fire on GKE entries):
`user.groups`, `user.uid`, `impersonatedUser`, the request URI of resource requests (query
parameters such as `watch=true`), the exact 2xx code (201 Created is recorded as OK), and the
ResponseStarted stage of long-running requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
SERVICE = "k8s.io"

# google.rpc.Code -> the HTTP status code.proto documents for it
RPC_TO_HTTP = {
    0: 200,
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}


class NotKubernetes(ValueError):
    """A Cloud Logging entry that is not a Kubernetes audit log entry."""


def is_log_entry(obj: Mapping[str, Any]) -> bool:
    return "protoPayload" in obj


def _text(d: Mapping[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if v is None:
        return ""
    if type(v) is not str:
        raise ValueError(f"{where}{key} is {type(v).__name__}, expected a string")
    return v


def _mapping(d: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    v = d.get(key)
    if v is None:
        return {}
    if type(v) is not dict:
        raise ValueError(f"{where}{key} is {type(v).__name__}, expected an object")
    return v


def object_ref(method: str, resource_name: str) -> dict[str, str]:
    """objectRef from `methodName` and `resourceName` ({} when they name no resource).

    `methodName` is `io.k8s.<group>.<version>.<resource>[.<subresource>].<verb>` and
    `resourceName` `<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]`."""
    parts = method.split(".")
    segs = resource_name.split("/")
    if len(parts) < 5 or parts[:2] != ["io", "k8s"] or len(segs) < 3 or not segs[0]:
        return {}
    group, version, rest = segs[0], segs[1], segs[2:]
    # the version comes right before the resource in methodName; a subresource sits between
    # the resource and the verb
    if parts[-3] == version:
        resource, subresource = parts[-2], ""
    else:
        resource, subresource = parts[-3], parts[-2]
    ref = {"apiGroup": "" if group == "core" else group, "apiVersion": version, "resource": resource}
    if resource != "namespaces" and len(rest) >= 3 and rest[0] == "namespaces":
        ref["namespace"] = rest[1]
        rest = rest[2:]
    if len(rest) > 1 and rest[0] == resource:
        ref["name"] = rest[1]
    if subresource:
        ref["subresource"] = subresource
    return {k: v for k, v in ref.items() if v or k == "apiGroup"}


def _body(v: object) -> object:
    if type(v) is dict and "@type" in v:
        return {k: x for k, x in v.items() if k != "@type"}
    return v


def to_event(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The audit event a GKE LogEntry records. NotKubernetes for an entry of another service;
    ValueError (with the field's path) for a field of the wrong type."""
    payload = _mapping(entry, "protoPayload", "")
    kind = _text(payload, "@type", "protoPayload.")
    service = _text(payload, "serviceName", "protoPayload.")
    if kind != AUDIT_LOG_TYPE or service != SERVICE:
        raise NotKubernetes(
            f"a Cloud Logging entry of {service or 'no service'} ({kind or 'no @type'}), not a Kubernetes audit log entry"
        )
    method = _text(payload, "methodName", "protoPayload.")
    resource_name = _text(payload, "resourceName", "protoPayload.")
    auth = _mapping(payload, "authenticationInfo", "protoPayload.")
    meta = _mapping(payload, "requestMetadata", "protoPayload.")
    status = _mapping(payload, "status", "protoPayload.")
    operation = _mapping(entry, "operation", "")
    code = status.get("code", 0)
    if type(code) is not int:
        raise ValueError(f"protoPayload.status.code is {type(code).__name__}, expected an integer")
    ts = _text(entry, "timestamp", "")
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "auditID": _text(operation, "id", "operation.") or _text(entry, "insertId", ""),
        "stage": "ResponseComplete",
        "verb": method.rsplit(".", 1)[-1] if method else "",
        "user": {"username": _text(auth, "principalEmail", "protoPayload.authenticationInfo.")},
        "responseStatus": {"code": RPC_TO_HTTP.get(code, 500)},
        "requestReceivedTimestamp": ts,
        "stageTimestamp": ts,
    }
    ip = _text(meta, "callerIp", "protoPayload.requestMetadata.")
    if ip:
        event["sourceIPs"] = [ip]
    agent = _text(meta, "callerSuppliedUserAgent", "protoPayload.requestMetadata.")
    if agent:
        event["userAgent"] = agent
    ref = object_ref(method, resource_name)
    if ref:
        event["objectRef"] = ref
    elif resource_name.startswith("/"):
        event["requestURI"] = resource_name
    level = "Metadata"
    if payload.get("request") is not None:
        event["requestObject"] = _body(payload["request"])
        level = "Request"
    if payload.get("response") is not None:
        event["responseObject"] = _body(payload["response"])
        level = "RequestResponse"
    event["level"] = level
    labels = entry.get("labels")
    if type(labels) is dict and labels:
        event["annotations"] = labels
    return event
