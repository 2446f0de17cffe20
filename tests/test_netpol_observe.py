"""`kubefort netpol observe`: flow log readers, verdicts against the engine, unused rules, learned policies.

Fixtures (tests/fixtures/netpol/flows/): `app.yaml` (the workloads and policies), `hubble.jsonl`
and `calico.jsonl`. Neither project publishes a JSON Schema for its flow records, so the schemas
below are written here from the documents the fields follow, and every fixture record meant to
be valid is checked against them:

* Hubble: cilium/cilium `api/v1/flow/flow.proto` (`Flow`, `Endpoint`, `Layer4`, `IP`, the enums)
  and `api/v1/observer/observer.proto` (`GetFlowsResponse`: `flow` | `node_status`, `node_name`,
  `time`), rendered as protojson renders them (proto field names, enums by name, 64-bit and
  zero values left out);
* Calico: felix's flow log `JSONOutput` (projectcalico/calico `felix/collector/flowlog`), which
  the "Flow log data types" page of Calico Enterprise/Cloud documents (plus `host`, added by the
  log collector), and an Elasticsearch hit (`_index`, `_id`, `_source`).
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubefort.cli.netpol import netpol
from kubefort.kube.netpol import Analysis, Cluster
from kubefort.kube.netpol.flows import Endpoint, ReadStats, read_flows
from kubefort.kube.netpol.observe import Observer, Resolver
from kubefort.model import Resource, ResourceId, Source

FIX = Path(__file__).parent / "fixtures" / "netpol" / "flows"
APP, HUBBLE, CALICO = FIX / "app.yaml", FIX / "hubble.jsonl", FIX / "calico.jsonl"
BAD_HUBBLE, BAD_CALICO = {15, 16}, {9, 10}  # the fixture lines that are bad on purpose

# fmt: off
_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer", "minimum": 0}, {"type": "boolean"}
_PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
_WORKLOAD = {"type": "object", "additionalProperties": False, "properties": {"name": _STR, "kind": _STR}}
_ENDPOINT = {"type": "object", "additionalProperties": False, "properties": {
    "ID": _INT, "identity": _INT, "namespace": _STR, "labels": {"type": "array", "items": _STR}, "pod_name": _STR,
    "workloads": {"type": "array", "items": _WORKLOAD}}}
_PORTS = {"type": "object", "additionalProperties": False, "properties": {"source_port": _PORT, "destination_port": _PORT}}
_TCP = {"type": "object", "additionalProperties": False, "properties": {
    "source_port": _PORT, "destination_port": _PORT, "flags": {"type": "object", "additionalProperties": _BOOL}}}
_ICMP = {"type": "object", "properties": {"type": _INT, "code": _INT}, "additionalProperties": False}
_TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$"}
_FLOW = {"type": "object", "additionalProperties": False, "properties": {
    "time": _TIME, "uuid": _STR, "drop_reason": _INT, "node_name": _STR, "Summary": _STR, "is_reply": _BOOL,
    "verdict": {"enum": ["VERDICT_UNKNOWN", "FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED", "TRACED",
                         "TRANSLATED"]},
    "drop_reason_desc": {"enum": ["POLICY_DENIED", "POLICY_DENY", "CT_MISSING_TCP_ACK_FLAG"]},
    "ethernet": {"type": "object", "properties": {"source": _STR, "destination": _STR}, "additionalProperties": False},
    "IP": {"type": "object", "additionalProperties": False, "properties": {
        "source": _STR, "destination": _STR, "ipVersion": {"enum": ["IP_NOT_USED", "IPv4", "IPv6"]}, "encrypted": _BOOL}},
    "l4": {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,  # a oneof
           "properties": {"TCP": _TCP, "UDP": _PORTS, "SCTP": _PORTS, "ICMPv4": _ICMP, "ICMPv6": _ICMP}},
    "source": _ENDPOINT, "destination": _ENDPOINT, "l7": {"type": "object"},
    "Type": {"enum": ["UNKNOWN_TYPE", "L3_L4", "L7", "SOCK"]},
    "event_type": {"type": "object", "additionalProperties": False,
                   "properties": {"type": {"type": "integer"}, "sub_type": {"type": "integer"}}},
    "traffic_direction": {"enum": ["TRAFFIC_DIRECTION_UNKNOWN", "INGRESS", "EGRESS"]},
    "trace_observation_point": {"enum": ["UNKNOWN_POINT", "TO_PROXY", "TO_HOST", "TO_STACK", "TO_OVERLAY",
                                        "TO_ENDPOINT", "FROM_ENDPOINT"]}}}
HUBBLE_SCHEMA = {"type": "object", "additionalProperties": False,  # GetFlowsResponse
                 "properties": {"flow": _FLOW, "node_status": {"type": "object"}, "node_name": _STR, "time": _TIME},
                 "oneOf": [{"required": ["flow"]}, {"required": ["node_status"]}]}
_LABELS = {"type": ["object", "null"], "additionalProperties": False,
           "properties": {"labels": {"type": "array", "items": _STR}}}
_COUNTS = ("bytes_in", "bytes_out", "num_flows", "num_flows_started", "num_flows_completed", "packets_in",
           "packets_out", "transit_bytes_in", "transit_bytes_out", "transit_packets_in", "transit_packets_out",
           "http_requests_allowed_in", "http_requests_denied_in", "num_process_names", "num_process_ids",
           "num_process_args", "num_original_source_ips")
CALICO_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["start_time", "end_time", "action", "reporter", "proto", "source_type", "dest_type", "num_flows"],
    "properties": {
        "start_time": {"type": "integer"}, "end_time": {"type": "integer"},
        **{f"{e}_ip": {"type": ["string", "null"]} for e in ("source", "dest")},
        **{f"{e}_{f}": _STR for e in ("source", "dest") for f in ("name", "name_aggr", "namespace")},
        **{f"{e}_type": {"enum": ["wep", "hep", "ns", "net"]} for e in ("source", "dest")},
        **{f"{e}_labels": _LABELS for e in ("source", "dest")},
        **{f"{e}_port": {"type": ["integer", "null"], "minimum": 0, "maximum": 65535} for e in ("source", "dest")},
        **dict.fromkeys(("dest_service_namespace", "dest_service_name", "dest_service_port", "process_name",
                         "process_id", "host", "proto"), _STR),
        **dict.fromkeys(_COUNTS, _INT),
        "nat_outgoing_ports": {"type": ["array", "null"], "items": {"type": "integer"}},
        "dest_service_port_num": {"type": ["integer", "null"]},
        "dest_domains": {"type": ["array", "null"], "items": _STR},
        "action": {"enum": ["allow", "deny"]}, "reporter": {"enum": ["src", "dst"]},
        "policies": {"type": ["object", "null"], "additionalProperties": False, "properties": {
            k: {"type": "array", "items": _STR} for k in ("enforced_policies", "pending_policies", "transit_policies")}},
        "process_args": {"type": ["array", "null"], "items": _STR},
        "original_source_ips": {"type": ["array", "null"], "items": _STR}}}
CALICO_HIT = {"type": "object", "additionalProperties": False, "required": ["_source"],
              "properties": {"_index": _STR, "_id": _STR, "_source": CALICO_SCHEMA}}  # an Elasticsearch hit
# fmt: on


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(netpol, list(args), input=stdin, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def observe_json(*args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run("observe", *args, "-m", str(APP), "-o", "json")
    return code, json.loads(out), err


@cache
def cluster() -> tuple[Cluster, Analysis]:
    res = [
        Resource(
            ResourceId(d["apiVersion"], d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]),
            d,
            Source("app.yaml"),
        )
        for d in yaml.safe_load_all(APP.read_text())
    ]
    c = Cluster.from_resources(res)
    return c, Analysis(c)


# -- the fixtures follow the published schemas ----------------------------------------------------
def test_hubble_fixture_follows_the_flow_schema() -> None:
    lines = HUBBLE.read_text().splitlines()
    assert len(lines) == 22
    for n, line in enumerate(lines, 1):
        if n in BAD_HUBBLE:
            continue
        doc = json.loads(line)
        jsonschema.validate(doc, HUBBLE_SCHEMA if "flow" in doc or "node_status" in doc else _FLOW)  # or a bare Flow
    with pytest.raises(jsonschema.ValidationError):  # line 16 is bad: a port as a string
        jsonschema.validate(json.loads(lines[15]), HUBBLE_SCHEMA)


def test_calico_fixture_follows_the_flow_log_schema() -> None:
    lines = CALICO.read_text().splitlines()
    assert len(lines) == 12
    for n, line in enumerate(lines, 1):
        if n not in BAD_CALICO:
            doc = json.loads(line)
            jsonschema.validate(doc, CALICO_HIT if "_source" in doc else CALICO_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # line 9 is bad: num_flows as a string
        jsonschema.validate(json.loads(lines[8]), CALICO_SCHEMA)


# -- readers ---------------------------------------------------------------------------------------
def read(path: Path, fmt: str = "auto", max_line: int = 1 << 20) -> tuple[list[Any], ReadStats]:
    stats = ReadStats()
    with path.open("rb") as fh:
        flows = list(read_flows(fh, path.name, fmt, stats, max_line))
    return flows, stats


def test_hubble_reader_counts_every_line() -> None:
    flows, stats = read(HUBBLE)
    assert stats.formats == {"hubble.jsonl": "hubble"}
    assert (stats.lines, stats.flows, len(flows), stats.bad) == (22, 15, 15, 2)
    assert dict(stats.skipped) == {
        "reply direction": 1,
        "ICMP": 1,
        "L7 record": 1,
        "not a flow (node_status)": 1,
        "dropped, not by policy (CT_MISSING_TCP_ACK_FLAG)": 1,
    }
    assert stats.bad_lines == [
        ("hubble.jsonl", 15, "not JSON (unexpected end of data)"),
        ("hubble.jsonl", 16, "l4.TCP.destination_port is str, expected a number"),
    ]
    first = flows[0]
    assert first.src.namespace == "shop" and first.src.pod == "web-5d9c7b8f6d-x2k9q"
    assert ("app", "web") in first.src.labels and first.src.workload == ("Deployment", "web")
    assert (first.proto, first.port, first.verdict, first.first) == (
        "TCP",
        9000,
        "forwarded",
        "2026-03-02T10:00:00.100000000Z",
    )
    assert flows[1].first == "2026-03-02T10:00:05.000000000Z"  # a bare Flow object; time normalised
    world = next(f for f in flows if f.dst.pod == "web-5d9c7b8f6d-x2k9q" and f.port == 8080)
    assert (world.src.kind, world.src.ip) == ("world", "203.0.113.7")


def test_calico_reader_counts_every_line() -> None:
    flows, stats = read(CALICO)
    assert stats.formats == {"calico.jsonl": "calico"}
    assert (stats.lines, stats.flows, stats.bad, dict(stats.skipped)) == (12, 9, 2, {"ICMP": 1})
    assert stats.bad_lines == [
        ("calico.jsonl", 9, "num_flows is not a count"),
        ("calico.jsonl", 10, "not a JSON object"),
    ]
    assert [f.num for f in flows] == [3, 3, 2, 1, 1, 7, 1, 4, 2]
    web = flows[0].src
    assert (web.pod, web.prefix, web.labels) == (
        "web-5d9c7b8f6d-",
        True,
        (("app", "web"), ("pod-template-hash", "5d9c7b8f6d")),
    )
    assert (flows[0].first, flows[0].last) == ("2026-03-02T10:00:00.000000000Z", "2026-03-02T10:05:00.000000000Z")
    assert flows[2].verdict == "dropped" and flows[2].dst.pod == "db-0" and not flows[2].dst.prefix


def test_a_line_too_long_is_counted_and_never_held(tmp_path: Path) -> None:
    ok = HUBBLE.read_text().splitlines()[0]
    f = tmp_path / "f.jsonl"
    f.write_text("\n".join([ok, "x" * 5000, "", ok, '{"flow": 7}', "[", ok + " " * 3000]))  # no final newline
    flows, stats = read(f, "hubble", max_line=len(ok) + 10)
    assert len(flows) == 2
    assert stats.lines == 6  # the blank line is not one
    assert stats.bad_lines == [
        ("f.jsonl", 2, f"longer than {len(ok) + 10} bytes"),
        ("f.jsonl", 5, "flow is not an object"),
        ("f.jsonl", 6, "not JSON (unexpected end of data)"),
        ("f.jsonl", 7, f"longer than {len(ok) + 10} bytes"),
    ]


def test_a_forced_format_reads_the_other_formats_lines_as_bad() -> None:
    flows, stats = read(CALICO, "hubble")
    assert flows == [] and stats.flows == 0
    assert stats.bad == 1 and stats.bad_lines[0][1:] == (10, "not a JSON object")  # [1, 2, 3]
    assert stats.skipped == {"verdict VERDICT_UNKNOWN": 11}  # a Calico record has no Hubble verdict
    flows, stats = read(HUBBLE, "calico")
    assert flows == [] and stats.bad == 22 and stats.bad_lines[0][2] == "action is not a string"


def test_protojson_variants_are_read() -> None:
    """Enums by number and lowerCamel field names, as protojson also accepts them."""
    rec = {
        "verdict": 1,
        "Type": 1,
        "isReply": False,
        "l4": {"UDP": {"destinationPort": 53}},
        "source": {"namespace": "shop", "podName": "debug", "labels": ["k8s:app=debug"]},
        "destination": {"labels": ["reserved:world"]},
        "IP": {"source": "10.0.0.1", "destination": "2001:db8::1"},
        "time": "2026-03-02T10:00:00.5+01:00",
    }
    flows, stats = read_bytes(json.dumps(rec).encode())
    assert stats.bad_lines == [] and len(flows) == 1
    f = flows[0]
    assert (f.proto, f.port, f.verdict, f.src.pod, f.dst.kind, f.dst.ip) == (
        "UDP",
        53,
        "forwarded",
        "debug",
        "world",
        "2001:db8::1",
    )
    assert f.first == "2026-03-02T09:00:00.500000000Z"


def read_bytes(data: bytes, fmt: str = "auto") -> tuple[list[Any], ReadStats]:
    stats = ReadStats()
    return list(read_flows(io.BytesIO(data), "x", fmt, stats)), stats


# -- matching endpoints to workloads --------------------------------------------------------------
def ep(ns: str, pod: str, labels: dict[str, str] | None = None, prefix: bool = False, workload: Any = None) -> Endpoint:
    return Endpoint(ns, pod, tuple(sorted((labels or {}).items())), "", workload, prefix, "")


def test_pods_are_matched_by_controller_naming_and_labels() -> None:
    c, _ = cluster()
    r = Resolver(c)
    key = lambda x: x if isinstance(x, str) else c.name(x)
    assert (
        key(r.resolve(ep("shop", "web-5d9c7b8f6d-bcdfg", {"app": "web", "pod-template-hash": "5d9c7b8f6d"})))
        == "shop/Deployment/web"
    )
    assert key(r.resolve(ep("shop", "web-5d9c7b8f6d-", {"app": "web"}, prefix=True))) == "shop/Deployment/web"
    assert key(r.resolve(ep("shop", "db-3"))) == "shop/StatefulSet/db"  # no labels given: the name alone
    assert key(r.resolve(ep("shop", "db-", prefix=True))) == "shop/StatefulSet/db"
    assert key(r.resolve(ep("shop", "debug"))) == "shop/Pod/debug"
    # the labels must agree with the pod template's
    assert (
        r.resolve(ep("shop", "web-5d9c7b8f6d-bcdfg", {"app": "api"})) == "no workload of the manifests matches this pod"
    )
    # not a ReplicaSet-made name (the random part is 5 letters of the API server's alphabet)
    assert r.resolve(ep("shop", "web-5d9c7b8f6d-aaaaa")) == "no workload of the manifests matches this pod"
    assert r.resolve(ep("shop", "api-0")) == "no workload of the manifests matches this pod"
    assert r.resolve(ep("cache", "web-5d9c7b8f6d-bcdfg")) == "no workload of the manifests matches this pod"


def test_an_ambiguous_pod_is_reported_never_guessed() -> None:
    objs = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "n"}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "a-5d9c7b8f6d", "namespace": "n"}},
    ]
    for o in objs:
        o["spec"] = {
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        }
    c = Cluster.from_resources(
        [Resource(ResourceId(o["apiVersion"], o["kind"], "n", o["metadata"]["name"]), o, Source("x")) for o in objs]
    )
    r = Resolver(c)
    assert (
        r.resolve(ep("n", "a-5d9c7b8f6d-bcdfg", {"app": "a"}))
        == "matches several workloads: n/Deployment/a, n/ReplicaSet/a-5d9c7b8f6d"
    )
    assert r.resolve(ep("n", "a-5d9c7b8f6d-bcdfg", {"app": "a"}, workload=("ReplicaSet", "a-5d9c7b8f6d"))) == 1


# -- the command -------------------------------------------------------------------------------------
def test_observe_hubble_reports_blocked_unused_and_unmatched() -> None:
    code, doc, err = observe_json(str(HUBBLE))
    assert code == 3  # two bad lines: reported, and the report is still given
    assert err.splitlines() == [
        f"kubefort: not analysed: {HUBBLE}:15: not JSON (unexpected end of data)",
        f"kubefort: not analysed: {HUBBLE}:16: l4.TCP.destination_port is str, expected a number",
    ]
    blocked = {
        (b["source"], b["destination"], b["port"], b["protocol"]): (
            b["flows"],
            b["cni"],
            b["first_seen"],
            b["last_seen"],
        )
        for b in doc["blocked"]
    }
    assert blocked == {
        ("shop/Deployment/web", "shop/StatefulSet/db", 5432, "TCP"): (2, {"forwarded": 0, "dropped": 2, "audit": 0}, "2026-03-02T10:03:00Z", "2026-03-02T10:04:00Z"),
        ("shop/Pod/debug", "shop/Deployment/api", 9000, "TCP"): (1, {"forwarded": 1, "dropped": 0, "audit": 0}, "2026-03-02T10:05:00Z", "2026-03-02T10:05:00Z"),
        ("shop/Pod/debug", "shop/StatefulSet/db", 5432, "TCP"): (1, {"forwarded": 0, "dropped": 0, "audit": 1}, "2026-03-02T10:14:00Z", "2026-03-02T10:14:00Z"),
        ("shop/Deployment/api", "10.1.2.3", 443, "TCP"): (1, {"forwarded": 1, "dropped": 0, "audit": 0}, "2026-03-02T10:17:00Z", "2026-03-02T10:17:00Z"),
    }  # fmt: skip
    assert doc["dropped_but_allowed"] == []
    assert doc["unused_rules"] == [{"policy": "shop/api", "rule": "egress[1]", "pods_seen": True}]
    assert {(r["policy"], r["rule"]): r["flows"] for r in doc["rules"]} == {
        ("shop/web", "ingress[0]"): 1,  # 203.0.113.7 -> web:8080
        ("shop/web", "egress[0]"): 4,  # web -> api:9000, two replicas, first 09:59:59.5
        ("shop/api", "ingress[0]"): 4,
        ("shop/api", "egress[0]"): 2,
        ("shop/api", "egress[1]"): 0,
        ("shop/api", "egress[2]"): 1,
        ("shop/db", "ingress[0]"): 2,
    }
    assert doc["unmatched"] == [
        {"endpoint": "reserved:host 10.0.0.5", "reason": "not a pod (reserved:host)", "flows": 1},
        {
            "endpoint": "shop/ghost-7c9f8d6b5-bcdfg",
            "reason": "no workload of the manifests matches this pod",
            "flows": 1,
        },
    ]
    assert (doc["input"]["lines"], doc["input"]["flows"], doc["input"]["analysed"], doc["input"]["bad_lines"]) == (
        22,
        15,
        13,
        2,
    )


def test_observe_calico_weighs_records_by_their_flows() -> None:
    code, doc, _ = observe_json(str(CALICO))
    assert code == 3
    assert [(b["source"], b["destination"], b["port"], b["flows"], b["cni"]["dropped"]) for b in doc["blocked"]] == [
        ("shop/Deployment/web", "shop/StatefulSet/db", 5432, 2, 2),
        ("shop/Pod/debug", "shop/Deployment/api", 9000, 1, 0),
    ]
    assert doc["blocked"][0]["last_seen"] == "2026-03-02T10:08:00Z"  # end_time
    assert doc["unused_rules"] == [{"policy": "shop/api", "rule": "egress[1]", "pods_seen": True}]
    assert {(r["policy"], r["rule"]): r["flows"] for r in doc["rules"]}[("shop/web", "egress[0]")] == 6
    assert doc["unmatched"] == [
        {"endpoint": "world", "reason": "outside the cluster, and the log gives no address", "flows": 7},
        {"endpoint": "Calico host endpoint 10.0.0.5", "reason": "not a pod (Calico host endpoint)", "flows": 1},
    ]
    assert doc["input"]["analysed"] == 16


def _good_lines(path: Path, bad: set[int], keep: Any = None) -> str:
    lines = path.read_text().splitlines()
    return "\n".join(x for n, x in enumerate(lines, 1) if n not in bad and (keep is None or keep(x))) + "\n"


def test_exit_codes(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    clean.write_text(_good_lines(HUBBLE, BAD_HUBBLE))
    assert run("observe", str(clean), "-m", str(APP))[0] == 1  # blocked attempts found
    allowed = tmp_path / "allowed.jsonl"
    allowed.write_text(
        _good_lines(
            HUBBLE, BAD_HUBBLE, lambda x: '"pod_name":"debug"' not in x and "10.1.2.3" not in x and "DROPPED" not in x
        )
    )
    code, out, err = run("observe", str(allowed), "-m", str(APP))
    assert (code, err) == (0, "")
    assert out.startswith("blocked by the policies: 0 connections, 0 flows\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    code, _, err = run("observe", str(empty), "-m", str(APP))
    assert code == 3 and "no flow was judged: no flow read" in err
    code, _, err = run("observe", str(tmp_path / "missing.jsonl"), "-m", str(APP))
    assert code == 2 and err.startswith("kubefort: error: cannot read flows") and len(err.splitlines()) == 1
    assert run("observe", str(clean), "-m", str(APP), "--out", str(tmp_path))[0] == 2  # --out needs --generate
    assert run("observe", "-", "-m", "-")[0] == 2


def test_stdin_and_table_output() -> None:
    code, out, err = run("observe", "-", "-m", str(APP), stdin=_good_lines(CALICO, BAD_CALICO))
    assert code == 1 and err == ""
    assert out.splitlines()[0] == "blocked by the policies: 2 connections, 3 flows"
    assert "  shop/api  egress[1]  yes" in out.splitlines()
    assert out.splitlines()[-1] == "input: 1 file, 10 lines, 9 flows read, 16 judged; 1 skipped (ICMP 1)"


def test_help_names_the_inputs_and_exit_codes() -> None:
    code, out, _ = run("observe", "--help")
    assert code == 0
    for text in ("FLOWS...", "--manifests", "--format [auto|hubble|calico]", "--generate-from", "Exit codes"):
        assert text in out


# -- learning policies -------------------------------------------------------------------------------
def _matrix_of(out_dir: Path) -> dict[tuple[str, str], Any]:
    docs = [d for f in sorted(out_dir.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    docs += [d for d in yaml.safe_load_all(APP.read_text()) if d["kind"] != "NetworkPolicy"]
    res = [
        Resource(
            ResourceId(d["apiVersion"], d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]),
            d,
            Source("x"),
        )
        for d in docs
    ]
    from kubefort.kube.netpol import External, ports_json

    c = Cluster.from_resources(res, [External("203.0.113.7", "203.0.113.7/32"), External("10.1.2.3", "10.1.2.3/32")])
    m = Analysis(c).matrix()
    return {(m.name(s), m.name(d)): ports_json(ps) for s, d, ps in m.connections()}


def test_generate_allows_exactly_the_forwarded_flows(tmp_path: Path) -> None:
    out = tmp_path / "learned"
    code, doc, _ = observe_json(str(HUBBLE), "--generate", "--out", str(out))
    assert code == 3  # the bad lines; the policies are written all the same
    assert sorted(p.name for p in out.iterdir()) == ["cache.yaml", "shop.yaml"]
    assert doc["learned"]["from"] == "forwarded" and doc["learned"]["connections"] == 7
    assert _matrix_of(out) == {  # forwarded (and audit) flows only; web -> db was dropped
        ("shop/Deployment/web", "shop/Deployment/api"): {"TCP": ["9000"]},
        ("shop/Deployment/api", "shop/StatefulSet/db"): {"TCP": ["5432"]},
        ("shop/Deployment/api", "cache/Deployment/redis"): {"TCP": ["6379"]},
        ("shop/Deployment/api", "10.1.2.3"): {"TCP": ["443"]},
        ("shop/Pod/debug", "shop/Deployment/api"): {"TCP": ["9000"]},
        ("shop/Pod/debug", "shop/StatefulSet/db"): {"TCP": ["5432"]},
        ("203.0.113.7", "shop/Deployment/web"): {"TCP": ["8080"]},
    }
    code, doc, _ = observe_json(str(HUBBLE), "--generate", "--generate-from", "all", "--out", str(out))
    assert doc["learned"]["connections"] == 8
    assert _matrix_of(out)[("shop/Deployment/web", "shop/StatefulSet/db")] == {"TCP": ["5432"]}


def test_generate_to_stdout_keeps_the_yaml_clean(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    clean.write_text(_good_lines(HUBBLE, BAD_HUBBLE))
    code, out, err = run("observe", str(clean), "-m", str(APP), "--generate")
    assert code == 1
    docs = list(yaml.safe_load_all(out))
    assert len(docs) == 9 and all(d["kind"] == "NetworkPolicy" for d in docs)
    assert err.startswith("blocked by the policies: 4 connections")


def test_a_generated_set_that_fails_the_recheck_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubefort.kube.netpol import observe as mod

    monkeypatch.setattr(
        mod,
        "recheck",
        lambda *a: ["shop/Pod/debug -> shop/Deployment/api: observed TCP/9000, generated policies allow none"],
    )
    out = tmp_path / "learned"
    code, _, err = run("observe", str(HUBBLE), "-m", str(APP), "--generate", "--out", str(out))
    assert code == 3 and not out.exists()
    assert "generated policies do not match the observed traffic: shop/Pod/debug -> shop/Deployment/api" in err


# -- the verdict is explain's ------------------------------------------------------------------------
PODS = {
    "shop/Deployment/web": {"namespace": "shop", "pod_name": "web-5d9c7b8f6d-x2k9q", "labels": ["k8s:app=web", "k8s:pod-template-hash=5d9c7b8f6d"]},
    "shop/Deployment/api": {"namespace": "shop", "pod_name": "api-7f6c5b4d9-zq8wn", "labels": ["k8s:app=api"], "workloads": [{"name": "api", "kind": "Deployment"}]},
    "shop/StatefulSet/db": {"namespace": "shop", "pod_name": "db-1", "labels": ["k8s:app=db"]},
    "shop/Pod/debug": {"namespace": "shop", "pod_name": "debug", "labels": ["k8s:app=debug"]},
    "cache/Deployment/redis": {"namespace": "cache", "pod_name": "redis-6d4b9c7f8-k2xjp", "labels": ["k8s:app=redis"]},
}  # fmt: skip
ENDS = st.sampled_from([*PODS, "203.0.113.7", "10.1.2.3", "10.200.0.1", "192.0.2.44"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(src="shop/Deployment/web", dst="shop/Deployment/api", port=9000, proto="UDP")  # only TCP is allowed
@example(src="shop/Deployment/api", dst="10.1.2.3", port=443, proto="TCP")  # in the ipBlock's except
@example(src="shop/Deployment/api", dst="192.0.2.44", port=443, proto="TCP")
@example(src="192.0.2.44", dst="shop/Deployment/web", port=8080, proto="TCP")  # a named port
@example(src="shop/Deployment/api", dst="cache/Deployment/redis", port=6379, proto="TCP")
@given(
    src=ENDS,
    dst=ENDS,
    port=st.one_of(st.sampled_from([8080, 9000, 5432, 6379, 443, 53]), st.integers(1, 65535)),
    proto=st.sampled_from(["TCP", "UDP", "SCTP"]),
)
def test_the_observed_verdict_is_explains(src: str, dst: str, port: int, proto: str) -> None:
    if src not in PODS and dst not in PODS:
        return  # explain refuses two external peers; observe reports the flow as unmatched
    end = lambda e: PODS.get(e, {"labels": ["reserved:world"]})
    ip = lambda e: "10.244.0.9" if e in PODS else e
    rec = {
        "flow": {
            "verdict": "FORWARDED",
            "Type": "L3_L4",
            "IP": {"source": ip(src), "destination": ip(dst)},
            "l4": {proto: {"destination_port": port}},
            "source": end(src),
            "destination": end(dst),
        }
    }
    c, a = cluster()
    flows, stats = read_bytes(json.dumps(rec).encode(), "hubble")
    obs = Observer(c, a)
    obs.add(flows)
    groups = obs.result()
    assert len(groups) == 1 and not obs.unmatched, (stats.bad_lines, obs.unmatched)
    name = lambda e: e if e in PODS else f"{e}/32"
    code, out, _ = run("explain", name(src), name(dst), str(APP), "--port", f"{port}/{proto}", "-o", "json")
    assert code == 0
    assert groups[0].allowed is json.loads(out)["query"]["allowed"]


def test_the_bench_script_runs() -> None:
    """Tiny sizes: the script follows the API (its figures come from running it by hand)."""
    import subprocess
    import sys

    argv = ["--flows", "300", "--connections", "40", "--pods", "40", "--policies", "8", "--namespaces", "4"]
    bench = Path(__file__).parents[1] / "bench" / "bench_netpol_observe.py"
    p = subprocess.run([sys.executable, str(bench), *argv], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert [line.split()[0] for line in p.stdout.splitlines()[1:4]] == ["hubble", "masked", "calico"]
