"""Reading audit logs (kubefort/audit/read*.py), the audit driver (drivers/audit.py) and the
access metrics (audit/metrics.py): every input format, every class of bad input, time order,
gzip, directories, stdin, parallel parts equal to a sequential read, exact metrics, and
exceptions that name users. Fixture logs: tests/fixtures/audit/logs/."""

from __future__ import annotations

import copy
import gzip
import io
import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from kubefort.audit import read_gke
from kubefort.audit.analyzer import AuditSettings
from kubefort.audit.event import AuditEvent, AuditEventError
from kubefort.audit.metrics import AuditMetrics, BoundedCounter, Histogram
from kubefort.audit.read import (
    ORDER_SLACK,
    AuditProblem,
    AuditSource,
    Reader,
    discover,
    is_audit_file,
    iter_events,
    read_document,
    time_order,
)
from kubefort.config import Config, ExceptionRule
from kubefort.drivers import audit as driver
from kubefort.model import Status
from kubefort.registry import REGISTRY

LOGS = FIXTURES / "audit" / "logs"


def event(i: int = 1, **fields: Any) -> dict[str, Any]:
    """A plain audit.k8s.io/v1 event (second i of 10:00 on 2026-11-30); fields replace its members
    (None removes one)."""
    ev: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"00000000-0000-4000-8000-{i:012d}",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/shop/pods",
        "verb": "list",
        "user": {"username": "system:serviceaccount:shop:web", "groups": ["system:serviceaccounts"]},
        "sourceIPs": ["10.244.1.7"],
        "userAgent": "web/1.0",
        "objectRef": {"resource": "pods", "namespace": "shop", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "stageTimestamp": f"2026-11-30T10:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
    }
    for k, v in fields.items():
        if v is None:
            ev.pop(k, None)
        else:
            ev[k] = v
    return ev


def line(ev: dict[str, Any]) -> bytes:
    return json.dumps(ev, separators=(",", ":")).encode() + b"\n"


def read_all(paths: list[str | AuditSource], **kw: Any) -> tuple[list[AuditEvent], list[AuditProblem]]:
    events: list[AuditEvent] = []
    problems: list[AuditProblem] = []
    for x in iter_events(paths, **kw):
        (problems if isinstance(x, AuditProblem) else events).append(x)
    return events, problems


def where(events: list[AuditEvent]) -> list[tuple[int, int | None]]:
    return [(e.line, e.item) for e in events]


def kinds(problems: list[AuditProblem]) -> list[tuple[int, str]]:
    return [(p.line, p.kind) for p in problems]


# ---------------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------------
def test_json_lines_of_v1_and_v1beta1_events() -> None:
    events, problems = read_all([str(LOGS / "plain.log")])
    assert problems == []
    assert where(events) == [(1, None), (2, None), (3, None)]
    assert [(e.verb, e.stage, e.code) for e in events] == [
        ("list", "ResponseComplete", 200),
        ("get", "ResponseComplete", 200),
        ("list", "RequestReceived", None),
    ]
    assert events[1].raw["apiVersion"] == "audit.k8s.io/v1beta1"
    assert {e.file for e in events} == {str(LOGS / "plain.log")}


def test_event_lists_one_per_line_items_located_by_index() -> None:
    events, problems = read_all([str(LOGS / "eventlist-lines.jsonl")])
    assert problems == []
    assert where(events) == [(1, 0), (1, 1), (2, 0)]
    assert [e.audit_id[-1] for e in events] == ["1", "2", "3"]


def test_a_pretty_printed_event_list_document() -> None:
    events, problems = read_all([str(LOGS / "eventlist.json")])
    assert problems == []
    assert where(events) == [(1, 0), (1, 1), (1, 2)]


def test_event_list_items_of_another_kind_are_problems_at_their_index() -> None:
    doc = {
        "kind": "EventList",
        "apiVersion": "audit.k8s.io/v1",
        "items": [event(1), {"kind": "Pod"}, "x", event(2, user={"username": ["a"]})],
    }
    events, problems = read_all(["-"], stdin=io.BytesIO(line(doc)))
    assert where(events) == [(1, 0)]
    assert [(p.line, p.item, p.kind) for p in problems] == [(1, 1, "not-event"), (1, 2, "event"), (1, 3, "event")]
    assert "user.username is list" in problems[2].message


def test_eks_cloudwatch_filter_log_events_document() -> None:
    events, problems = read_all([str(LOGS / "eks-filter-log-events.json")])
    assert problems == []
    assert where(events) == [(1, 0), (1, 1)]
    assert [e.audit_id[-1] for e in events] == ["1", "2"]


def test_eks_cloudwatch_records_one_per_line() -> None:
    """`@message` (Logs Insights), `message` (a log record), a subscription's DATA_MESSAGE."""
    events, problems = read_all([str(LOGS / "eks-records.jsonl")])
    assert problems == []
    assert where(events) == [(1, None), (2, None), (3, 0), (3, 1)]
    assert [e.audit_id[-1] for e in events] == ["1", "2", "3", "4"]


def test_eks_cloudwatch_export_to_s3_lines() -> None:
    events, problems = read_all([str(LOGS / "eks-s3-export.log")])
    assert problems == []
    assert where(events) == [(1, None), (2, None)]


def test_cloudwatch_record_whose_message_is_not_an_event() -> None:
    data = line({"message": "I1130 10:00:00 1 httplog.go:132] GET /readyz"}) + line({"message": '{"kind":"Pod"}'})
    _, problems = read_all(["-"], stdin=io.BytesIO(data))
    assert kinds(problems) == [(1, "json"), (2, "not-event")]
    assert "CloudWatch log record whose message is not JSON" in problems[0].message


def test_gke_cloud_audit_log_entries_map_to_events() -> None:
    events, problems = read_all([str(LOGS / "gke-entries.jsonl")])
    assert problems == []
    got = [
        (e.verb, e.group_resource, e.subresource, e.namespace, e.name, e.code, e.user, e.source_ips, e.level)
        for e in events
    ]
    assert got == [
        ("create", "pods", "exec", "shop", "web-0", 200, "alice@example.com", ("203.0.113.9",), "Metadata"),
        ("create", "pods", "", "shop", "debug", 200, "alice@example.com", ("203.0.113.9",), "RequestResponse"),
        (
            "create",
            "clusterrolebindings.rbac.authorization.k8s.io",
            "",
            "",
            "backdoor",
            403,
            "alice@example.com",
            ("203.0.113.9",),
            "Metadata",
        ),
        ("list", "secrets", "", "kube-system", "", 401, "system:anonymous", ("203.0.113.9",), "Metadata"),
        ("get", "namespaces", "", "", "shop", 200, "alice@example.com", ("203.0.113.9",), "Metadata"),
    ]
    first, pod = events[0], events[1]
    assert first.audit_id == "gke-0001-0000-4000-8000-000000000000"
    assert first.stage == "ResponseComplete"
    assert first.stage_timestamp == "2026-11-30T10:00:01.123456Z"
    assert first.user_agent == "kubectl/v1.37.0 (linux/amd64) kubernetes/abcdef0"
    assert first.annotations == {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}
    body = pod.request_object()
    assert body is not None and "@type" not in body and body["spec"]["containers"][0]["securityContext"]
    assert pod.response_object() is not None and "@type" not in pod.response_object()  # type: ignore[operator]
    assert (first.groups, first.impersonated_user, first.request_uri) == ((), "", "")  # no equivalent


def test_gke_json_array_of_entries() -> None:
    events, problems = read_all([str(LOGS / "gke-read.json")])
    assert problems == []
    assert where(events) == [(1, 0), (1, 1)]


def test_gke_entry_of_another_service_and_wrong_types() -> None:
    other = {"protoPayload": {"@type": read_gke.AUDIT_LOG_TYPE, "serviceName": "compute.googleapis.com"}}
    bad = {
        "protoPayload": {
            "@type": read_gke.AUDIT_LOG_TYPE,
            "serviceName": "k8s.io",
            "authenticationInfo": {"principalEmail": 3},
        }
    }
    _, problems = read_all(["-"], stdin=io.BytesIO(line(other) + line(bad)))
    assert kinds(problems) == [(1, "not-event"), (2, "event")]
    assert "compute.googleapis.com" in problems[0].message
    assert "protoPayload.authenticationInfo.principalEmail is int" in problems[1].message


@pytest.mark.parametrize(("rpc", "http"), [(0, 200), (3, 400), (5, 404), (6, 409), (7, 403), (13, 500), (16, 401)])
def test_gke_status_codes_as_http(rpc: int, http: int) -> None:
    entry = {
        "protoPayload": {
            "@type": read_gke.AUDIT_LOG_TYPE,
            "serviceName": "k8s.io",
            "methodName": "io.k8s.core.v1.pods.get",
            "resourceName": "core/v1/namespaces/a/pods/b",
            "status": {"code": rpc} if rpc else {},
        }
    }
    assert read_gke.to_event(entry)["responseStatus"] == {"code": http}


NAME = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)


@given(
    group=st.sampled_from(["", "apps", "rbac.authorization.k8s.io", "example.com"]),
    version=st.sampled_from(["v1", "v1beta1", "v2"]),
    namespace=st.one_of(st.just(""), NAME),
    resource=NAME.filter(lambda r: r not in ("namespaces", "v1", "v1beta1", "v2")),
    name=st.one_of(st.just(""), NAME),
    subresource=st.one_of(st.just(""), NAME),
    verb=st.sampled_from(["get", "list", "create", "update", "patch", "delete", "watch"]),
)
def test_gke_object_ref_round_trips(
    group: str, version: str, namespace: str, resource: str, name: str, subresource: str, verb: str
) -> None:
    """Any objectRef written the way GKE names it (methodName, resourceName) reads back exactly."""
    if subresource and not name:
        subresource = ""
    method_group = ".".join(reversed(group.removesuffix(".k8s.io").split("."))) if group else "core"
    method = ".".join(["io", "k8s", method_group, version, resource, *([subresource] if subresource else []), verb])
    path = [group or "core", version, *(["namespaces", namespace] if namespace else []), resource]
    path += [name] if name else []
    path += [subresource] if subresource else []
    ref = read_gke.object_ref(method, "/".join(path))
    want = {"apiGroup": group, "apiVersion": version, "resource": resource}
    want.update({k: v for k, v in (("namespace", namespace), ("name", name), ("subresource", subresource)) if v})
    assert ref == want


def test_read_document_for_a_posted_event_list() -> None:
    body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [event(1), event(2)]}).encode()
    got = list(read_document(body, "POST /", received=1234.5))
    assert [(e.line, e.item, e.received) for e in got if isinstance(e, AuditEvent)] == [(1, 0, 1234.5), (1, 1, 1234.5)]
    bad = list(read_document(body[:40], "POST /"))
    assert [(p.kind, p.line) for p in bad if isinstance(p, AuditProblem)] == [("truncated", 1)]


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
def test_every_class_of_bad_line_is_a_problem_at_its_line_and_the_rest_is_read() -> None:
    events, problems = read_all([str(LOGS / "bad.log")])
    assert [e.line for e in events] == [1, 3, 5, 7, 9, 11, 13]
    assert kinds(problems) == [(2, "truncated"), (4, "json"), (6, "not-event"), (8, "event"), (10, "not-event")]
    assert "user.username is int, expected a string" in problems[3].message
    assert "core/v1" in problems[2].message and "v1alpha1" in problems[4].message


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("auditID", 1, "auditID"),
        ("verb", ["get"], "verb"),
        ("user", "alice", "user"),
        ("user", {"username": "a", "groups": "dev"}, "user.groups"),
        ("impersonatedUser", {"username": 5}, "impersonatedUser.username"),
        ("sourceIPs", "10.0.0.1", "sourceIPs"),
        ("sourceIPs", [1], "sourceIPs"),
        ("responseStatus", {"code": "403"}, "responseStatus.code"),
        ("responseStatus", {"code": 403.5}, "responseStatus.code"),
        ("objectRef", {"resource": {"a": 1}}, "objectRef.resource"),
        ("objectRef", [], "objectRef"),
        ("annotations", [], "annotations"),
        ("stageTimestamp", 17, "stageTimestamp"),
    ],
)
def test_wrong_typed_fields_name_their_path(field: str, value: object, path: str) -> None:
    with pytest.raises(AuditEventError) as exc:
        AuditEvent.read(event(1, **{field: value}))
    assert exc.value.path == path


def test_null_fields_read_as_their_zero_value() -> None:
    raw = event(1, user={"username": None, "groups": None}, sourceIPs=None, objectRef=None, responseStatus=None)
    raw["annotations"] = None
    ev = AuditEvent.read(raw)
    assert (ev.user, ev.groups, ev.source_ips, ev.resource, ev.code, dict(ev.annotations)) == ("", (), (), "", None, {})
    assert AuditEvent.read(event(1, responseStatus={"code": 403.0})).code == 403


def test_an_oversized_line_is_skipped_without_holding_it(tmp_path: Path) -> None:
    huge = event(2, requestObject={"data": "x" * 300_000})
    log = tmp_path / "audit.log"
    log.write_bytes(line(event(1)) + line(huge) + line(event(3)) + b"y" * 200_000)
    events, problems = read_all([str(log)], max_event_size=100_000)
    assert [e.line for e in events] == [1, 3]
    assert kinds(problems) == [(2, "oversize"), (4, "oversize")]
    assert "over --max-event-size (100,000 bytes)" in problems[0].message
    # the limit is the line without its newline: a line of exactly the limit is read
    exact = line(event(5))
    events, problems = read_all(["-"], stdin=io.BytesIO(exact), max_event_size=len(exact) - 1)
    assert (len(events), problems) == (1, [])
    events, problems = read_all(["-"], stdin=io.BytesIO(exact), max_event_size=len(exact) - 2)
    assert (len(events), kinds(problems)) == (0, [(1, "oversize")])


def test_a_document_too_large_or_broken_is_one_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubefort.audit import read

    doc = tmp_path / "list.json"
    doc.write_text(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [event(1)]}, indent=2))
    monkeypatch.setattr(read, "MAX_DOCUMENT", 100)
    _, problems = read_all([str(doc)])
    assert kinds(problems) == [(1, "read")] and "jq -c" in problems[0].message
    monkeypatch.undo()
    doc.write_text(doc.read_text()[:-30])
    events, problems = read_all([str(doc)])
    assert events == [] and kinds(problems) == [(1, "truncated")]
    assert "the JSON document starting here ends early" in problems[0].message


def test_a_first_line_cut_to_a_lone_brace_is_not_a_document(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"{\n" + line(event(2)) + line(event(3)))
    events, problems = read_all([str(log)])
    assert ([e.line for e in events], kinds(problems)) == ([2, 3], [(1, "truncated")])


GOOD = [line(event(i)) for i in range(1, 30)]


@st.composite
def logs(draw: st.DrawFn) -> tuple[bytes, list[int], list[int]]:
    """A log of good lines and garbage (a good line cut short, random text, JSON that is no
    event): the bytes, the good lines' numbers, the bad lines' numbers."""
    out: list[bytes] = []
    good: list[int] = []
    bad: list[int] = []
    for k in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["good", "good", "cut", "text", "json"]))
        g = GOOD[k]
        if kind == "good":
            out.append(g)
            good.append(len(out))
            continue
        if kind == "cut":
            text = g[: draw(st.integers(1, len(g) - 3))].rstrip(b"\n")
        elif kind == "text":
            text = draw(st.binary(min_size=1, max_size=40)).replace(b"\n", b"").replace(b"\r", b"")
            if not text.strip():
                text = b"x"
        else:
            # (an empty array holds no event, and is no problem: like a blank line)
            value = draw(st.one_of(st.integers(), st.lists(st.integers(), min_size=1), st.just({"kind": "Pod"})))
            text = json.dumps(value).encode()
        out.append(text + b"\n")
        bad.append(len(out))
    return b"".join(out), good, bad


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs())
def test_garbage_never_crashes_and_every_line_is_accounted_for(case: tuple[bytes, list[int], list[int]]) -> None:
    data, good, bad = case
    events, problems = read_all(["-"], stdin=io.BytesIO(data))
    assert [e.line for e in events] == good
    assert sorted({p.line for p in problems}) == bad
    assert all(p.kind in ("truncated", "json", "not-event", "event") for p in problems)


# ---------------------------------------------------------------------------------------------
# gzip, directories, stdin
# ---------------------------------------------------------------------------------------------
def _gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(lines))


def test_gzip_is_read_by_its_magic_bytes(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"  # no .gz in the name
    log.write_bytes(_gz([line(event(i)) for i in range(1, 4)]))
    events, problems = read_all([str(log)])
    assert (where(events), problems) == ([(1, None), (2, None), (3, None)], [])


def test_gzip_ending_early_keeps_the_events_before_it(tmp_path: Path) -> None:
    data = _gz([line(event(i, requestObject={"pad": os.urandom(200).hex()})) for i in range(1, 400)])
    log = tmp_path / "audit-2026-11-30T10-00-00.000.log.gz"
    log.write_bytes(data[: len(data) * 2 // 3])
    events, problems = read_all([str(log)])
    n = len(events)
    assert 0 < n < 399
    assert [e.line for e in events] == list(range(1, n + 1))
    assert [p.kind for p in problems][-1] == "gzip"
    assert problems[-1].line == n and "the rest of the file is missing" in problems[-1].message
    assert all(p.kind in ("gzip", "truncated") for p in problems)
    # the trailer alone missing: every event read, the problem still reported
    log.write_bytes(data[:-4])
    events, problems = read_all([str(log)])
    assert len(events) == 399 and kinds(problems) == [(399, "gzip")]


def test_corrupt_gzip_is_a_problem(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)  # seeded: the same corruptions every run
    clean = _gz([line(event(i, requestObject={"pad": rng.randbytes(300).hex()})) for i in range(1, 300)])
    for at in (len(clean) // 3, len(clean) // 2, 2 * len(clean) // 3, len(clean) - 12):
        data = bytearray(clean)
        data[at] ^= 0xFF
        log = tmp_path / "audit.log.gz"
        log.write_bytes(bytes(data))
        events, problems = read_all([str(log)])
        # the stream is read as far as it goes (a flipped byte may also garble lines before the
        # CRC at the end finds it): never a silent pass, the gzip problem is always reported
        assert events and "gzip" in [p.kind for p in problems], (at, [(p.kind, p.message) for p in problems])


def test_directories_read_rotated_files_oldest_first_then_the_live_one(tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_bytes(line(event(30)))
    (tmp_path / "audit-2026-11-30T10-00-20.000.log.gz").write_bytes(_gz([line(event(20))]))
    (tmp_path / "audit-2026-11-30T10-00-10.000.log").write_bytes(line(event(10)))
    (tmp_path / "README.md").write_text("not a log")
    (tmp_path / ".hidden.log").write_bytes(b"garbage\n")
    sub = tmp_path / "eks" / "kube-apiserver-audit-1"
    sub.mkdir(parents=True)
    (sub / "000000.gz").write_bytes(_gz([b"2026-11-30T10:00:40.000Z " + line(event(40))]))
    srcs = discover([str(tmp_path)])
    assert [Path(s.path).relative_to(tmp_path).as_posix() for s in srcs] == [
        "audit-2026-11-30T10-00-10.000.log",
        "audit-2026-11-30T10-00-20.000.log.gz",
        "audit.log",
        "eks/kube-apiserver-audit-1/000000.gz",
    ]
    assert [s.compressed for s in srcs] == [False, True, False, True]
    events, problems = read_all([str(tmp_path)])
    assert ([e.stage_timestamp[14:19] for e in events], problems) == (["00:10", "00:20", "00:30", "00:40"], [])


def test_time_order_of_names() -> None:
    names = [
        "audit.log",
        "other.log",
        "audit-2026-12-01T00-00-00.000.log.gz",
        "audit-2026-11-30T23-59-59.999.log",
        "other-2026-11-01T00-00-00.000.log",
    ]
    assert time_order(names) == [
        "audit-2026-11-30T23-59-59.999.log",
        "audit-2026-12-01T00-00-00.000.log.gz",
        "audit.log",
        "other-2026-11-01T00-00-00.000.log",
        "other.log",
    ]
    assert [is_audit_file(n) for n in ("a.log", "a.json.gz", "000000.gz", "x.ndjson", "x.yaml", ".a.log")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_stdin_plain_and_gzip() -> None:
    data = line(event(1)) + line(event(2))
    for stdin in (io.BufferedReader(io.BytesIO(data)), io.BufferedReader(io.BytesIO(gzip.compress(data)))):
        events, problems = read_all(["-"], stdin=stdin)
        assert (where(events), problems, {e.file for e in events}) == ([(1, None), (2, None)], [], {"-"})


def test_a_path_that_does_not_exist_raises_before_reading(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_all([str(LOGS / "plain.log"), str(tmp_path / "missing.log")])


def test_an_unreadable_file_found_in_a_directory_is_a_problem(tmp_path: Path) -> None:
    src = AuditSource(str(tmp_path / "gone.log"), 10)
    events, problems = read_all([src])
    assert events == [] and kinds(problems) == [(0, "read")]


# ---------------------------------------------------------------------------------------------
# time order
# ---------------------------------------------------------------------------------------------
def test_out_of_order_is_reported_once_per_file_at_its_first_line(tmp_path: Path) -> None:
    seconds = [10, 11, 9, 12, 3, 2, 20]  # 9 is within the slack of 11; 3 is not (first), 2 neither
    assert ORDER_SLACK == 5.0
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(line(event(s)) for s in seconds))
    events, problems = read_all([str(log)])
    assert len(events) == 7
    assert kinds(problems) == [(5, "order")]
    assert "2026-11-30T10:00:03.000000Z, after 2026-11-30T10:00:12.000000Z" in problems[0].message


def test_files_in_the_wrong_order_are_reported_in_the_later_file(tmp_path: Path) -> None:
    new, old = tmp_path / "new.log", tmp_path / "old.log"
    new.write_bytes(line(event(50)) + line(event(51)))
    old.write_bytes(line(event(10)) + line(event(11)))
    _, problems = read_all([str(new), str(old)])
    assert [(Path(p.file).name, p.line, p.kind) for p in problems] == [("old.log", 1, "order")]
    _, problems = read_all([str(old), str(new)])
    assert problems == []


def test_timestamps_in_other_formats_compare_as_times() -> None:
    """GKE writes 0-9 fractional digits: `...:05Z` is later than `...:04.9Z`, not earlier."""
    stamps = ["2026-11-30T10:00:04.9Z", "2026-11-30T10:00:05Z", "2026-11-30T10:00:05.000001Z", "2026-11-30T10:00:06Z"]
    data = b"".join(line(event(1, stageTimestamp=s)) for s in stamps)
    _, problems = read_all(["-"], stdin=io.BytesIO(data))
    assert problems == []


# ---------------------------------------------------------------------------------------------
# parts of a file (parallel reads)
# ---------------------------------------------------------------------------------------------
def _part_read(path: str, cuts: list[int]) -> list[tuple[int, str, int | None]]:
    out: list[tuple[int, str, int | None]] = []
    base = 0
    src = AuditSource(path, os.path.getsize(path))
    for a, b in itertools.pairwise(cuts):
        reader = Reader()
        for x in reader.read(src, a, b):
            if isinstance(x, AuditProblem):
                if x.kind != "order":
                    out.append((x.line + base, x.kind, None))
            else:
                out.append((x.line + base, x.audit_id, x.item))
        base += reader.lines
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=6))
def test_any_cut_into_byte_ranges_reads_every_line_once(fractions: list[float]) -> None:
    path = str(LOGS / "bad.log")
    size = os.path.getsize(path)
    cuts = sorted({0, size, *(int(f * size) for f in fractions)})
    assert _part_read(path, cuts) == _part_read(path, [0, size])


def _analyse(paths: list[str], *, check_ids: tuple[str, ...] | None = None, jobs: int = 1, **kw: Any) -> Any:
    ids = check_ids or tuple(m.id for m in REGISTRY if m.target == "audit") + ("KF-INPUT-006",)
    return driver.analyse(discover(paths), AuditSettings(ids), registry=REGISTRY, jobs=jobs, **kw)


def _watch_log(path: Path) -> int:
    """Long watches whose ResponseComplete comes far after their ResponseStarted, execs, a
    burst of 403s, bad lines and a step back in time: every kind of event a part boundary cuts.
    Returns the line of the step back."""
    lines: list[bytes] = []
    back = 0
    open_watches: list[dict[str, Any]] = []
    for i in range(1, 1500):
        t = i
        if i % 7 == 0:
            w = event(t, verb="watch", stage="ResponseStarted", auditID=f"w-{i}")
            open_watches.append(w)
            lines.append(line(w))
        elif i % 11 == 0 and open_watches:
            w = dict(open_watches.pop(0), stage="ResponseComplete")
            w["stageTimestamp"] = event(t)["stageTimestamp"]
            lines.append(line(w))
        elif i % 50 == 0:
            ex = event(
                t,
                verb="create",
                stage="ResponseStarted",
                auditID=f"x-{i}",
                user={"username": "alice@example.com"},
                objectRef={"resource": "pods", "subresource": "exec", "namespace": "kube-system", "name": "etcd"},
                responseStatus={"code": 101},
            )
            lines.append(line(ex))
            lines.append(line(dict(ex, stage="ResponseComplete")))
        elif 600 < i < 640:
            lines.append(line(event(t, verb="get", responseStatus={"code": 403}, user={"username": "mallory"})))
        elif i % 97 == 0:
            lines.append(line(event(t))[:50] + b"\n")
        elif i == 1002:
            lines.append(line(event(t - 100)))
            back = len(lines)
        else:
            lines.append(line(event(t)))
    path.write_bytes(b"".join(lines))
    return back


def _comparable(result: Any) -> tuple[Any, ...]:
    rows = sorted(
        (o.check_id, o.status.value, o.location.file, o.location.line, o.source.doc_index, o.message, o.fingerprint)
        for o in result.outcomes
    )
    return (
        rows,
        result.passed_omitted,
        result.extras["audit"],
        [(i.path, i.documents, i.objects) for i in result.inputs],
    )


def test_parallel_parts_give_exactly_the_sequential_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "audit.log"
    back = _watch_log(log)
    gz = tmp_path / "later.log.gz"
    gz.write_bytes(_gz([line(event(1600 + i)) for i in range(50)]))
    sequential = _analyse([str(log), str(gz)])
    monkeypatch.setattr(driver, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(driver, "PART_BYTES", 9000)
    assert len(driver.plan(discover([str(log), str(gz)]))) > 10
    parallel = _analyse([str(log), str(gz)], jobs=2)
    assert _comparable(parallel) == _comparable(sequential)
    statuses = {o.check_id for o in sequential.outcomes}
    assert {"KF-INPUT-006", "KF-AUDIT-001"} <= statuses
    execs = [o for o in sequential.outcomes if o.check_id == "KF-AUDIT-001"]
    started = log.read_text().count(
        '"stage":"ResponseStarted","requestURI":"/api/v1/namespaces/shop/pods","verb":"create"'
    )
    assert len(execs) == started == 23  # one per exec request, never one per stage
    order = [o for o in sequential.outcomes if "out of time order" in o.message]
    assert [(Path(o.location.file).name, o.location.line) for o in order] == [("audit.log", back)]


def test_progress_counts_files_bytes_and_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubefort.engine.progress import ProgressEvent

    a = write_log(tmp_path / "a.log", 10)
    b = write_log(tmp_path / "b.log", 5)
    seen: list[ProgressEvent] = []
    monkeypatch.setattr(driver, "PROGRESS_EVERY", 4)
    _analyse([str(a), str(b)], progress=seen.append)
    assert [(e.phase, e.done, e.total, e.objects) for e in seen] == [
        ("inputs", 0, 2, 0),
        ("inputs", 0, 2, 4),
        ("inputs", 0, 2, 8),
        ("inputs", 1, 2, 10),
        ("inputs", 1, 2, 14),
        ("inputs", 2, 2, 15),
    ]
    assert seen[-1].bytes_done == seen[-1].bytes_total == a.stat().st_size + b.stat().st_size


def write_log(path: Path, n: int) -> Path:
    path.write_bytes(b"".join(line(event(i)) for i in range(1, n + 1)))
    return path


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------
def test_metrics_of_a_small_log_exactly() -> None:
    result = _analyse([str(LOGS / "metrics.log")], check_ids=("KF-AUDIT-001", "KF-INPUT-006"))
    audit = result.extras["audit"]
    assert audit == {
        "version": "kubefort.audit.metrics/v1",
        "events": {
            "total": 11,
            "by_stage": {"RequestReceived": 1, "ResponseComplete": 9, "ResponseStarted": 1},
            "first": "2026-11-30T10:00:01.000000Z",
            "last": "2026-11-30T10:00:09.000000Z",
        },
        "requests": 9,
        "access_violations": {
            "total": 3,
            "by_code": {"401": 1, "403": 2},
            "by_principal": {
                "counts": {"alice@example.com": 1, "anonymous@203.0.113.9": 1, "system:anonymous": 1},
                "other": 0,
            },
            "by_resource": {"counts": {"/readyz": 1, "nodes": 1, "secrets": 1}, "other": 0},
        },
        "secrets": {
            "total": 4,
            "by_principal": {
                "counts": {"alice@example.com": 2, "carol@example.com": 1, "system:serviceaccount:shop:web": 1},
                "other": 0,
            },
            "by_namespace": {"counts": {"shop": 2, "(all namespaces)": 1, "kube-system": 1}, "other": 0},
            "by_verb": {"counts": {"get": 2, "create": 1, "list": 1}, "other": 0},
        },
        "checks": {"KF-AUDIT-001": {"evaluated": 0, "findings": 0}},
        "time_to_detect": None,
    }


def test_bounded_counter_keeps_the_first_keys_and_totals() -> None:
    c = BoundedCounter(cap=2)
    for k in "abacdda":
        c.add(k)
    assert (c.counts, c.other, c.total()) == ({"a": 3, "b": 1}, 3, 7)
    d = BoundedCounter(cap=2)
    d.add("c", 5)
    c.merge(d)
    assert (c.counts, c.other, c.total()) == ({"a": 3, "b": 1}, 8, 12)


@given(st.lists(st.floats(0.001, 3600.0), min_size=1, max_size=300))
def test_time_to_detect_quantiles_are_within_a_bucket(values: list[float]) -> None:
    """p50/p99 are the nearest-rank quantiles to within the 1 % bucket width."""
    h = Histogram()
    for v in values:
        h.add(v)
    ordered = sorted(values)
    for q in (0.5, 0.99):
        exact = ordered[math.ceil(q * len(values)) - 1]
        assert h.quantile(q) == pytest.approx(exact, rel=0.011)
    assert h.max == max(values) and h.count == len(values)


def test_time_to_detect_from_received_events() -> None:
    m = AuditMetrics()
    for delay in (0.010, 0.020, 0.030, 2.0):
        raw = event(1)
        ev = AuditEvent.read(raw, received=AuditEvent.read(raw).time + delay)  # type: ignore[operator]
        m.observe(ev, True)
    ttd = m.as_dict()["time_to_detect"]
    assert ttd["count"] == 4 and ttd["max"] == pytest.approx(2.0)
    assert ttd["p50"] == pytest.approx(0.020, rel=0.011)
    assert ttd["p99"] == pytest.approx(2.0, rel=0.011)


# ---------------------------------------------------------------------------------------------
# exceptions naming users
# ---------------------------------------------------------------------------------------------
EXEC = event(
    1,
    verb="create",
    user={"username": "alice@example.com", "groups": ["sre", "system:authenticated"]},
    objectRef={"resource": "pods", "subresource": "exec", "namespace": "kube-system", "name": "etcd"},
    responseStatus={"code": 101},
)


@pytest.mark.parametrize(
    ("rule", "suppressed"),
    [
        ({"users": ("alice@example.com",)}, True),
        ({"users": ("*@example.com",)}, True),
        ({"users": ("bob",)}, False),
        ({"groups": ("sre",)}, True),
        ({"groups": ("dev*",)}, False),
        ({"users": ("alice@example.com",), "groups": ("dev",)}, False),
        ({"users": ("alice@example.com",), "namespaces": ("kube-system",)}, True),
        ({"users": ("alice@example.com",), "namespaces": ("shop",)}, False),
    ],
)
def test_exceptions_name_users_and_groups(tmp_path: Path, rule: dict[str, Any], suppressed: bool) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(line(EXEC))
    cfg = Config(exceptions=[ExceptionRule(frozenset({"KF-AUDIT-001"}), "break-glass", "x", **rule)])
    result = _analyse([str(log)], check_ids=("KF-AUDIT-001",), config=cfg)
    [o] = result.outcomes
    assert o.status is (Status.SUPPRESSED if suppressed else Status.FAILED)
    assert (result.unused_exceptions == []) is suppressed


def test_an_exception_naming_a_user_never_excuses_whoever_impersonates_them(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    ev = copy.deepcopy(EXEC)
    ev["user"] = {"username": "mallory"}
    ev["impersonatedUser"] = {"username": "alice@example.com", "groups": ["sre"]}
    log.write_bytes(line(ev))
    cfg = Config(
        exceptions=[
            ExceptionRule(frozenset({"KF-AUDIT-001"}), "ok", "x", users=("alice@example.com",), groups=("sre",))
        ]
    )
    [o] = _analyse([str(log)], check_ids=("KF-AUDIT-001",), config=cfg).outcomes
    assert o.status is Status.FAILED


def test_a_rule_naming_users_never_matches_a_scan_finding() -> None:
    from kubefort.model import Outcome, ResourceId

    o = Outcome("KF-POD-001", Status.FAILED, ResourceId("v1", "Pod", "a", "b"), None)
    assert not ExceptionRule(frozenset({"KF-POD-001"}), "r", "x", users=("*",)).matches(o)
    assert ExceptionRule(frozenset({"KF-POD-001"}), "r", "x").matches(o)


def test_config_file_reads_users_and_groups(tmp_path: Path) -> None:
    from kubefort.config import load_config

    cfg = tmp_path / ".kubefort.yaml"
    cfg.write_text(
        "exceptions:\n- checks: [KF-AUDIT-001]\n  reason: break-glass\n  users: [alice@example.com]\n  groups: sre\n"
    )
    [rule] = load_config(cfg, REGISTRY).exceptions
    assert (rule.users, rule.groups) == (("alice@example.com",), ("sre",))
    assert rule.describe().endswith("(users=['alice@example.com'], groups=['sre'])")
