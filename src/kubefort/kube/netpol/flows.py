"""Readers for exported flow logs: Cilium Hubble and Calico Enterprise/Cloud, as normalised flows.

Both are JSON lines. A file is read in chunks and split into lines, so memory stays bounded by
the longest line allowed (`max_line`, 1 MiB): a longer line is counted as bad and skipped
without being held. Every line that is not a usable flow is accounted for: a bad line (not
JSON, a field of the wrong type, too long) is counted with its file and line number; a record
that is a flow of another kind (a reply, ICMP, an L7 record, a verdict that says nothing about
policy) is counted under its reason in `ReadStats.skipped`. Nothing is dropped silently.

**Hubble** (`hubble observe -o json`, the Hubble exporter): each line is a `GetFlowsResponse`
(`{"flow": {...}, "node_name": ..., "time": ...}`) or a bare `Flow`, as protojson writes
cilium's `api/v1/flow/flow.proto`: proto field names (`pod_name`, `traffic_direction`, ...; the
lowerCamel JSON names protojson also accepts are read too), enums by name (or number), zero
values left out. What is read:

* `verdict`: FORWARDED and REDIRECTED (to the L7 proxy, then forwarded) are `forwarded`;
  DROPPED is `dropped` when `drop_reason_desc` is absent or a policy drop (POLICY_DENIED,
  POLICY_DENY), otherwise skipped (a datapath drop says nothing about policy); AUDIT (policy
  audit mode: would have been dropped) is `audit`; anything else is skipped.
* `Type`: L3_L4 (or absent, as exports with a field mask leave it out); L7 and SOCK records are
  skipped (the connection's L3/L4 flow is counted). `is_reply: true` (or the deprecated `reply`)
  is skipped: the reply direction of a connection is not a connection attempt.
* `l4.TCP|UDP|SCTP.destination_port` (ICMP and a missing port are skipped);
  `IP.source`/`IP.destination`; `source`/`destination` endpoints: `namespace`, `pod_name`,
  `labels` (`k8s:key=value` are the pod's labels; `reserved:world` marks an address outside the
  cluster, other `reserved:` identities (host, remote-node, ...) are not pods) and `workloads`
  (`[{"name", "kind"}]`, the pod's controller); `time` (RFC 3339).

**Calico** (Calico Enterprise/Cloud flow logs, the JSON that fluentd writes to Elasticsearch
and to `flows.log`; fields as felix's flow log `JSONOutput`, documented under "Flow log data
types"; an Elasticsearch hit's `_source` is unwrapped): `start_time`/`end_time` (UNIX seconds),
`action` (`allow` -> forwarded, `deny` -> dropped), `proto` (`tcp`, `udp`, `sctp` or the IANA
number), `dest_port` (null for ICMP: skipped), `num_flows` (the flows the record aggregates),
`reporter` (`src` or `dst`), and per end `<end>_type` (`wep` a pod, `hep` a host endpoint,
`ns` a NetworkSet, `net` a network), `<end>_namespace` (`-`: none), `<end>_name` (`-`: aggregated
over), `<end>_name_aggr` (a pod's name prefix ending in `*`, or `pub`/`pvt`),
`<end>_labels.labels` (`key=value`), `<end>_ip` (null when aggregated). (`source_*` and
`dest_*`.)

Endpoints repeat across millions of records, so each reader keeps the endpoints it made, found
by a few fields (namespace, pod name, address; Calico also the type and aggregated name) with
the rest of what an endpoint is made of compared on a hit: what a record counts as depends on
that record alone, never on the records read before it (observe_read.py reads byte ranges of
one file in several processes and relies on it).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any, NamedTuple, Protocol

import orjson

MAX_LINE = 1 << 20  # bytes; a longer line is a bad line
CHUNK = 1 << 20
KEEP_BAD = 20  # bad lines listed one by one; the others are counted

FORWARDED, DROPPED, AUDIT = "forwarded", "dropped", "audit"
VERDICTS = (FORWARDED, DROPPED, AUDIT)
FORMATS = ("hubble", "calico")


class Endpoint(NamedTuple):
    """One end of a flow as the log names it (hashable: the observer caches what it resolves to)."""

    namespace: str  # "" when none
    pod: str  # the pod's name; its name prefix (generateName) when `prefix`; "" when not a pod
    labels: tuple[tuple[str, str], ...]  # the pod's labels, when the log gives them
    ip: str  # "" when unknown
    workload: tuple[str, str] | None  # (kind, name) of the pod's controller (Hubble `workloads`)
    prefix: bool  # Calico aggregated the pod name: `pod` is the prefix its pods share
    kind: str  # "" a pod (or unknown); "world" outside the cluster; else what it is instead of a pod


class Flow(NamedTuple):
    """One normalised flow record: `num` connections src -> dst:port/proto seen first..last."""

    src: Endpoint
    dst: Endpoint
    proto: str  # TCP | UDP | SCTP
    port: int
    verdict: str  # forwarded | dropped | audit (what the CNI did)
    first: str  # UTC, "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" ("" when the log has no time)
    last: str
    num: int  # connections the record stands for (Hubble: 1; Calico: num_flows)


@dataclass(slots=True)
class ReadStats:
    """What reading the flow files met: formats, counts, skip reasons and bad lines."""

    formats: dict[str, str] = field(default_factory=dict)  # file -> format read
    lines: int = 0
    flows: int = 0  # records turned into flows
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> records
    bad: int = 0
    bad_lines: list[tuple[str, int, str]] = field(default_factory=list)  # the first KEEP_BAD

    def bad_line(self, name: str, line: int, reason: str) -> None:
        self.bad += 1
        if len(self.bad_lines) < KEEP_BAD:
            self.bad_lines.append((name, line, reason))


class Readable(Protocol):
    """What the readers need of a stream: `read(n)`, b"" at its end."""

    def read(self, n: int = -1, /) -> bytes: ...


class BadLine(Exception):
    """A line that is not a flow record of the format (the message says why)."""


# ---------------------------------------------------------------------------------------------
def read_flows(stream: IO[bytes], name: str, fmt: str, stats: ReadStats, max_line: int = MAX_LINE) -> Iterator[Flow]:
    """The flows of one JSON-lines stream. `fmt` is hubble, calico or auto (decided by the first
    record that is either's; lines before it that are neither are bad). Blank lines are ignored."""
    known = fmt in FORMATS
    if known:
        stats.formats[name] = fmt
    hub, cal = Hubble(), Calico()
    parse = hub.parse if fmt == "hubble" else cal.parse
    loads, decode_error, skipped = orjson.loads, orjson.JSONDecodeError, stats.skipped
    lineno = blank = flows = 0
    try:
        for lines in chunks(stream, max_line):
            for line in lines:
                lineno += 1
                if line is None:
                    stats.bad_line(name, lineno, f"longer than {max_line} bytes")
                    continue
                try:
                    obj = loads(line)
                except decode_error as exc:
                    if not line or line.isspace():
                        blank += 1
                    else:
                        stats.bad_line(name, lineno, not_json(exc))
                    continue
                if not known:
                    try:
                        fmt = detect(obj)
                    except BadLine as exc:
                        stats.bad_line(name, lineno, str(exc))
                        continue
                    known = True
                    stats.formats[name] = fmt
                    parse = hub.parse if fmt == "hubble" else cal.parse
                out = judge_record(parse, obj)
                if isinstance(out, str):
                    skipped[out] += 1
                elif isinstance(out, BadLine):
                    stats.bad_line(name, lineno, str(out))
                else:
                    flows += 1
                    yield out
    finally:
        stats.lines += lineno - blank
        stats.flows += flows
        if name not in stats.formats:
            stats.formats[name] = "empty" if lineno == blank else "unknown"


def not_json(exc: ValueError) -> str:
    """The bad-line reason for a line orjson cannot parse."""
    return f"not JSON ({str(exc).split(':', 1)[0]})"


def judge_record(parse: Callable[[Any], Flow | str], obj: Any) -> Flow | str | BadLine:
    """One parsed record through `parse`: a Flow, the reason it is skipped, or why it is a bad
    line (returned, not raised; a field of an unexpected type is caught here as a safety net)."""
    try:
        return parse(obj)
    except BadLine as exc:
        return exc.with_traceback(None)  # its traceback's frame holds it: a cycle only a collection frees
    except (TypeError, AttributeError, ValueError, KeyError):
        return BadLine("a field has the wrong type")


def chunks(stream: Readable, max_line: int) -> Iterator[list[bytes | None]]:
    """The lines of a stream, a chunk at a time (without their newline); None stands for a line
    longer than max_line, which is never held whole."""
    size = min(CHUNK, max_line)  # a line inside one chunk is shorter than max_line: only a line
    rest = b""  # that spans chunks (the first of a chunk, with `rest`) needs its length checked
    huge = False
    while chunk := stream.read(size):
        parts = chunk.split(b"\n")
        tail = parts.pop()
        if parts:
            first = None if huge or len(rest) + len(parts[0]) > max_line else rest + parts[0]
            lines: list[bytes | None] = [first]
            lines += parts[1:]
            huge, rest = False, tail
            yield lines
        else:
            rest += tail
        if len(rest) > max_line:
            huge, rest = True, b""
    if rest or huge:
        yield [None if huge else rest]


def detect(obj: Any) -> str:
    """`hubble` or `calico` for a first record of either; BadLine otherwise."""
    if isinstance(obj, dict):
        inner = obj.get("_source", obj)
        if isinstance(inner, dict) and ("reporter" in inner or "source_name_aggr" in inner):
            return "calico"
        if any(k in obj for k in ("flow", "verdict", "l4", "IP", "node_status", "lost_events")):
            return "hubble"
    raise BadLine("neither a Hubble flow nor a Calico flow log record")


# ---------------------------------------------------------------------------------------------
_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z")


def norm_time(s: Any) -> str:
    """An RFC 3339 time as UTC with nanoseconds ("" for none): strings of one shape sort in order."""
    if s is None or s == "":
        return ""
    if type(s) is not str:
        raise BadLine(f"time is {type(s).__name__}, expected an RFC 3339 string")
    if len(s) == 30 and s[19] == "." and s[29] == "Z":
        return s
    m = _TIME.fullmatch(s)
    if m:
        return f"{m[1]}.{(m[2] or '').ljust(9, '0')}Z"
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        raise BadLine(f"time {s[:40]!r} is not RFC 3339") from None
    if t.tzinfo is None:
        raise BadLine(f"time {s[:40]!r} has no time zone")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_END_OF_9999 = 253402300800  # 10000-01-01T00:00:00Z in UNIX seconds
_MINUTES: dict[int, str] = {}  # minutes since the epoch -> "YYYY-MM-DDTHH:MM:"
_SECONDS = [f"{s:02d}.000000000Z" for s in range(60)]


def unix_time(v: Any) -> str:
    """UNIX seconds as the normalised time string."""
    if type(v) is int and 0 <= v < _END_OF_9999:  # whole seconds (what felix writes): no datetime
        minute, sec = divmod(v, 60)
        p = _MINUTES.get(minute)
        if p is None:
            day, m = divmod(minute, 1440)
            p = f"{date.fromordinal(_EPOCH_ORDINAL + day).isoformat()}T{m // 60:02d}:{m % 60:02d}:"
            if len(_MINUTES) < 1 << 16:
                _MINUTES[minute] = p
        return p + _SECONDS[sec]
    if type(v) is not int and type(v) is not float:
        raise BadLine(f"time is {type(v).__name__}, expected UNIX seconds")
    try:
        return datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    except (OverflowError, OSError, ValueError):
        raise BadLine(f"time {v} is out of range") from None


def _port(v: Any, what: str) -> int:
    if type(v) is not int:
        raise BadLine(f"{what} is {type(v).__name__}, expected a number")
    if not 0 <= v <= 65535:
        raise BadLine(f"{what} {v} is not a port number")
    return v


def _str(v: Any, what: str) -> str:
    if v is None:
        return ""
    if type(v) is not str:
        raise BadLine(f"{what} is {type(v).__name__}, expected a string")
    return v


def _ip(v: Any, what: str) -> str:
    s = _str(v, what)
    if s:
        try:
            ipaddress.ip_address(s)
        except ValueError:
            raise BadLine(f"{what} {s[:60]!r} is not an IP address") from None
    return s


def _get(d: dict[str, Any], proto_name: str, json_name: str) -> Any:
    """A protojson field by its proto name or its lowerCamel JSON name (protojson accepts both)."""
    v = d.get(proto_name)
    return d.get(json_name) if v is None else v


# ---------------------------------------------------------------------------------------------
_H_VERDICT = {"FORWARDED": FORWARDED, 1: FORWARDED, "REDIRECTED": FORWARDED, 5: FORWARDED}
_H_VERDICT |= {"DROPPED": DROPPED, 2: DROPPED, "AUDIT": AUDIT, 4: AUDIT}
_H_VERDICT_NAMES = {0: "VERDICT_UNKNOWN", 3: "ERROR", 6: "TRACED", 7: "TRANSLATED"}
H_POLICY_DROPS = frozenset({"POLICY_DENIED", 133, "POLICY_DENY", 181, "DROP_REASON_UNKNOWN", 0})
_H_TYPES: dict[Any, str] = {"L7": "L7 record", 2: "L7 record", "SOCK": "socket event", 3: "socket event"}
_EMPTY: dict[str, Any] = {}
_new = tuple.__new__
KEEP_ENDPOINTS = 1 << 20  # endpoints a reader keeps: a flood of distinct world addresses is not kept


def hubble_key(ep: dict[str, Any], ip: Any) -> tuple[Any, ...]:
    """What a Hubble endpoint's cache entry is found by; its `labels` and `workloads` are compared
    on a hit, so what a record's endpoint becomes depends on that record alone."""
    pod = ep.get("pod_name")
    return (ep.get("namespace"), pod, ip) if pod else (ep.get("namespace"), pod, ep.get("podName"), ip)


class Hubble:
    """Hubble records -> flows; endpoints are interned (pods repeat across millions of flows)."""

    def __init__(self) -> None:
        # hubble_key -> (labels, workloads, the endpoint they make)
        self.ends: dict[tuple[Any, ...], tuple[Any, Any, Endpoint]] = {}

    def parse(self, obj: Any) -> Flow | str:
        """One record: a Flow, or why it is not one to judge (BadLine when it is not a record)."""
        if obj.__class__ is not dict:
            raise BadLine("not a JSON object")
        f = obj.get("flow")
        if f is None:
            for k in ("node_status", "lost_events", "agent_event", "debug_event"):
                if k in obj:
                    return f"not a flow ({k})"
            f = obj
        if f.__class__ is not dict:
            raise BadLine("flow is not an object")
        get = f.get
        t = get("Type")
        if t != "L3_L4" and t is not None and (why := self.other_type(t)):
            return why
        reply = get("is_reply")
        if reply is not False:
            if reply is None:
                reply = get("isReply", get("reply"))
            if reply is True:
                return "reply direction"
            if reply is not None and reply is not False:
                raise BadLine("is_reply is not a boolean")
        v = get("verdict")
        verdict = _H_VERDICT.get(v) if v.__class__ is str or v.__class__ is int else None
        if verdict is None:
            if v is not None and v.__class__ is not str and v.__class__ is not int:
                raise BadLine("verdict is not a verdict name")
            return f"verdict {_H_VERDICT_NAMES.get(v, v) if v.__class__ is int else v or 'VERDICT_UNKNOWN'}"
        if verdict is DROPPED:
            why = _get(f, "drop_reason_desc", "dropReasonDesc")
            if why is not None and why not in H_POLICY_DROPS:
                if why.__class__ is not str and why.__class__ is not int:
                    raise BadLine("drop_reason_desc is not a drop reason")
                return f"dropped, not by policy ({why})"
        l4 = get("l4")
        if l4.__class__ is not dict:
            if l4 is None:
                return "no L4 (not TCP, UDP or SCTP)"
            raise BadLine("l4 is not an object")
        key = "TCP"
        p = l4.get("TCP")
        if p is None:
            for key in ("UDP", "SCTP"):
                p = l4.get(key)
                if p is not None:
                    break
            else:
                return "ICMP" if ("ICMPv4" in l4 or "ICMPv6" in l4) else "no L4 (not TCP, UDP or SCTP)"
        if p.__class__ is not dict:
            raise BadLine(f"l4.{key} is not an object")
        port = p.get("destination_port")
        if port.__class__ is not int or not 0 < port < 65536:
            port = _port(_get(p, "destination_port", "destinationPort") or 0, f"l4.{key}.destination_port")
            if port == 0:
                return "no destination port"
        ip = get("IP")
        if ip.__class__ is not dict:
            if ip is not None:
                raise BadLine("IP is not an object")
            ip = _EMPTY
        src = self.endpoint(get("source"), ip.get("source"), "source")
        dst = self.endpoint(get("destination"), ip.get("destination"), "destination")
        tm = get("time")
        if tm is None:
            tm = obj.get("time")
        when = tm if tm.__class__ is str and len(tm) == 30 and tm[29] == "Z" and tm[19] == "." else norm_time(tm)
        return _new(Flow, (src, dst, key, port, verdict, when, when, 1))

    @staticmethod
    def other_type(t: Any) -> str:
        """Why a record of another flow type is skipped ("" for L3_L4 given by number)."""
        if t.__class__ is not str and t.__class__ is not int:
            raise BadLine("Type is not a flow type")
        if t == 1:
            return ""
        return _H_TYPES.get(t, f"flow type {t}")

    def endpoint(self, ep: Any, ip: Any, what: str) -> Endpoint:
        """The endpoint a record's `source` or `destination` (with its address) names."""
        if ep is None:
            ep = _EMPTY
        if ep.__class__ is not dict:
            raise BadLine(f"{what} is not an object")
        labels, wls = ep.get("labels"), ep.get("workloads")
        key: tuple[Any, ...] | None = hubble_key(ep, ip)
        try:
            hit = self.ends.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable value where a string belongs: the checks below say which
            hit = key = None
        if hit is not None and hit[0] == labels and hit[1] == wls:
            return hit[2]
        e = self.build(ep, ip, what)
        if key is not None and (hit is not None or len(self.ends) < KEEP_ENDPOINTS):
            self.ends[key] = (labels, wls, e)
        return e

    @staticmethod
    def build(ep: dict[str, Any], ip: Any, what: str) -> Endpoint:
        ns, pod = ep.get("namespace"), ep.get("pod_name")
        ns, pod = _str(ns, f"{what}.namespace"), _str(pod or ep.get("podName"), f"{what}.pod_name")
        labels = ep.get("labels") or []
        if type(labels) is not list:
            raise BadLine(f"{what}.labels is not a list")
        pod_labels: list[tuple[str, str]] = []
        reserved = ""
        for item in labels:
            if type(item) is not str:
                raise BadLine(f"{what}.labels holds a {type(item).__name__}")
            source, _, kv = item.partition(":")
            if source == "k8s":
                k, _, val = kv.partition("=")
                pod_labels.append((k, val))
            elif source == "reserved" and not reserved:
                reserved = kv.partition("=")[0]
        workload = None
        wls = ep.get("workloads") or []
        if type(wls) is not list:
            raise BadLine(f"{what}.workloads is not a list")
        for w in wls:
            if type(w) is dict and type(w.get("kind")) is str and type(w.get("name")) is str:
                workload = (w["kind"], w["name"])
                break
        kind = (
            "" if pod else ("world" if reserved.startswith("world") else (f"reserved:{reserved}" if reserved else ""))
        )
        return Endpoint(ns, pod, tuple(sorted(pod_labels)), _ip(ip, f"IP.{what}"), workload, False, kind)


# ---------------------------------------------------------------------------------------------
_C_ACTION = {"allow": FORWARDED, "deny": DROPPED}
C_PROTO = {"tcp": "TCP", "6": "TCP", "udp": "UDP", "17": "UDP", "sctp": "SCTP", "132": "SCTP"}
_C_TYPES = {"wep": "", "hep": "Calico host endpoint", "ns": "world", "net": "world"}
# per end: the fields of its type, namespace, name, aggregated name, address and labels
C_FIELDS = {
    end: tuple(f"{end}_{f}" for f in ("type", "namespace", "name", "name_aggr", "ip", "labels"))
    for end in ("source", "dest")
}
_NO_LABELS = object()  # the labels field of a record where it is neither an object nor absent: never cached


def calico_labels(lab: Any) -> Any:
    """What a Calico endpoint's cache entry compares of its `<end>_labels` field."""
    return lab.get("labels") if lab.__class__ is dict else (None if lab is None else _NO_LABELS)


class Calico:
    """Calico flow log records -> flows (one record aggregates `num_flows` connections)."""

    def __init__(self) -> None:
        # (type, namespace, name, aggregated name, address) -> (calico_labels, the endpoint)
        self.ends: dict[tuple[Any, ...], tuple[Any, Endpoint]] = {}
        self.times: dict[Any, str] = {}

    def parse(self, obj: Any) -> Flow | str:
        if type(obj) is not dict:
            raise BadLine("not a JSON object")
        if "_source" in obj:
            obj = obj["_source"]
            if type(obj) is not dict:
                raise BadLine("_source is not an object")
        a = obj.get("action")
        verdict = _C_ACTION.get(a) if type(a) is str else None
        if verdict is None:
            if type(a) is not str:
                raise BadLine("action is not a string")
            return f"action {a}"
        p = obj.get("proto")
        if type(p) is not str:
            raise BadLine("proto is not a string")
        proto = C_PROTO.get(p.lower())
        if proto is None:
            return "ICMP" if p.lower() in ("icmp", "icmp6", "1", "58") else f"protocol {p}"
        port = obj.get("dest_port")
        if port is None or port == 0:
            return "no destination port"
        port = _port(port, "dest_port")
        n = obj.get("num_flows", 1)
        if type(n) is not int or n < 0:
            raise BadLine("num_flows is not a count")
        rep = obj.get("reporter")
        if rep is not None and rep not in ("src", "dst"):
            raise BadLine("reporter is neither src nor dst")
        first, last = self.time(obj.get("start_time")), self.time(obj.get("end_time"))
        src = self.endpoint(obj, "source")
        dst = self.endpoint(obj, "dest")
        return Flow(src, dst, proto, port, verdict, first or last, last or first, max(n, 1))

    def time(self, v: Any) -> str:
        if v is None:
            return ""
        t = self.times.get(v)
        if t is None:
            t = unix_time(v)
            if len(self.times) < 1 << 16 and v not in (0, 1):  # never 0 or 1: False and True equal them
                self.times[v] = t
        return t

    def endpoint(self, obj: dict[str, Any], end: str) -> Endpoint:
        """The endpoint of one end (`source` or `dest`) of a record."""
        f_typ, f_ns, f_name, f_aggr, f_ip, f_lab = C_FIELDS[end]
        get = obj.get
        key: tuple[Any, ...] | None = (get(f_typ), get(f_ns), get(f_name), get(f_aggr), get(f_ip))
        lab = get(f_lab)
        labels = calico_labels(lab)
        try:
            hit = self.ends.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable value where a string belongs: the checks below say which
            hit = key = None
        if hit is not None and hit[0] == labels:
            return hit[1]
        e = self.build(obj, end)
        if key is not None and labels is not _NO_LABELS and (hit is not None or len(self.ends) < KEEP_ENDPOINTS):
            self.ends[key] = (labels, e)
        return e

    @staticmethod
    def build(obj: dict[str, Any], end: str) -> Endpoint:
        f_typ, f_ns, f_name, f_aggr, f_ip, f_lab = C_FIELDS[end]
        typ, ns, name, aggr, ip, lab = (obj.get(f) for f in C_FIELDS[end])
        typ = _str(typ, f_typ)
        if typ not in _C_TYPES:
            raise BadLine(f"{f_typ} {typ[:20]!r} is not wep, hep, ns or net")
        ns, name, aggr = _str(ns, f_ns), _str(name, f_name), _str(aggr, f_aggr)
        if lab is not None and type(lab) is not dict:
            raise BadLine(f"{f_lab} is not an object")
        pairs: list[tuple[str, str]] = []
        for item in (lab and lab.get("labels")) or []:
            if type(item) is not str:
                raise BadLine(f"{f_lab}.labels holds a {type(item).__name__}")
            k, _, v = item.partition("=")
            pairs.append((k, v))
        ns = "" if ns == "-" else ns
        pod, prefix = "", False
        if typ == "wep":
            pod = name if name not in ("", "-") else aggr
            if name in ("", "-") and pod.endswith("*"):
                pod, prefix = pod[:-1], True
        return Endpoint(ns, pod, tuple(sorted(pairs)), _ip(ip, f_ip), None, prefix, _C_TYPES[typ])
