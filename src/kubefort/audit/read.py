"""Reading audit logs: files, directories, stdin, gzip; one event at a time, in constant memory.

    for item in iter_events(["/var/log/kube-apiserver/"]):
        if isinstance(item, AuditProblem): ...   # a line that holds no readable event, and why
        else: ...                                  # an AuditEvent, with its file and line

**Inputs.** A file (plain or gzip, recognised by its magic bytes, not its name); `-` for stdin;
a directory: the audit files under it (`.log`, `.json`, `.jsonl`, `.ndjson`, optionally `.gz`,
and the bare `.gz` of CloudWatch exports), directory by directory, each rotation series in time
order: the API server's rotated files (`audit-2026-11-30T10-00-00.000.log[.gz]`, lumberjack's
names: the live file's name with the rotation time before the extension) by that time, then the
live `audit.log`.

**Formats**, recognised per line (see `read_formats.py`): JSON lines of `audit.k8s.io/v1` and
`v1beta1` Events (what `--audit-log-path` writes); EventLists (what the webhook backend POSTs),
one per line, or a whole file that is one pretty-printed EventList; EKS CloudWatch records and
GKE Cloud Audit Log entries. A file whose first line is a lone `{` or `[` is one pretty-printed
JSON document (an EventList, `aws logs filter-log-events` or `gcloud logging read --format=json`
output): it is read whole, up to MAX_DOCUMENT bytes. Items of a list are located at the line
where their list starts, with their index (`AuditEvent.item`).

**Bad input** never ends the read and is never skipped silently: each problem is an
`AuditProblem` with its file and line (the driver reports them as KF-INPUT-006, not evaluated):

| kind       | what                                                                              |
|------------|-----------------------------------------------------------------------------------|
| truncated  | a line that ends inside its JSON value (a log cut while written)                   |
| json       | a line that is not JSON (or not UTF-8)                                             |
| not-event  | JSON that is not an audit event (another kind or apiVersion, a core/v1 Event ...)  |
| event      | an event with a field of the wrong type (`AuditEventError`, with the field's path) |
| oversize   | a line over `max_event_size`: skipped without being held in memory                 |
| gzip       | a gzip file that ends early or is corrupt: the events before are kept              |
| read       | a file that cannot be read (permissions, vanished), or a document too large        |
| order      | stageTimestamp going back in time (once per file, see below)                       |

**Time order.** Stateful detections (bursts, first-seen, windows) read the log in order, so a
step back in time of more than ORDER_SLACK seconds behind the latest stageTimestamp read so far
(in this file or the ones before it) is a problem, reported once per file at the first line
where it happens: the analysis goes on, but its windows may be wrong. The API server writes
events roughly in stage order (concurrent requests may swap by milliseconds, hence the slack);
larger steps mean files given in the wrong order, logs of several API servers mixed, or an
export that is not sorted (a CloudWatch export to S3 is not: sort it first).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

import orjson

from kubefort.audit.event import API_VERSIONS, AuditEvent, AuditEventError
from kubefort.audit.read_formats import Unreadable, unwrap

DEFAULT_MAX_EVENT_SIZE = 4 * 1024 * 1024
MAX_DOCUMENT = 64 * 1024 * 1024  # a whole-file JSON document is read at once up to this size
ORDER_SLACK = 5.0  # seconds a stageTimestamp may lag behind the latest one without a problem
MAX_MINIMA = 1000  # new minima an OrderTracker remembers (a log is rarely out of order that often)
_SKIP_BLOCK = 1024 * 1024  # how much of an oversized line is read at a time while skipping it
_GZIP_MAGIC = b"\x1f\x8b"
AUDIT_SUFFIXES = (".log", ".json", ".jsonl", ".ndjson")
# lumberjack's backup names: <name>-<2006-01-02T15-04-05.000><ext>
_ROTATED = re.compile(r"^(?P<base>.*)-(?P<time>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3})(?P<ext>\.[^.]*)?$")


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """Input that holds no readable event (or, `order`, events out of time order)."""

    file: str
    line: int  # 1-based line (0: the file as a whole)
    kind: str  # see the module docstring
    message: str
    item: int | None = None  # index inside the list that starts at `line`


@dataclass(frozen=True, slots=True)
class AuditSource:
    """One file to read ("-": stdin)."""

    path: str
    size: int = 0
    compressed: bool = False


# ---------------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------------
def is_audit_file(name: str) -> bool:
    """A name a directory read takes: audit logs and their exports, gzipped or not."""
    if name.startswith("."):
        return False
    base = name.removesuffix(".gz")
    return name.endswith(".gz") or base.endswith(AUDIT_SUFFIXES)


def time_order(names: Iterable[str]) -> list[str]:
    """File names of a directory in time order: per rotation series (`audit.log` with its
    `audit-<time>.log[.gz]` backups), the backups by their rotation time, then the live file;
    series by name."""
    series: dict[str, list[tuple[int, str, str]]] = {}
    for n in names:
        plain = n.removesuffix(".gz")
        m = _ROTATED.match(plain)
        if m:
            live = m.group("base") + (m.group("ext") or "")
            series.setdefault(live, []).append((0, m.group("time"), n))
        else:
            series.setdefault(plain, []).append((1, "", n))
    return [n for live in sorted(series) for _, _, n in sorted(series[live])]


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def discover(paths: Iterable[str]) -> list[AuditSource]:
    """The files to read, in order. FileNotFoundError for a PATH that does not exist;
    OSError for one that cannot be listed or opened."""
    out: list[AuditSource] = []
    for p in paths:
        if p == "-":
            out.append(AuditSource("-"))
            continue
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            out.extend(_walk(p))
        else:
            out.append(AuditSource(p, st.st_size, _is_gzip(p)))
    return out


def _walk(top: str) -> list[AuditSource]:
    out: list[AuditSource] = []
    for d, dirs, files in os.walk(top):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for n in time_order(f for f in files if is_audit_file(f)):
            path = os.path.join(d, n)
            try:
                st = os.stat(path)
                if stat.S_ISREG(st.st_mode):
                    out.append(AuditSource(path, st.st_size, _is_gzip(path)))
            except OSError:
                out.append(AuditSource(path))  # reported as a read problem when read
    return out


# ---------------------------------------------------------------------------------------------
# time order
# ---------------------------------------------------------------------------------------------
def _seconds(ts: str) -> float | None:
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return None


class OrderTracker:
    """Watches stageTimestamps go by (module docstring, "Time order").

    `latest` is the latest stageTimestamp so far, as written; `back` the first step back of more
    than `slack` seconds: (line, its stageTimestamp, the latest before it). Timestamps as the API
    server writes them (RFC 3339, always six fractional digits) compare as text, which is all
    the common case costs; others (of another length) are compared as times."""

    __slots__ = ("back", "latest", "minima", "slack")

    def __init__(self, latest: str = "", slack: float = ORDER_SLACK) -> None:
        self.latest = latest
        self.slack = slack
        self.back: tuple[int, str, str] | None = None
        # (line, stageTimestamp, seconds) of each new minimum before the first step back: the
        # candidates for the first step back behind an earlier part of the log (parallel reads)
        self.minima: list[tuple[int, str, float]] = []

    @property
    def latest_seconds(self) -> float:
        t = _seconds(self.latest) if self.latest else None
        return t if t is not None else float("-inf")

    def restart(self) -> None:
        """A new file: its own first step back (the latest time carries over)."""
        self.back = None

    def see(self, ts: str, line: int) -> None:
        latest = self.latest
        if len(ts) == len(latest) and ts >= latest:
            self.latest = ts  # the common case: the same format, later or equal
            return
        t = _seconds(ts)
        if t is None:
            return
        latest_s = self.latest_seconds
        if t >= latest_s:
            self.latest = ts
            if not latest:
                self.minima.append((line, ts, t))
            return
        if self.back is None:
            if len(self.minima) < MAX_MINIMA and (not self.minima or t < self.minima[-1][2]):
                self.minima.append((line, ts, t))
            if t < latest_s - self.slack:
                self.back = (line, ts, latest)


def order_problem(file: str, line: int, ts: str, latest: str) -> AuditProblem:
    return AuditProblem(
        file,
        line,
        "order",
        f"stageTimestamp goes back in time here ({ts}, after {latest} earlier in the log): stateful "
        "detections (bursts, first-seen, windows) read the log in time order and may be wrong; give "
        "rotated files oldest first (or their directory), and sort exported logs",
    )


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def _open(src: AuditSource, stdin: IO[bytes] | None) -> tuple[IO[bytes], bool]:
    """The source opened for reading, and whether the caller must close it (not stdin)."""
    if src.path == "-":
        raw = stdin if stdin is not None else sys.stdin.buffer
        peek = getattr(raw, "peek", None)
        if peek is not None and peek(2)[:2] == _GZIP_MAGIC:
            return gzip.GzipFile(fileobj=raw, mode="rb"), True  # type: ignore[return-value]  # closing it leaves stdin open
        return raw, False
    if src.compressed:
        return gzip.open(src.path, "rb"), True  # type: ignore[return-value]  # a GzipFile reads bytes
    return open(src.path, "rb", buffering=1024 * 1024), True


class Reader:
    """Reads sources into events and problems. One Reader per analysis: it carries the time
    order across the files it reads, in the order it reads them."""

    def __init__(
        self,
        *,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        received: float = 0.0,
        stdin: IO[bytes] | None = None,
        order: OrderTracker | None = None,
    ) -> None:
        self.max_event_size = max_event_size
        self.received = received
        self.stdin = stdin
        self.order = order if order is not None else OrderTracker()
        self.lines = 0  # lines of the source (or range) being read, so far

    def read(self, src: AuditSource, start: int = 0, end: int | None = None) -> Iterator[AuditEvent | AuditProblem]:
        """The events and problems of `src`, in order. With `start`/`end`: only the lines that
        begin in that byte range of a plain file (line numbers then count from the range's first
        line, 1-based). `self.lines` says how many lines were read."""
        name = src.path
        self.lines = 0
        try:
            fh, close = _open(src, self.stdin)
        except OSError as exc:
            yield AuditProblem(name, 0, "read", f"cannot read {name}: {exc.strerror or exc}")
            return
        order = self.order
        order.restart()
        try:
            yield from self._lines(fh, name, start, end)
        except OSError as exc:
            yield AuditProblem(name, self.lines, "read", f"reading {name} failed: {exc.strerror or exc}")
        finally:
            if close:
                fh.close()
        if order.back is not None:
            line, ts, latest = order.back
            yield order_problem(name, line, ts, latest)

    def _lines(
        self, fh: IO[bytes], name: str, start: int, end: int | None, documents: bool = True
    ) -> Iterator[AuditEvent | AuditProblem]:
        limit = self.max_event_size
        readline = fh.readline
        pos = 0
        if start > 0:
            fh.seek(start - 1)
            pos = start - 1 + _skip_line(fh)  # a line that began before `start` is the previous range's
        lineno = 0
        loads = orjson.loads
        read_event = AuditEvent.read
        received = self.received
        see = self.order.see
        apis = API_VERSIONS
        decode_error = orjson.JSONDecodeError
        try:
            while end is None or pos < end:
                line = readline(limit + 1)  # the event and its newline; one byte more is over the limit
                if not line:
                    break
                lineno += 1
                self.lines = lineno
                pos += len(line)
                if len(line) > limit and line[-1:] != b"\n":
                    skipped = _skip_line(fh)
                    pos += skipped
                    size = len(line) + skipped - (1 if skipped else 0)
                    yield AuditProblem(
                        name,
                        lineno,
                        "oversize",
                        f"a line of {_size(size)} is over --max-event-size ({_size(limit)}): not read",
                    )
                    continue
                try:
                    obj = loads(line)
                except decode_error as exc:
                    if lineno == 1 and start == 0 and documents and line.strip() in (b"{", b"["):
                        yield from self._document(fh, name, line)
                        return
                    yield from self._bad_line(line, name, lineno, exc)
                    continue
                if type(obj) is dict and obj.get("kind") == "Event" and obj.get("apiVersion") in apis:
                    try:  # the common case, inline: a plain audit event
                        ev = read_event(obj, name, lineno, None, received)
                    except AuditEventError as exc:
                        yield AuditProblem(name, lineno, "event", f"audit event: {exc.reason}")
                        continue
                    if ev.stage_timestamp:
                        see(ev.stage_timestamp, lineno)
                    yield ev
                    continue
                yield from self._unwrapped(obj, name, lineno)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            yield AuditProblem(
                name,
                max(lineno, 1),
                "gzip",
                f"the gzip data ends early or is corrupt after line {lineno} ({exc}): the rest of the file is missing",
            )

    def _unwrapped(self, obj: object, name: str, lineno: int) -> Iterator[AuditEvent | AuditProblem]:
        for found in unwrap(obj):
            if isinstance(found, Unreadable):
                yield AuditProblem(name, lineno, found.kind, found.reason, found.item)
                continue
            raw, item = found
            try:
                ev = AuditEvent.read(raw, name, lineno, item, self.received)
            except AuditEventError as exc:
                where = f"items[{item}] " if item is not None else ""
                yield AuditProblem(name, lineno, "event", f"audit event {where}{exc.reason}", item)
                continue
            if ev.stage_timestamp:
                self.order.see(ev.stage_timestamp, lineno)
            yield ev

    def _bad_line(
        self, line: bytes, name: str, lineno: int, exc: orjson.JSONDecodeError
    ) -> Iterator[AuditEvent | AuditProblem]:
        text = line.strip()
        if not text:
            return  # a blank line holds nothing
        if text[:1].isdigit() and b" " in text:  # a CloudWatch export to S3: "<timestamp> <message>"
            try:
                obj = orjson.loads(text.split(b" ", 1)[1])
            except orjson.JSONDecodeError:
                pass
            else:
                yield from self._unwrapped(obj, name, lineno)
                return
        # cut short: the parser ran out of line (a string cut before its closing quote ends at
        # the newline, which a JSON string may not hold)
        if text[:1] in (b"{", b"[") and exc.pos >= len(line.rstrip(b"\r\n")):
            yield AuditProblem(
                name, lineno, "truncated", f"the line ends inside its JSON value (truncated after {len(text)} bytes)"
            )
        else:
            yield AuditProblem(name, lineno, "json", f"not JSON ({exc.msg} at column {exc.colno})")

    def _document(self, fh: IO[bytes], name: str, first: bytes) -> Iterator[AuditEvent | AuditProblem]:
        """A file that is one pretty-printed JSON document, read whole (MAX_DOCUMENT at most)."""
        rest = fh.read(MAX_DOCUMENT + 1 - len(first))
        data = first + rest
        if len(data) > MAX_DOCUMENT:
            yield AuditProblem(
                name,
                1,
                "read",
                f"a JSON document over {_size(MAX_DOCUMENT)}: convert it to JSON lines (for example with "
                "`jq -c '.items[]'` or `jq -c '.[]'`) and read that",
            )
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            if "end of data" in exc.msg:  # a document cut short: what it held is lost
                yield AuditProblem(
                    name,
                    1,
                    "truncated",
                    f"the JSON document starting here ends early (at line {exc.lineno}): none of its events was read",
                )
                return
            # not one document after all (a first line cut to a lone brace, then JSON lines): by line
            yield from self._lines(io.BytesIO(data), name, 0, None, documents=False)
            return
        self.lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        yield from self._unwrapped(obj, name, 1)


def _skip_line(fh: IO[bytes]) -> int:
    """Read past the rest of a line without holding it; the number of bytes read."""
    n = 0
    while True:
        chunk = fh.readline(_SKIP_BLOCK)
        n += len(chunk)
        if not chunk or chunk[-1:] == b"\n":
            return n


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def read_document(data: bytes, name: str, *, received: float = 0.0) -> Iterator[AuditEvent | AuditProblem]:
    """The events of one JSON document held in memory (an EventList POSTed by the webhook
    backend, for `audit serve`): located at line 1 of `name`, items by index."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        kind = "truncated" if "end of data" in exc.msg else "json"
        yield AuditProblem(name, exc.lineno, kind, f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
        return
    yield from Reader(received=received)._unwrapped(obj, name, 1)


def iter_events(
    inputs: Iterable[str | AuditSource],
    *,
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    received: float = 0.0,
    stdin: IO[bytes] | None = None,
) -> Iterator[AuditEvent | AuditProblem]:
    """Every event and problem of the inputs (paths, `-`, directories; or sources from
    `discover`), in order, streaming: one line in memory at a time. `received` stamps each event
    (`AuditEvent.received`, Unix time; 0 for logs read from files). A PATH that does not exist
    raises FileNotFoundError before anything is read."""
    sources = [s for i in inputs for s in ([i] if isinstance(i, AuditSource) else discover([i]))]
    reader = Reader(max_event_size=max_event_size, received=received, stdin=stdin)
    for src in sources:
        yield from reader.read(src)
