"""Reading flow files straight into an `Observer`: one fast loop per format, and a large file
shared out between processes.

`FlowReader.read(stream, ...)` gives the Observer and the ReadStats exactly what
`Observer.add(read_flows(stream, ...))` gives them, in less time (bench/README.md):

* **One loop per format** (`FlowJudge`). A record of the common shape (Hubble: a
  `GetFlowsResponse` holding an L3/L4 flow of TCP, UDP or SCTP with a verdict by name, or its
  reply; Calico: an allow or deny record of TCP, UDP or SCTP) is read field by field and counted
  in its group in place: no Flow is built, and each end is found in a table keyed on its
  namespace, pod name and address that holds the endpoint and what the Resolver made of it; the
  other fields the endpoint is made of (labels, workloads) are compared on a hit, so what a
  record counts as depends on that record alone, never on the records before it. Every other
  record, and a record of the common shape with a field that is not what it should be, goes
  through the reader's `parse` and `judge_record` as in `read_flows`, the one authority on skip
  reasons and bad lines; tests/test_netpol_observe_read.py checks that both count the same for
  records with any field changed. Garbage collection is off while a stream is read (the loop
  makes no reference cycles, and a collection would walk every cached endpoint).
* **Byte ranges in processes** (`FlowReader`). A regular file (not stdin, not a pipe) of at least
  SPLIT_MIN bytes, with more than one job and where `fork` exists, is cut into one range per
  job (none under PIECE_MIN), each cut just after a newline, so that every line lies whole in
  one range. The first range is read here, and finds the format as a single reader would (its
  lines before the first record of either format are bad); the others are read in forked
  workers (they inherit the cluster, the analysis and the caches, and read with `pread` on the
  inherited descriptor), told the format, which must then be found in the first range, else the
  file is read in one process. Each worker sends back its groups, unmatched endpoints, ReadStats
  and line count; they are merged in file order: counts add up, first seen is the least time
  and last seen the greatest, and the bad lines listed are the first KEEP_BAD in file order,
  each range's line numbers moved by the lines of the ranges before it. Since every line counts
  as the same thing wherever it is read, the report is the one process's. (A file still being
  written is read up to its size when the command gets to it.)
"""

from __future__ import annotations

import contextlib
import gc
import os
import stat
import sys
from collections.abc import Iterator
from itertools import chain, pairwise
from typing import IO, Any

import orjson

from kubefort.kube.netpol.flows import (
    AUDIT,
    C_FIELDS,
    C_PROTO,
    DROPPED,
    FORMATS,
    FORWARDED,
    H_POLICY_DROPS,
    KEEP_ENDPOINTS,
    MAX_LINE,
    BadLine,
    Calico,
    Endpoint,
    Flow,
    Hubble,
    Readable,
    ReadStats,
    chunks,
    detect,
    judge_record,
    norm_time,
    not_json,
)
from kubefort.kube.netpol.observe import VERDICT_SLOT, GroupKey, Observer, Peer, Tally

SPLIT_MIN = 16 << 20  # bytes: a smaller file is read in this process (forking costs more than it saves)
PIECE_MIN = 4 << 20  # bytes: no range is cut smaller than this (a test lowers both)

# the verdicts by name (as the readers map them) -> their VERDICT_SLOT
_H_SLOT = {"FORWARDED": VERDICT_SLOT[FORWARDED], "REDIRECTED": VERDICT_SLOT[FORWARDED]}
_H_SLOT |= {"DROPPED": VERDICT_SLOT[DROPPED], "AUDIT": VERDICT_SLOT[AUDIT]}
_H_DROPPED = VERDICT_SLOT[DROPPED]
_H_POLICY_DROPS = frozenset(x for x in H_POLICY_DROPS if isinstance(x, str))
_C_SLOT = {"allow": VERDICT_SLOT[FORWARDED], "deny": VERDICT_SLOT[DROPPED]}
_NO_IP: dict[str, Any] = {}  # a flow without IP
_FAST_ERRORS = (LookupError, TypeError, AttributeError, BadLine)


class _Other(Exception):
    """A record that is not of the common shape: the reader's parse decides what it is."""


# one end's cache entries: Hubble (labels, workloads, endpoint, resolved); Calico (labels, endpoint, resolved)
HubbleEntry = tuple[Any, Any, Endpoint, "Peer | str"]
CalicoEntry = tuple[Any, Endpoint, "Peer | str"]


class FlowJudge:
    """Reads JSON-lines streams into an Observer in one process (see the module's docstring)."""

    def __init__(self, obs: Observer) -> None:
        self.obs = obs
        self.hub, self.cal = Hubble(), Calico()
        self.h_ends: dict[tuple[Any, ...], HubbleEntry] = {}
        self.c_ends: dict[tuple[Any, ...], CalicoEntry] = {}

    def read(self, stream: Readable, name: str, fmt: str, stats: ReadStats, max_line: int = MAX_LINE) -> int:
        """Judge the flows of one stream (`fmt`: hubble, calico or auto, as read_flows); returns
        the lines read, blank ones included."""
        known = fmt in FORMATS
        if known:
            stats.formats[name] = fmt
        lines = chain.from_iterable(chunks(stream, max_line))
        st = [0, 0, 0]  # lines, blank lines, flows
        collecting = gc.isenabled()
        gc.disable()  # the loop makes no reference cycles; collections would walk the caches (6-8 %)
        try:
            if not known:
                fmt = self._detect(lines, name, stats, max_line, st)
            if fmt == "hubble":
                self._hubble(lines, name, stats, max_line, st)
            elif fmt == "calico":
                self._calico(lines, name, stats, max_line, st)
        finally:
            if collecting:
                gc.enable()
            stats.lines += st[0] - st[1]
            stats.flows += st[2]
            if name not in stats.formats:
                stats.formats[name] = "empty" if st[0] == st[1] else "unknown"
        return st[0]

    # -- what read_flows does, line by line ----------------------------------------------------
    def _detect(self, lines: Iterator[bytes | None], name: str, stats: ReadStats, max_line: int, st: list[int]) -> str:
        """Lines up to the first record that is either format's (read as read_flows reads them);
        its format, or "" when the stream ends first."""
        for line in lines:
            st[0] += 1
            if line is None:
                stats.bad_line(name, st[0], f"longer than {max_line} bytes")
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                if not line or line.isspace():
                    st[1] += 1
                else:
                    stats.bad_line(name, st[0], not_json(exc))
                continue
            try:
                fmt = detect(obj)
            except BadLine as exc:
                stats.bad_line(name, st[0], str(exc))
                continue
            stats.formats[name] = fmt
            st[2] += self._generic(self.hub.parse if fmt == "hubble" else self.cal.parse, obj, name, st[0], stats)
            return fmt
        return ""

    def _generic(self, parse: Any, obj: Any, name: str, lineno: int, stats: ReadStats) -> int:
        """One record through the reader's parse, as read_flows; 1 when it is a flow (counted)."""
        out = judge_record(parse, obj)
        if isinstance(out, str):
            stats.skipped[out] += 1
            return 0
        if isinstance(out, BadLine):
            stats.bad_line(name, lineno, str(out))
            return 0
        self._count(out)
        return 1

    def _count(self, f: Flow) -> None:
        resolve = self.obs.resolver.resolve
        s, d = resolve(f.src), resolve(f.dst)
        self.obs.count(f.src, f.dst, s, d, f.proto, f.port, VERDICT_SLOT[f.verdict], f.first, f.last, f.num)

    # -- Hubble ----------------------------------------------------------------------------------
    def _hubble(self, lines: Iterator[bytes | None], name: str, stats: ReadStats, max_line: int, st: list[int]) -> None:
        lineno, blank, flows = st
        loads, decode_error, parse = orjson.loads, orjson.JSONDecodeError, self.hub.parse
        groups, count, ends, entry = self.obs.groups, self.obs.count, self.h_ends, self._h_entry
        slots, drops, dropped, skipped, empty = _H_SLOT, _H_POLICY_DROPS, _H_DROPPED, stats.skipped, _NO_IP
        try:
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
                try:  # the common shape; anything else raises, and parse decides
                    f = obj["flow"]
                    get = f.get
                    t = get("Type")
                    if t is not None and t != "L3_L4":
                        raise _Other
                    r = get("is_reply")
                    if r is not False:
                        if r is True:
                            skipped["reply direction"] += 1
                            continue
                        raise _Other
                    slot = slots[f["verdict"]]
                    if slot == dropped:
                        why = get("drop_reason_desc")
                        if why is None:
                            why = get("dropReasonDesc")
                        if why is not None and why not in drops:
                            raise _Other
                    l4 = f["l4"]
                    proto, p = "TCP", l4.get("TCP")
                    if p is None:
                        proto, p = "UDP", l4.get("UDP")
                        if p is None:
                            proto, p = "SCTP", l4.get("SCTP")
                    port = p["destination_port"]
                    if port.__class__ is not int or not 0 < port < 65536:
                        raise _Other
                    ip = get("IP")
                    if ip is None:
                        ip = empty
                    ep, a = f["source"], ip.get("source")
                    k = ep.get("pod_name")
                    key = (ep.get("namespace"), k, a) if k else (ep.get("namespace"), k, ep.get("podName"), a)
                    hs = ends.get(key)
                    if hs is None or hs[0] != ep.get("labels") or hs[1] != ep.get("workloads"):
                        hs = entry(ep, a, "source", key)
                    ep, a = f["destination"], ip.get("destination")
                    k = ep.get("pod_name")
                    key = (ep.get("namespace"), k, a) if k else (ep.get("namespace"), k, ep.get("podName"), a)
                    hd = ends.get(key)
                    if hd is None or hd[0] != ep.get("labels") or hd[1] != ep.get("workloads"):
                        hd = entry(ep, a, "destination", key)
                    tm = get("time")
                    if tm is None:
                        tm = obj.get("time")
                    if tm.__class__ is not str or len(tm) != 30 or tm[29] != "Z" or tm[19] != ".":
                        tm = norm_time(tm)
                except (_Other, *_FAST_ERRORS):
                    flows += self._generic(parse, obj, name, lineno, stats)
                    continue
                flows += 1
                s, d = hs[3], hd[3]
                g = groups.get((s, d, proto, port))  # type: ignore[arg-type]
                if g is None:
                    count(hs[2], hd[2], s, d, proto, port, slot, tm, tm, 1)
                    continue
                g[0] += 1
                g[slot] += 1
                if tm and (tm < g[1] or not g[1]):
                    g[1] = tm
                if tm > g[2]:  # noqa: PLR1730 (max() is slower here, on every flow)
                    g[2] = tm
        finally:
            st[:] = lineno, blank, flows

    def _h_entry(self, ep: dict[str, Any], ip: Any, what: str, key: tuple[Any, ...]) -> HubbleEntry:
        e = self.hub.endpoint(ep, ip, what)
        hit = (ep.get("labels"), ep.get("workloads"), e, self.obs.resolver.resolve(e))
        if len(self.h_ends) < KEEP_ENDPOINTS or key in self.h_ends:
            self.h_ends[key] = hit
        return hit

    # -- Calico ----------------------------------------------------------------------------------
    def _calico(self, lines: Iterator[bytes | None], name: str, stats: ReadStats, max_line: int, st: list[int]) -> None:
        lineno, blank, flows = st
        loads, decode_error, parse = orjson.loads, orjson.JSONDecodeError, self.cal.parse
        groups, count, ends, entry = self.obs.groups, self.obs.count, self.c_ends, self._c_entry
        slots, protos, times, utime = _C_SLOT, C_PROTO, self.cal.times, self.cal.time
        s_typ, s_ns, s_name, s_aggr, s_ip, s_lab = C_FIELDS["source"]
        d_typ, d_ns, d_name, d_aggr, d_ip, d_lab = C_FIELDS["dest"]
        try:
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
                try:  # the common shape; anything else raises, and parse decides
                    rec = obj
                    if "_source" in rec:
                        rec = rec["_source"]
                    get = rec.get
                    slot = slots[get("action")]
                    proto = protos[get("proto").lower()]
                    port = get("dest_port")
                    if port.__class__ is not int or not 0 < port < 65536:
                        raise _Other
                    n = get("num_flows", 1)
                    if n.__class__ is not int or n < 0:
                        raise _Other
                    rep = get("reporter")
                    if rep is not None and rep not in ("src", "dst"):
                        raise _Other
                    v = get("start_time")
                    first = times.get(v) or utime(v)
                    v = get("end_time")
                    last = times.get(v) or utime(v)
                    lab = get(s_lab)
                    labels = lab.get("labels") if lab.__class__ is dict else lab
                    if labels is not None and lab.__class__ is not dict:
                        raise _Other
                    key = (get(s_typ), get(s_ns), get(s_name), get(s_aggr), get(s_ip))
                    hs = ends.get(key)
                    if hs is None or hs[0] != labels:
                        hs = entry(rec, "source", key, labels)
                    lab = get(d_lab)
                    labels = lab.get("labels") if lab.__class__ is dict else lab
                    if labels is not None and lab.__class__ is not dict:
                        raise _Other
                    key = (get(d_typ), get(d_ns), get(d_name), get(d_aggr), get(d_ip))
                    hd = ends.get(key)
                    if hd is None or hd[0] != labels:
                        hd = entry(rec, "dest", key, labels)
                except (_Other, *_FAST_ERRORS):
                    flows += self._generic(parse, obj, name, lineno, stats)
                    continue
                flows += 1
                if not n:
                    n = 1
                if not first:
                    first = last
                elif not last:
                    last = first
                s, d = hs[2], hd[2]
                g = groups.get((s, d, proto, port))  # type: ignore[arg-type]
                if g is None:
                    count(hs[1], hd[1], s, d, proto, port, slot, first, last, n)
                    continue
                g[0] += n
                g[slot] += n
                if first and (first < g[1] or not g[1]):
                    g[1] = first
                if last > g[2]:  # noqa: PLR1730
                    g[2] = last
        finally:
            st[:] = lineno, blank, flows

    def _c_entry(self, rec: dict[str, Any], end: str, key: tuple[Any, ...], labels: Any) -> CalicoEntry:
        e = self.cal.endpoint(rec, end)
        hit = (labels, e, self.obs.resolver.resolve(e))
        if len(self.c_ends) < KEEP_ENDPOINTS or key in self.c_ends:
            self.c_ends[key] = hit
        return hit


# ---------------------------------------------------------------------------------------------
class _Range:
    """Bytes start..end of an open file, read with pread (the file position is never moved)."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd, self.pos, self.end = fd, start, end

    def read(self, n: int = -1) -> bytes:
        n = self.end - self.pos if n < 0 else min(n, self.end - self.pos)
        if n <= 0:
            return b""
        data = os.pread(self.fd, n, self.pos)
        self.pos += len(data)
        if not data:
            self.end = self.pos  # the file got shorter: its end
        return data


def cut_points(fd: int, size: int, pieces: int) -> list[int]:
    """Offsets 0 = c0 < c1 < ... < cn = size that split a file into about `pieces` ranges, each
    cut just after a newline."""
    cuts = [0]
    for k in range(1, pieces):
        at = max(size * k // pieces - 1, cuts[-1])
        nl = _newline(fd, at, size)
        if nl < 0 or nl + 1 >= size:
            break
        if nl + 1 > cuts[-1]:
            cuts.append(nl + 1)
    return cuts + [size]


def _newline(fd: int, at: int, size: int) -> int:
    """The offset of the first newline at or after `at`, -1 when there is none."""
    while at < size:
        block = os.pread(fd, min(1 << 16, size - at), at)
        if not block:
            return -1
        i = block.find(b"\n")
        if i >= 0:
            return at + i
        at += len(block)
    return -1


def first_format(fd: int, end: int, max_line: int) -> str:
    """The format of the first record that is either's among bytes 0..end ("" when none is)."""
    for line in chain.from_iterable(chunks(_Range(fd, 0, end), max_line)):
        if line is None:
            continue
        try:
            return detect(orjson.loads(line))
        except (orjson.JSONDecodeError, BadLine):
            continue
    return ""


# set in the parent before the workers fork: the judge they inherit, and the file they read
_job: tuple[FlowJudge, int, str, int] | None = None

Part = tuple[int, ReadStats, dict[GroupKey, Tally], dict[tuple[str, str], int]]


def _read_range(start: int, end: int, fmt: str) -> Part:
    """In a worker: one range of the file, read as the file's own (lines counted from 1)."""
    if _job is None:
        raise RuntimeError("worker used before its job was set")
    judge, fd, name, max_line = _job
    gc.freeze()  # what the parent made stays shared: no collection touches (and so copies) it
    judge.obs.take()  # what the parent had counted when it forked is not this range's
    stats = ReadStats()
    lines = judge.read(_Range(fd, start, end), name, fmt, stats, max_line)
    groups, unmatched = judge.obs.take()
    return lines, stats, groups, unmatched


class FlowReader:
    """Reads flow streams into an Observer, a large file in `jobs` processes (0: one per CPU)."""

    def __init__(
        self, obs: Observer, jobs: int = 0, split_min: int | None = None, piece_min: int | None = None
    ) -> None:
        self.judge = FlowJudge(obs)
        self.jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
        self.split_min = SPLIT_MIN if split_min is None else split_min
        self.piece_min = PIECE_MIN if piece_min is None else piece_min

    def read(
        self, stream: IO[bytes], name: str, fmt: str, stats: ReadStats, max_line: int = MAX_LINE, split: bool = True
    ) -> int:
        """Judge one stream (as `FlowJudge.read`); returns the processes it was read with. `split`
        False (stdin) reads it here, as does a pipe, a small file or a machine without fork."""
        plan = self._plan(stream, fmt, max_line) if split and self.jobs > 1 else None
        if plan is None:
            self.judge.read(stream, name, fmt, stats, max_line)
            return 1
        fd, cuts, fmt_known = plan
        return self._parallel(fd, cuts, name, fmt, fmt_known, stats, max_line)

    def _plan(self, stream: IO[bytes], fmt: str, max_line: int) -> tuple[int, list[int], str] | None:
        try:
            fd = stream.fileno()
            info = os.fstat(fd)
            at = stream.tell()
        except (AttributeError, OSError, ValueError):  # not a file: BytesIO, a pipe, a socket
            return None
        if not stat.S_ISREG(info.st_mode) or at != 0 or info.st_size < self.split_min:
            return None
        import multiprocessing  # only a large file loads it

        if "fork" not in multiprocessing.get_all_start_methods():
            return None
        cuts = cut_points(fd, info.st_size, min(self.jobs, info.st_size // max(self.piece_min, 1)))
        if len(cuts) < 3:  # one range: nothing to share out
            return None
        known = fmt if fmt in FORMATS else first_format(fd, cuts[1], max_line)
        return (fd, cuts, known) if known else None

    def _parallel(
        self, fd: int, cuts: list[int], name: str, fmt: str, known: str, stats: ReadStats, max_line: int
    ) -> int:
        """The first range here (it finds the format as a single reader would: its lines before
        the first record are bad), the others in forked workers; their results merged in order."""
        global _job
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ranges = list(pairwise(cuts))
        _job = (self.judge, fd, name, max_line)
        for out in (sys.stdout, sys.stderr):  # a worker flushes what it inherits when it ends: nothing
            with contextlib.suppress(AttributeError, OSError, ValueError):
                out.flush()
        try:
            with ProcessPoolExecutor(len(ranges) - 1, mp_context=multiprocessing.get_context("fork")) as ex:
                futures = [ex.submit(_read_range, a, b, known) for a, b in ranges[1:]]
                try:
                    first = self.judge.read(_Range(fd, *ranges[0]), name, fmt, stats, max_line)
                    parts = [f.result() for f in futures]
                except BaseException:
                    ex.shutdown(wait=False, cancel_futures=True)
                    raise
        finally:
            _job = None
        self.merge(parts, stats, first)
        return len(ranges)

    def merge(self, parts: list[Part], stats: ReadStats, offset: int) -> None:
        """The results of the ranges after the first (read here: `offset` lines), in file order,
        into the Observer and `stats`."""
        for lines, part, groups, unmatched in parts:
            self.judge.obs.merge(groups, unmatched)
            stats.lines += part.lines
            stats.flows += part.flows
            stats.skipped.update(part.skipped)
            stats.bad += part.bad - len(part.bad_lines)
            for file, n, why in part.bad_lines:
                stats.bad_line(file, n + offset, why)
            offset += lines
