"""`admission.k8s.io/v1` AdmissionReview: reading a request, writing the response.

The API server POSTs `{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request":
{...}}` and expects the same envelope back with `response.uid` equal to `request.uid`
(k8s.io/api/admission/v1/types.go). Anything else is not something an API server sends: it is
refused as a bad request (ReviewError), never judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})


class ReviewError(ValueError):
    """A body that is not an AdmissionReview request: `reason` is the metrics label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Review:
    """The parts of an AdmissionRequest kubefort reads."""

    uid: str
    operation: str
    kind: str  # request.kind.kind (the object's kind as the webhook sees it)
    group: str
    resource: str  # request.resource.resource (plural), for metrics and messages
    sub_resource: str
    namespace: str | None  # None: a cluster-scoped object
    name: str  # request.name ("" for a CREATE whose name the API server generates)
    dry_run: bool
    object: Any  # the decoded object (None for DELETE and CONNECT)
    old_object: Any  # the object before an UPDATE (never judged)

    def object_name(self) -> str:
        """The name to show: the request's, else the object's (generated names are set by the
        time validating webhooks run), else its generateName prefix."""
        meta = self.object.get("metadata") if isinstance(self.object, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        name = self.name or meta.get("name") or (f"{meta['generateName']}*" if meta.get("generateName") else "")
        return str(name)


def _str(req: dict[str, Any], key: str) -> str:
    value = req.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReviewError("malformed", f"request.{key} is a JSON {type(value).__name__}, expected a string")
    return value


def _gvk(req: dict[str, Any], key: str) -> dict[str, Any]:
    value = req.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ReviewError("malformed", f"request.{key} is a JSON {type(value).__name__}, expected an object")
    return value


def parse_review(body: bytes) -> Review:
    """The request of an AdmissionReview body; ReviewError for anything else."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not body.strip():
            raise ReviewError(
                "not-json", "the body is empty: expected an admission.k8s.io/v1 AdmissionReview"
            ) from None
        raise ReviewError("not-json", f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ReviewError("not-a-review", f"the body is a JSON {type(doc).__name__}, expected an AdmissionReview")
    if doc.get("kind") != KIND:
        raise ReviewError("not-a-review", f"kind is {doc.get('kind')!r}, expected {KIND!r}")
    if doc.get("apiVersion") != API_VERSION:
        raise ReviewError(
            "unsupported-version",
            f"apiVersion is {doc.get('apiVersion')!r}, expected {API_VERSION!r} "
            "(set admissionReviewVersions: [v1] in the webhook configuration)",
        )
    req = doc.get("request")
    if not isinstance(req, dict):
        raise ReviewError("malformed", "request is missing or not an object")
    uid = _str(req, "uid")
    if not uid:
        raise ReviewError("malformed", "request.uid is missing: the response could not be matched to the request")
    operation = _str(req, "operation")
    if operation not in OPERATIONS:
        raise ReviewError("malformed", f"request.operation is {operation!r}, expected one of {sorted(OPERATIONS)}")
    kind = _gvk(req, "kind")
    resource = _gvk(req, "resource")
    dry_run = req.get("dryRun")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise ReviewError("malformed", f"request.dryRun is {dry_run!r}, expected a boolean")
    obj = req.get("object")
    if operation in ("CREATE", "UPDATE") and not isinstance(obj, dict):
        raise ReviewError("malformed", f"request.object of a {operation} is missing or not an object")
    namespace = _str(req, "namespace") or None
    if resource.get("group", "") == "" and resource.get("resource") == "namespaces":
        # the API server fills request.namespace with the name of a Namespace being updated
        # (k8s.io/apiserver requestinfo: /api/v1/namespaces/{name}); the object is cluster-scoped
        namespace = None
    return Review(
        uid=uid,
        operation=operation,
        kind=str(kind.get("kind") or ""),
        group=str(kind.get("group") or ""),
        resource=str(resource.get("resource") or ""),
        sub_resource=_str(req, "subResource"),
        namespace=namespace,
        name=_str(req, "name"),
        dry_run=bool(dry_run),
        object=obj,
        old_object=req.get("oldObject"),
    )


def response_body(uid: str, response: dict[str, Any]) -> bytes:
    """The AdmissionReview the API server expects back."""
    return orjson.dumps({"apiVersion": API_VERSION, "kind": KIND, "response": {"uid": uid, **response}})
