"""`netpol observe` reading: the fast path and the worker processes give exactly what
`Observer.add(read_flows(...))` gives, one record, one line and one file at a time.

The reference is the reader (`read_flows`, the one authority on what a record is) feeding
`Observer.add`. `FlowJudge` (one process, a fast path per format) must count the same groups,
unmatched endpoints and ReadStats for any input, valid or not, and `FlowReader` with workers
must give the same report as one process, bad lines (with their line numbers), first and last
seen times and counts included, wherever the file is cut.
"""

from __future__ import annotations

import copy
import gc
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefort.kube.netpol import observe_read
from kubefort.kube.netpol.flows import ReadStats, read_flows
from kubefort.kube.netpol.observe import Observer
from kubefort.kube.netpol.observe_read import FlowJudge, FlowReader, cut_points
from test_netpol_observe import APP, CALICO, HUBBLE, cluster, run

HUBBLE_LINES = HUBBLE.read_bytes().splitlines()
CALICO_LINES = CALICO.read_bytes().splitlines()


def outcome(obs: Observer, stats: ReadStats) -> tuple[Any, ...]:
    """Everything a report is made of: groups (with their tallies), unmatched endpoints, ReadStats."""
    groups = sorted((repr(k), v) for k, v in obs.groups.items())
    return (
        groups,
        sorted(obs.unmatched.items()),
        stats.formats,
        stats.lines,
        stats.flows,
        dict(stats.skipped),
        stats.bad,
        stats.bad_lines,
    )


def reference(data: bytes, fmt: str = "auto", max_line: int = 1 << 20) -> tuple[Any, ...]:
    c, a = cluster()
    obs, stats = Observer(c, a), ReadStats()
    obs.add(read_flows(io.BytesIO(data), "f", fmt, stats, max_line))
    return outcome(obs, stats)


def judged(data: bytes, fmt: str = "auto", max_line: int = 1 << 20) -> tuple[Any, ...]:
    c, a = cluster()
    obs, stats = Observer(c, a), ReadStats()
    n = FlowJudge(obs).read(io.BytesIO(data), "f", fmt, stats, max_line)
    assert n == len(data.split(b"\n")) - (data.endswith(b"\n") or not data)  # every line, blank ones too
    return outcome(obs, stats)


def in_workers(path: Path, fmt: str = "auto", jobs: int = 2, max_line: int = 1 << 20) -> tuple[tuple[Any, ...], int]:
    c, a = cluster()
    obs, stats = Observer(c, a), ReadStats()
    with path.open("rb") as fh:
        used = FlowReader(obs, jobs, split_min=1, piece_min=1).read(fh, "f", fmt, stats, max_line)
    return outcome(obs, stats), used


# -- the fast path is the reader's -----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["auto", "hubble", "calico"])
@pytest.mark.parametrize("path", [HUBBLE, CALICO], ids=["hubble", "calico"])
def test_the_fixtures_read_the_same(path: Path, fmt: str) -> None:
    data = path.read_bytes()
    assert judged(data, fmt) == reference(data, fmt)


def test_long_blank_and_unterminated_lines_read_the_same() -> None:
    ok = HUBBLE_LINES[0]
    data = b"\n".join([b"", b"  ", ok, b"x" * 5000, b"", ok, b'{"flow": 7}', b"[", ok + b" " * 3000, b"\t"])
    for fmt in ("auto", "hubble", "calico"):
        assert judged(data, fmt, max_line=len(ok) + 10) == reference(data, fmt, max_line=len(ok) + 10)
    junk_first = b"[1]\n{}\nnull\n" + b"\n".join(CALICO_LINES)  # bad until the format is known
    assert judged(junk_first) == reference(junk_first)


def test_a_record_is_read_alone_whatever_came_before() -> None:
    """An endpoint seen before is not taken on trust: the same pod with labels of the wrong type
    is a bad line, with other labels it is matched anew (workers reading other parts of a file
    must count each record the same)."""
    first = json.loads(HUBBLE_LINES[0])
    again = mutate(first, ("flow", "source", "labels"), [7], delete=False)
    other = mutate(first, ("flow", "source", "labels"), ["k8s:app=api"], delete=False)  # web's pod, api's labels,
    other = mutate(other, ("flow", "source", "workloads"), None, delete=True)  # no controller named
    data = b"\n".join(json.dumps(r).encode() for r in (first, again, other))
    for read in (reference, judged):
        out = read(data)
        assert out[7] == [("f", 2, "source.labels holds a int")]
        assert out[1] == [(("shop/web-5d9c7b8f6d-x2k9q", "no workload of the manifests matches this pod"), 1)]
    cal = json.loads(CALICO_LINES[0])
    bad = mutate(cal, ("source_labels", "labels"), [1], delete=False)
    data = b"\n".join(json.dumps(r).encode() for r in (cal, bad))
    assert judged(data)[7] == reference(data)[7] == [("f", 2, "source_labels.labels holds a int")]


def test_reading_leaves_no_garbage_cycles() -> None:
    """Collection is off while a stream is read: no record, good or bad, may leave a cycle behind."""
    data = b"\n".join([*HUBBLE_LINES, b"not json", b"[1]", b'{"flow": {"l4": {"TCP": {"destination_port": "x"}}}}'])
    judged(data)  # the caches and the cluster are made
    gc.collect()
    gc.disable()
    try:
        for fmt in ("auto", "hubble", "calico"):
            judged(data * 20, fmt)
            judged(b"\n".join(CALICO_LINES) * 20, fmt)
        assert gc.collect() == 0
    finally:
        gc.enable()


# values a field may hold instead of its own: the fast path must hand each to the reader
ODD = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.5,
    70000,
    "",
    "x",
    "L7",
    "REDIRECTED",
    "AUDIT",
    "POLICY_DENIED",
    133,
    [],
    {},
    ["x"],
    {"a": 1},
]
HUBBLE_PATHS = [
    ("flow",), ("flow", "Type"), ("flow", "is_reply"), ("flow", "isReply"), ("flow", "reply"), ("flow", "verdict"),
    ("flow", "drop_reason_desc"), ("flow", "dropReasonDesc"), ("flow", "l4"), ("flow", "l4", "TCP"),
    ("flow", "l4", "UDP"), ("flow", "l4", "TCP", "destination_port"), ("flow", "l4", "TCP", "destinationPort"),
    ("flow", "IP"), ("flow", "IP", "source"), ("flow", "IP", "destination"), ("flow", "source"),
    ("flow", "destination"), ("flow", "source", "namespace"), ("flow", "source", "pod_name"),
    ("flow", "source", "podName"), ("flow", "source", "labels"), ("flow", "source", "workloads"),
    ("flow", "destination", "labels"), ("flow", "destination", "workloads"), ("flow", "destination", "pod_name"),
    ("flow", "time"), ("time",), ("node_status",),
]  # fmt: skip
CALICO_PATHS = [
    ("action",), ("proto",), ("dest_port",), ("num_flows",), ("reporter",), ("start_time",), ("end_time",),
    ("_source",), *((f"{e}_{f}",) for e in ("source", "dest") for f in ("type", "namespace", "name", "name_aggr", "ip")),
    ("source_labels",), ("dest_labels",), ("source_labels", "labels"), ("dest_labels", "labels"),
]  # fmt: skip
LABELS = [
    ["k8s:app=web"],
    ["k8s:app=api", "k8s:pod-template-hash=7f6c5b4d9"],
    ["reserved:world"],
    ["reserved:host"],
    [7],
]
WORKLOADS = [[{"name": "web", "kind": "Deployment"}], [{"name": "api", "kind": "Deployment"}], [], [{"name": 1}]]


def mutate(rec: Any, path: tuple[str, ...], value: Any, delete: bool) -> Any:
    rec = copy.deepcopy(rec)
    if path[0] == "flow" and "flow" not in rec and len(path) > 1:
        path = path[1:]  # a bare Flow
    at = rec
    for k in path[:-1]:
        if not isinstance(at, dict) or not isinstance(at.get(k), dict):
            return rec
        at = at[k]
    if isinstance(at, dict):
        if delete:
            at.pop(path[-1], None)
        else:
            at[path[-1]] = value
    return rec


def record(draw: Any, lines: list[bytes], paths: list[tuple[str, ...]]) -> bytes:
    line = draw(st.sampled_from(lines))
    try:
        rec = json.loads(line)
    except ValueError:
        return line  # the fixtures' lines that are not JSON
    ends = [p for p in paths if p[-1] in ("labels", "workloads", "source_labels", "dest_labels")]
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(ends if draw(st.booleans()) else paths))  # the endpoints' fields often
        if path[-1] == "labels":
            value = draw(st.sampled_from(LABELS + ODD))
        elif path[-1] == "workloads":
            value = draw(st.sampled_from(WORKLOADS + ODD))
        else:
            value = draw(st.sampled_from(ODD))
        rec = mutate(rec, path, value, draw(st.booleans()))
    return json.dumps(rec, separators=(",", ":")).encode()


@st.composite
def flow_logs(draw: Any, lines: list[bytes], paths: list[tuple[str, ...]]) -> bytes:
    return b"\n".join(record(draw, lines, paths) for _ in range(draw(st.integers(1, 12))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(flow_logs(HUBBLE_LINES, HUBBLE_PATHS), flow_logs(CALICO_LINES, CALICO_PATHS)))
def test_any_record_is_judged_as_the_reader_reads_it(data: bytes) -> None:
    """Fields of every type in every place the fast path reads, and the same pod with other
    labels and workloads from one record to the next."""
    for fmt in ("auto", "hubble", "calico"):
        assert judged(data, fmt) == reference(data, fmt), data


# -- worker processes ------------------------------------------------------------------------------
def test_cut_points_fall_just_after_a_newline(tmp_path: Path) -> None:
    data = b"a\n\nbbbbbbbbbbbbbbbbbbbb\ncc\nd"  # a blank line, a long one, no newline at the end
    f = tmp_path / "f"
    f.write_bytes(data)
    with f.open("rb") as fh:
        for pieces in range(1, 12):
            cuts = cut_points(fh.fileno(), len(data), pieces)
            assert cuts[0] == 0 and cuts[-1] == len(data) and cuts == sorted(set(cuts))
            assert all(data[c - 1 : c] == b"\n" for c in cuts[1:-1])
        # 7 (a quarter) is inside the long line: the cut moves to its end; the next ones follow it
        assert cut_points(fh.fileno(), len(data), 4) == [0, 24, 27, len(data)]


def mixed_file(tmp_path: Path, lines: list[bytes], n: int, seed: int, newline_at_end: bool) -> Path:
    """n lines drawn from `lines`, some with a field changed (other labels for the same pod, a
    field of another type), with bad, blank and long lines here and there."""
    rnd = random.Random(seed)
    extra = [b"", b"not json", b'{"flow": 7}', b"[1, 2", b"x" * 3000, b"   "]
    paths = HUBBLE_PATHS + CALICO_PATHS
    out = []
    for _ in range(n):
        line = rnd.choice(extra) if rnd.random() < 0.08 else rnd.choice(lines)
        if line.startswith(b"{") and line.endswith(b"}") and rnd.random() < 0.2:
            path = rnd.choice(paths)
            value = rnd.choice({"labels": LABELS, "workloads": WORKLOADS}.get(path[-1], ODD))
            line = json.dumps(mutate(json.loads(line), path, value, rnd.random() < 0.2)).encode()
        out.append(line)
    f = tmp_path / f"flows-{seed}.jsonl"
    f.write_bytes(b"\n".join(out) + (b"\n" if newline_at_end else b""))
    return f


@pytest.mark.parametrize(("seed", "jobs"), [(1, 2), (2, 5), (3, 3)])
def test_workers_give_the_one_process_result(tmp_path: Path, seed: int, jobs: int) -> None:
    for lines, fmt in ((HUBBLE_LINES, "auto"), (CALICO_LINES, "calico"), (HUBBLE_LINES + CALICO_LINES, "auto")):
        f = mixed_file(tmp_path, lines, 300, seed, newline_at_end=seed != 2)
        data = f.read_bytes()
        with f.open("rb") as fh:  # the even cuts fall inside records: each moves to the end of its line
            cuts = cut_points(fh.fileno(), len(data), jobs)
        assert len(cuts) == jobs + 1 and all(c != len(data) * k // jobs for k, c in enumerate(cuts[1:-1], 1))
        got, used = in_workers(f, fmt, jobs, max_line=2000)
        assert used == jobs
        assert got == judged(data, fmt, max_line=2000) == reference(data, fmt, max_line=2000)
        assert got[6] > 20 and len(got[7]) == 20  # bad lines beyond the ones listed


def test_more_jobs_than_lines_and_no_record_in_the_first_range(tmp_path: Path) -> None:
    f = tmp_path / "f.jsonl"
    junk = b"[" + b"1," * 500 + b"1]"
    f.write_bytes(b"\n".join([junk] * 40 + HUBBLE_LINES))  # the format is found late: read in one process
    got, used = in_workers(f)
    assert (got, used) == (reference(f.read_bytes()), 1)
    f.write_bytes(b"\n".join(HUBBLE_LINES[:3]))
    got, used = in_workers(f, jobs=8)
    assert got == reference(f.read_bytes()) and used == 3  # one worker per line at most


def run_observe(*args: str) -> tuple[int, str, str]:
    return run("observe", *args, "-m", str(APP))


def test_the_command_reports_the_same_with_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Text and JSON reports, exit code and stderr (bad lines with their numbers), of a file cut
    into many ranges, against -j 1."""
    lines = list(HUBBLE_LINES)
    lines[3] = b'{"flow": {"verdict": "DROPPED"'  # bad in the first half
    f = tmp_path / "flows.jsonl"
    f.write_bytes(b"\n".join(lines * 20))  # no newline at the end; bad lines in every range
    monkeypatch.setattr(observe_read, "SPLIT_MIN", 1)
    monkeypatch.setattr(observe_read, "PIECE_MIN", 1000)
    used: list[int] = []
    real = FlowReader.read

    def spy(self: FlowReader, *a: Any, **kw: Any) -> int:
        used.append(real(self, *a, **kw))
        return used[-1]

    monkeypatch.setattr(FlowReader, "read", spy)
    for out in (["-o", "json"], ["-o", "table"], ["--generate"], ["-o", "json", "--generate"]):
        one = run_observe(str(f), "-j", "1", *out)
        for jobs in (2, 4):
            assert run_observe(str(f), "-j", str(jobs), *out) == one
        assert used[-3:] == [1, 2, 4]
    assert one[0] == 3
    doc = json.loads(run_observe(str(f), "-j", "2", "-o", "json")[1])
    assert doc["input"]["lines"] == 22 * 20 and doc["input"]["bad_lines"] == 3 * 20
    assert [b["line"] for b in doc["input"]["bad"]][:6] == [4, 15, 16, 26, 37, 38]
