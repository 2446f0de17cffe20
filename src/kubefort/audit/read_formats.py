"""What one JSON value of an audit input holds: events, or why it holds none.

`unwrap(value)` is the slow path of the reader (`read.py` reads plain `audit.k8s.io` Events
itself): it recognises, per value, so per line of a JSON-lines file,

* `EventList` (`audit.k8s.io/v1` or `v1beta1`): what the webhook backend POSTs
  (k8s.io/apiserver/plugin/pkg/audit/webhook: batches of events encoded as one EventList); its
  items usually carry no kind/apiVersion of their own, and take the list's;
* EKS control-plane logs from CloudWatch Logs: the event JSON is the string `message` of a log
  record, as `aws logs filter-log-events` prints them (`{"events": [{"message": ...}, ...]}`,
  one document) and as `aws logs tail`/Logs Insights exports give them one per line (`message`
  or `@message`); a subscription filter's `DATA_MESSAGE` (`logEvents[].message`); a CloudWatch
  export to S3 writes `<timestamp> <message>` lines, which `read.py` splits before calling here
  (see "Exporting log data to Amazon S3", docs.aws.amazon.com/AmazonCloudWatch/latest/logs/S3Export.html);
* GKE Cloud Audit Log entries (`protoPayload` of `@type` google.cloud.audit.AuditLog): mapped
  by `read_gke.py`;
* a JSON array of any of these (`gcloud logging read --format=json`).

Everything else is an `Unreadable` with a reason a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from kubefort.audit import read_gke
from kubefort.audit.event import API_VERSIONS


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A value (or an item of it) that holds no audit event; `kind` is the problem class."""

    kind: str  # "not-event" | "event" (a field of the wrong type) | "json" (a message that is not JSON)
    reason: str
    item: int | None = None


# (the event mapping, its item index inside the value or None) | Unreadable
Found = tuple[dict[str, Any], int | None] | Unreadable

EVENT_KINDS = "audit.k8s.io/v1 or v1beta1 Event or EventList"


def describe(value: object) -> str:
    """A few words on what a JSON value is, for messages."""
    if isinstance(value, dict):
        kind, api = value.get("kind"), value.get("apiVersion")
        if isinstance(kind, str) and kind:
            return f"kind {kind}" + (f" of apiVersion {api}" if isinstance(api, str) and api else "")
        keys = ", ".join(sorted(str(k) for k in list(value)[:4]))
        return f"an object without kind ({keys}{', ...' if len(value) > 4 else ''})" if value else "an empty object"
    return {list: "a JSON array", str: "a JSON string", bool: "a JSON boolean", type(None): "null"}.get(
        type(value), "a JSON number"
    )


def unwrap(value: object, item: int | None = None) -> Iterator[Found]:
    """The events in one JSON value (item: its index when it is itself an item of a list)."""
    if isinstance(value, list):
        for i, v in enumerate(value):
            yield from unwrap(v, i)
        return
    if not isinstance(value, dict):
        yield Unreadable("not-event", f"{describe(value)}, not an audit event ({EVENT_KINDS})", item)
        return
    kind = value.get("kind")
    if kind in ("Event", "EventList"):
        api = value.get("apiVersion")
        if api not in API_VERSIONS:
            what = "a Kubernetes Event object (core/v1), not an audit event" if api == "v1" else "not read"
            yield Unreadable("not-event", f"kind {kind} of apiVersion {api!r}: {what} ({EVENT_KINDS})", item)
        elif kind == "Event":
            yield value, item
        else:
            yield from _event_list(value, api)
        return
    if read_gke.is_log_entry(value):
        try:
            yield read_gke.to_event(value), item
        except read_gke.NotKubernetes as exc:
            yield Unreadable("not-event", str(exc), item)
        except ValueError as exc:
            yield Unreadable("event", f"GKE audit log entry: {exc}", item)
        return
    message = value.get("message", value.get("@message"))
    if isinstance(message, str):
        yield from _cloudwatch(message, item)
        return
    for key in ("events", "logEvents"):  # `aws logs filter-log-events`; a subscription's DATA_MESSAGE
        records = value.get(key)
        if isinstance(records, list):
            for i, r in enumerate(records):
                inner = r.get("message") if isinstance(r, dict) else None
                if isinstance(inner, str):
                    yield from _cloudwatch(inner, i)
                else:
                    yield Unreadable("not-event", f"{key}[{i}] has no string message (a CloudWatch log record)", i)
            return
    yield Unreadable("not-event", f"{describe(value)}, not an audit event ({EVENT_KINDS})", item)


def _event_list(value: dict[str, Any], api: str) -> Iterator[Found]:
    items = value.get("items")
    if items is None:
        return
    if not isinstance(items, list):
        yield Unreadable("event", f"EventList items is {type(items).__name__}, expected a list")
        return
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            yield Unreadable("event", f"EventList items[{i}] is {describe(it)}, expected an Event", i)
            continue
        kind = it.get("kind", "Event")
        if kind != "Event" or it.get("apiVersion", api) not in API_VERSIONS:
            yield Unreadable("not-event", f"EventList items[{i}] is {describe(it)}, not an audit event", i)
            continue
        yield it, i


def _cloudwatch(message: str, item: int | None) -> Iterator[Found]:
    try:
        inner = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        yield Unreadable("json", f"CloudWatch log record whose message is not JSON ({exc.msg})", item)
        return
    if isinstance(inner, dict) and inner.get("kind") in ("Event", "EventList"):
        for found in unwrap(inner):
            if isinstance(found, Unreadable):
                yield Unreadable(found.kind, found.reason, item if found.item is None else found.item)
            else:
                yield found[0], item if found[1] is None else found[1]
        return
    yield Unreadable("not-event", f"CloudWatch log record whose message is {describe(inner)}, not an audit event", item)
