"""One API-server audit event (`audit.k8s.io/v1` or `v1beta1` `Event`), read once into typed fields.

The audit pipeline reads events as the API server wrote them (JSON lines, `EventList`s, managed
exports that wrap them); each reader unwraps its format into the plain event mapping and calls
`AuditEvent.read`, which checks the types of the fields detections use and raises
`AuditEventError` (with the field's path) for an event the API server could not have written.
Everything else stays in `raw` (request and response objects are read by the checks that need
them, and only then).

Field reference: k8s.io/apiserver/pkg/apis/audit/v1/types.go (Event, ObjectReference, UserInfo).
v1beta1 has the same fields (plus `timestamp` and `metadata`, which kubefort does not read).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

API_VERSIONS = frozenset({"audit.k8s.io/v1", "audit.k8s.io/v1beta1"})
# stages in the order the API server emits them for one request (audit.k8s.io/v1 Stage)
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
LEVELS = ("None", "Metadata", "Request", "RequestResponse")

_EMPTY: Mapping[str, Any] = {}


class AuditEventError(Exception):
    """An event kubefort cannot read: a field has a type the API server never writes."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if v is None:
        return ""
    if type(v) is str:
        return v
    raise AuditEventError(f"{where}{key} is {type(v).__name__}, expected a string", where + key)


def _map(d: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    v = d.get(key)
    if v is None:
        return _EMPTY
    if type(v) is dict:
        return v
    raise AuditEventError(f"{where}{key} is {type(v).__name__}, expected an object", where + key)


def _strs(d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    v = d.get(key)
    if v is None:
        return ()
    if type(v) is list and all(type(x) is str for x in v):
        return tuple(v)
    raise AuditEventError(f"{where}{key} is not a list of strings", where + key)


def _str_list(v: object) -> tuple[str, ...] | None:
    """A non-empty list of strings as a tuple, fast; None for anything else (the caller then
    decides through `_strs`: () for null or an empty list, AuditEventError for a wrong type)."""
    if type(v) is list and v:
        try:
            "".join(v)  # raises TypeError unless every member is a string: a type check at C speed
        except TypeError:
            return None
        return tuple(v)
    return None


class AuditEvent:
    """The fields detections read, typed; `raw` is the event mapping itself.

    `file`/`line` say where the event was read (the JSON line, or the line where its EventList
    starts, with `item` its index in `items`); `received` is when kubefort read it (Unix time),
    for time-to-detect."""

    __slots__ = (
        "_time",
        "annotations",
        "api_group",
        "api_version",
        "audit_id",
        "code",
        "file",
        "groups",
        "impersonated_groups",
        "impersonated_user",
        "item",
        "level",
        "line",
        "name",
        "namespace",
        "raw",
        "received",
        "request_uri",
        "resource",
        "source_ips",
        "stage",
        "stage_timestamp",
        "subresource",
        "uid",
        "user",
        "user_agent",
        "verb",
    )

    raw: dict[str, Any]
    file: str
    line: int
    item: int | None
    received: float
    audit_id: str
    level: str
    stage: str
    stage_timestamp: str  # RFC 3339 with microseconds, as written ("" when absent)
    verb: str  # the API verb ("get", "list", "create", "patch", ...; "" when absent)
    request_uri: str
    user: str  # user.username ("" when absent)
    uid: str
    groups: tuple[str, ...]
    impersonated_user: str  # impersonatedUser.username ("" when nobody was impersonated)
    impersonated_groups: tuple[str, ...]
    source_ips: tuple[str, ...]
    user_agent: str
    code: int | None  # responseStatus.code (None: no response recorded at this stage)
    resource: str  # objectRef.resource ("" for non-resource requests such as /healthz)
    subresource: str
    namespace: str
    name: str
    api_group: str  # "" for the core group
    api_version: str
    annotations: Mapping[str, Any]
    _time: float | None

    @classmethod
    def read(
        cls, raw: dict[str, Any], file: str = "-", line: int = 0, item: int | None = None, received: float = 0.0
    ) -> AuditEvent:
        """The event in `raw` (already unwrapped from its export format). AuditEventError when a
        field detections read has the wrong type."""
        # each field: the common case (a string, a mapping) inline, anything else through the
        # helpers, which give "" / {} / () for null and AuditEventError for a wrong type; this
        # runs for every event of a log, so every call saved counts
        ev = cls.__new__(cls)
        ev.raw = raw
        ev.file = file
        ev.line = line
        ev.item = item
        ev.received = received
        ev._time = None
        g = raw.get
        v = g("auditID")
        ev.audit_id = v if type(v) is str else _str(raw, "auditID", "")
        v = g("level")
        ev.level = v if type(v) is str else _str(raw, "level", "")
        v = g("stage")
        ev.stage = v if type(v) is str else _str(raw, "stage", "")
        v = g("stageTimestamp")
        ev.stage_timestamp = v if type(v) is str else _str(raw, "stageTimestamp", "")
        v = g("verb")
        ev.verb = v if type(v) is str else _str(raw, "verb", "")
        v = g("requestURI")
        ev.request_uri = v if type(v) is str else _str(raw, "requestURI", "")
        user = g("user")
        if type(user) is not dict:
            user = _map(raw, "user", "")
        v = user.get("username")
        ev.user = v if type(v) is str else _str(user, "username", "user.")
        v = user.get("uid")
        ev.uid = v if type(v) is str else _str(user, "uid", "user.")
        v = user.get("groups")
        ev.groups = _str_list(v) or _strs(user, "groups", "user.")
        if g("impersonatedUser") is None:
            ev.impersonated_user = ""
            ev.impersonated_groups = ()
        else:
            imp = _map(raw, "impersonatedUser", "")
            ev.impersonated_user = _str(imp, "username", "impersonatedUser.")
            ev.impersonated_groups = _strs(imp, "groups", "impersonatedUser.")
        ev.source_ips = _str_list(g("sourceIPs")) or _strs(raw, "sourceIPs", "")
        v = g("userAgent")
        ev.user_agent = v if type(v) is str else _str(raw, "userAgent", "")
        status = g("responseStatus")
        if type(status) is not dict:
            status = _map(raw, "responseStatus", "")
        code = status.get("code")
        if code is not None and type(code) is not int:
            if type(code) is float and code.is_integer():
                code = int(code)
            else:
                raise AuditEventError(
                    f"responseStatus.code is {type(code).__name__}, expected an integer", "responseStatus.code"
                )
        ev.code = code
        ref = g("objectRef")
        if type(ref) is not dict:
            ref = _map(raw, "objectRef", "")
        r = ref.get
        v = r("resource")
        ev.resource = v if type(v) is str else _str(ref, "resource", "objectRef.")
        v = r("subresource")
        ev.subresource = v if type(v) is str else _str(ref, "subresource", "objectRef.")
        v = r("namespace")
        ev.namespace = v if type(v) is str else _str(ref, "namespace", "objectRef.")
        v = r("name")
        ev.name = v if type(v) is str else _str(ref, "name", "objectRef.")
        v = r("apiGroup")
        ev.api_group = v if type(v) is str else _str(ref, "apiGroup", "objectRef.")
        v = r("apiVersion")
        ev.api_version = v if type(v) is str else _str(ref, "apiVersion", "objectRef.")
        v = g("annotations")
        ev.annotations = v if type(v) is dict else _map(raw, "annotations", "")
        return ev

    # -- derived ---------------------------------------------------------------------------------
    @property
    def principal(self) -> str:
        """Who the request acted as: the impersonated user when there is one, else the user."""
        return self.impersonated_user or self.user

    @property
    def group_resource(self) -> str:
        """`resource.group` as kubectl writes it (`secrets`, `clusterrolebindings.rbac.authorization.k8s.io`);
        "" for non-resource requests."""
        if not self.resource:
            return ""
        return f"{self.resource}.{self.api_group}" if self.api_group else self.resource

    @property
    def time(self) -> float | None:
        """stageTimestamp as Unix time (None when absent or unreadable)."""
        t = self._time
        if t is None and self.stage_timestamp:
            try:
                t = self._time = datetime.fromisoformat(self.stage_timestamp).timestamp()
            except ValueError:
                return None
        return t

    def request_object(self) -> dict[str, Any] | None:
        """The request body the server recorded (levels Request and RequestResponse), if a mapping."""
        v = self.raw.get("requestObject")
        return v if type(v) is dict else None

    def response_object(self) -> dict[str, Any] | None:
        """The response body the server recorded (level RequestResponse), if a mapping."""
        v = self.raw.get("responseObject")
        return v if type(v) is dict else None

    def summary(self) -> dict[str, Any]:
        """The event as reports show it (JSON `results[].event`)."""
        out: dict[str, Any] = {
            "auditID": self.audit_id,
            "stage": self.stage,
            "stageTimestamp": self.stage_timestamp,
            "user": {"username": self.user, "groups": list(self.groups)},
            "sourceIPs": list(self.source_ips),
            "userAgent": self.user_agent,
            "verb": self.verb,
            "requestURI": self.request_uri,
            "responseCode": self.code,
            "objectRef": {
                "apiGroup": self.api_group,
                "apiVersion": self.api_version,
                "resource": self.resource,
                "subresource": self.subresource,
                "namespace": self.namespace,
                "name": self.name,
            },
        }
        if self.impersonated_user or self.impersonated_groups:
            out["impersonatedUser"] = {"username": self.impersonated_user, "groups": list(self.impersonated_groups)}
        return out
