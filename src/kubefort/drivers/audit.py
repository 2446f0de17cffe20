"""The audit driver: read audit logs, run the audit checks on every request, measure access.

    result = analyse(sources, AuditSettings(check_ids, options), registry=reg, config=cfg)

Each event goes through `AuditAnalyzer` (each request judged once, checks only for the events
their `AuditScope` admits) and `AuditMetrics`; input problems become not-evaluated outcomes of
KF-INPUT-006; `.kubefort.yaml` exceptions (which may name users and groups for audit findings)
and `--baseline` fingerprints apply as in `kubefort scan`. The result is a `ScanResult` whose
`extras["audit"]` holds the metrics.

**Sequential** (one job, stdin, or less than PARALLEL_MIN_BYTES of files): one analyzer with
every check reads the inputs in order, one line in memory at a time.

**Parallel** (large files, more than one job): the files are cut into parts (PART_BYTES of a
plain file, cut at line ends; a gzip file is one part) that forked workers read and judge with
the stateless checks (`AuditScope.stateful=False`), each sending back its findings, input
problems, metrics and what it could not decide alone (below). Meanwhile the main process reads
the whole log once more in order and runs only the stateful checks on it (their history needs
every event in log order, in one process): parsing a line again costs less than shipping the
parsed event between processes. Parts merge in log order, so the result is the one a
sequential read gives.

What a part cannot decide alone: whether a long-running request (watch, exec, ...) whose
ResponseComplete it holds was already judged at a ResponseStarted in an earlier part. Such
judgements (their findings, passes and per-request metrics) come back as `Deferred` and count
only when no earlier part started that request. Time order across parts is merged from each
part's `OrderTracker`.

Memory stays flat whatever the log's size: lines are read one at a time, per-request state is
bounded (the analyzer's ResponseStarted memory, the metrics' key caps, each check's own bounds),
and what parts return is their findings and bounded summaries.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import IO, Any

from kubefort import __version__
from kubefort.audit.analyzer import STARTED_MEMORY, AuditAnalyzer, AuditSettings, long_running
from kubefort.audit.context import AuditServices
from kubefort.audit.event import AuditEvent
from kubefort.audit.metrics import AuditMetrics
from kubefort.audit.read import (
    DEFAULT_MAX_EVENT_SIZE,
    AuditProblem,
    AuditSource,
    OrderTracker,
    Reader,
    order_problem,
)
from kubefort.config import Config
from kubefort.engine.exceptions import apply_exceptions
from kubefort.engine.progress import ProgressCallback, ProgressEvent
from kubefort.model import InputRecord, Location, Outcome, ScanResult, Severity, Source, Status
from kubefort.registry import Registry

INPUT_CHECK = "KF-INPUT-006"
PARALLEL_MIN_BYTES = 32 * 1024 * 1024
PART_BYTES = 32 * 1024 * 1024
PROGRESS_EVERY = 16384  # events between progress reports


# ---------------------------------------------------------------------------------------------
# outcomes of input problems
# ---------------------------------------------------------------------------------------------
PROBLEM_TITLES = {
    "truncated": "truncated line",
    "json": "not JSON",
    "not-event": "not an audit event",
    "event": "unreadable audit event",
    "oversize": "event too large",
    "gzip": "gzip ends early",
    "read": "cannot read",
    "order": "events out of time order",
}


def problem_outcome(p: AuditProblem, severity: Severity) -> Outcome:
    """An input problem as the not-evaluated outcome of KF-INPUT-006, at its file and line."""
    where = f"items[{p.item}]: " if p.item is not None and "items[" not in p.message else ""
    message = f"{PROBLEM_TITLES.get(p.kind, p.kind)}: {where}{p.message}"
    key = f"{INPUT_CHECK}|{p.file}|{p.line}|{p.item}|{p.kind}"
    return Outcome(
        INPUT_CHECK,
        Status.NOT_EVALUATED,
        None,
        Source(p.file, p.item or 0, p.line or None),
        None,
        message,
        (),
        Location(p.file, p.line or None),
        hashlib.sha256(key.encode()).hexdigest()[:16],
        None,
        severity,
    )


def _shift(o: Outcome, lines: int) -> Outcome:
    """An outcome of a part, with its line counted from the start of its file."""
    if not lines:
        return o
    src, loc = o.source, o.location
    return replace(
        o,
        source=replace(src, line=src.line + lines) if src is not None and src.line else src,
        location=replace(loc, line=loc.line + lines) if loc is not None and loc.line else loc,
    )


# ---------------------------------------------------------------------------------------------
# the analysis
# ---------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Analysis:
    """What one analysis needs besides its inputs (built once, inherited by forked workers)."""

    settings: AuditSettings
    registry: Registry
    services: AuditServices
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    input_severity: Severity = Severity.HIGH

    def analyzer(self, checks: Any = "all") -> AuditAnalyzer:
        return AuditAnalyzer(self.settings, self.registry, self.services, checks=checks)

    def has_stateful(self) -> bool:
        return bool(self.analyzer("stateful").metas)


@dataclass(slots=True)
class Tally:
    """What the driver counts besides outcomes: events, requests judged, passes, per input."""

    passed: int = 0
    records: dict[str, InputRecord] = field(default_factory=dict)

    def record(self, src: AuditSource) -> InputRecord:
        r = self.records.get(src.path)
        if r is None:
            r = self.records[src.path] = InputRecord(src.path, "stdin" if src.path == "-" else "audit-log")
        return r


def _feed_sequential(
    an: Analysis,
    sources: Sequence[AuditSource],
    stdin: IO[bytes] | None,
    metrics: AuditMetrics,
    tally: Tally,
    progress: Progress | None,
) -> list[Outcome]:
    analyzer = an.analyzer()
    reader = Reader(max_event_size=an.max_event_size, stdin=stdin)
    outcomes: list[Outcome] = []
    observe_baseline = _baseline_observer(an.services)
    for src in sources:
        rec = tally.record(src)
        for item in reader.read(src):
            if type(item) is AuditProblem:
                outcomes.append(problem_outcome(item, an.input_severity))
                if item.kind == "read" and item.line == 0:
                    rec.error = item.message
                continue
            ev: AuditEvent = item  # type: ignore[assignment]  # a Reader yields events and problems
            rec.objects += 1
            if observe_baseline is not None:
                observe_baseline(ev)
            outs = analyzer.feed(ev)
            metrics.observe(ev, analyzer.last_judged)
            for o in outs:
                metrics.finding(o)
                outcomes.append(o)
            if progress is not None and rec.objects % PROGRESS_EVERY == 0:
                progress.events(PROGRESS_EVERY)
        rec.documents = reader.lines
        if progress is not None:
            progress.done_source(src, rec.objects % PROGRESS_EVERY)
    tally.passed += analyzer.passed
    for cid, n in analyzer.evaluated.items():
        metrics.evaluated_by(cid, n)
    return outcomes


def _baseline_observer(services: AuditServices) -> Callable[[AuditEvent], object] | None:
    """The first-seen baseline's `observe` (it learns from every event read), if there is one."""
    observe = getattr(services.baseline, "observe", None)
    return observe if callable(observe) else None


# ---------------------------------------------------------------------------------------------
# parallel parts
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Part:
    index: int
    source: AuditSource
    start: int = 0
    end: int | None = None


@dataclass(slots=True)
class Deferred:
    """A request a part judged at its ResponseComplete (or Panic) without seeing a ResponseStarted
    for it: it counts only if no earlier part started it (module docstring)."""

    audit_id: str
    outcomes: list[Outcome]
    passed: int
    evaluated: list[str]  # the checks that judged it
    event: AuditEvent  # for the per-request metrics (its body dropped)


@dataclass(slots=True)
class PartResult:
    lines: int = 0
    events: int = 0
    outcomes: list[Outcome] = field(default_factory=list)  # stateless findings
    problems: list[AuditProblem] = field(default_factory=list)  # input problems (but time order)
    metrics: AuditMetrics = field(default_factory=AuditMetrics)
    passed: int = 0
    evaluated: dict[str, int] = field(default_factory=dict)
    deferred: list[Deferred] = field(default_factory=list)
    started: list[str] = field(default_factory=list)  # ResponseStarted auditIDs not completed in the part
    order: OrderTracker = field(default_factory=OrderTracker)
    read_error: str | None = None


def plan(sources: Sequence[AuditSource], part_bytes: int | None = None) -> list[Part]:
    """Parts of the inputs: plain files over 1.5 parts' size cut into equal byte ranges (workers
    move each cut to a line end), every other input whole. Depends on the inputs only, never on
    the number of jobs: the result is the same however many workers read it."""
    part_bytes = part_bytes or PART_BYTES
    parts: list[Part] = []
    for src in sources:
        if src.path != "-" and not src.compressed and src.size > part_bytes * 3 // 2:
            n = -(-src.size // part_bytes)
            cuts = [src.size * k // n for k in range(n + 1)]
            parts.extend(Part(len(parts) + k, src, cuts[k], cuts[k + 1]) for k in range(n))
        else:
            parts.append(Part(len(parts), src))
    return parts


_analysis: Analysis | None = None  # what forked workers inherit


def _run_part(part: Part) -> PartResult:
    """A part read by a worker: stateless checks, metrics, problems (lines counted in the part)."""
    an = _analysis
    if an is None:
        raise RuntimeError("audit worker used before its initializer")
    analyzer = an.analyzer("stateless")
    order = OrderTracker()
    reader = Reader(max_event_size=an.max_event_size, order=order)
    res = PartResult(order=order)
    metrics = res.metrics
    opened: OrderedDict[str, None] = OrderedDict()
    for item in reader.read(part.source, part.start, part.end):
        if type(item) is AuditProblem:
            if item.kind == "order":
                continue  # merged across parts by the main process
            res.problems.append(item)
            if item.kind == "read" and item.line == 0:
                res.read_error = item.message
            continue
        ev: AuditEvent = item  # type: ignore[assignment]  # a Reader yields events and problems
        res.events += 1
        stage = ev.stage
        aid = ev.audit_id
        if stage == "ResponseStarted" and aid:
            opened[aid] = None
            if len(opened) > STARTED_MEMORY:
                opened.popitem(last=False)
        elif aid and stage in ("ResponseComplete", "Panic") and long_running(ev):
            if aid in opened:
                del opened[aid]
            else:
                _defer(analyzer, ev, metrics, res)
                continue
        outs = analyzer.feed(ev)
        metrics.observe(ev, analyzer.last_judged)
        for o in outs:
            metrics.finding(o)
        res.outcomes.extend(outs)
    res.lines = reader.lines
    res.passed = analyzer.passed
    res.evaluated = analyzer.evaluated
    res.started = list(opened)
    return res


def _defer(analyzer: AuditAnalyzer, ev: AuditEvent, metrics: AuditMetrics, res: PartResult) -> None:
    """Judge a request that may have started in an earlier part, keeping its effects aside."""
    passed = analyzer.passed
    before = dict(analyzer.evaluated)
    outs = analyzer.feed(ev)
    metrics.observe(ev, False)  # the event counts; the request counts once confirmed
    if not analyzer.last_judged:
        return
    evaluated = [cid for cid, n in analyzer.evaluated.items() if n != before[cid]]
    for cid in evaluated:
        analyzer.evaluated[cid] = before[cid]
    delta = analyzer.passed - passed
    analyzer.passed = passed
    ev.raw = {}  # the body is not needed to count the request, and would cross to the main process
    res.deferred.append(Deferred(ev.audit_id, outs, delta, evaluated, ev))


class Merger:
    """Folds part results into the analysis in log order."""

    def __init__(self, an: Analysis, metrics: AuditMetrics, tally: Tally) -> None:
        self.an = an
        self.metrics = metrics
        self.tally = tally
        self.outcomes: list[Outcome] = []
        self.started: OrderedDict[str, None] = OrderedDict()
        self.lines: dict[str, int] = {}  # file -> lines of its parts merged so far
        self.latest = OrderTracker()  # the latest stageTimestamp of the parts merged so far
        self.out_of_order: set[str] = set()

    def add(self, part: Part, res: PartResult) -> None:
        path = part.source.path
        base = self.lines.get(path, 0)
        rec = self.tally.record(part.source)
        rec.objects += res.events
        rec.documents += res.lines
        if res.read_error and rec.error is None:
            rec.error = res.read_error
        metrics = self.metrics
        for d in res.deferred:  # started in an earlier part? then judged there already
            if d.audit_id in self.started:
                del self.started[d.audit_id]
                continue
            self.tally.passed += d.passed
            for cid in d.evaluated:
                metrics.evaluated_by(cid)
            metrics.judge(d.event)
            for o in d.outcomes:
                metrics.finding(o)
                self.outcomes.append(_shift(o, base))
        for aid in res.started:
            self.started[aid] = None
            if len(self.started) > STARTED_MEMORY:
                self.started.popitem(last=False)
        self.outcomes.extend(_shift(o, base) for o in res.outcomes)
        severity = self.an.input_severity
        self.outcomes.extend(
            problem_outcome(replace(p, line=p.line + base) if p.line else p, severity) for p in res.problems
        )
        metrics.merge(res.metrics)
        self.tally.passed += res.passed
        for cid, n in res.evaluated.items():
            metrics.evaluated_by(cid, n)
        self._order(path, base, res.order)
        self.lines[path] = base + res.lines

    def _order(self, path: str, base: int, order: OrderTracker) -> None:
        """The first step back in time of this part, behind everything merged before it."""
        if path not in self.out_of_order:
            found = order.back
            limit = self.latest.latest_seconds - order.slack
            for line, ts, t in order.minima:
                if t < limit:
                    if found is None or line < found[0]:
                        found = (line, ts, self.latest.latest)
                    break
            if found is not None:
                self.out_of_order.add(path)
                self.outcomes.append(
                    problem_outcome(order_problem(path, found[0] + base, found[1], found[2]), self.an.input_severity)
                )
        if order.latest:
            self.latest.see(order.latest, 0)


class Pipeline:
    """Parts in flight: at most `window` submitted and not yet merged (workers ahead of the
    merge wait instead of piling results up in memory), merged in log order as they complete."""

    def __init__(self, ex: ProcessPoolExecutor, parts: list[Part], merger: Merger, window: int) -> None:
        self.ex = ex
        self.todo = deque(parts)
        self.pending: deque[tuple[Part, Future[PartResult]]] = deque()
        self.merger = merger
        self.window = window
        self.fill()

    def fill(self) -> None:
        while self.todo and len(self.pending) < self.window:
            p = self.todo.popleft()
            self.pending.append((p, self.ex.submit(_run_part, p)))

    def drain(self, *, wait: bool, progress: Progress | None = None) -> None:
        """Merge the parts that are done, in order (all of them, waiting, with `wait`)."""
        while self.pending and (wait or self.pending[0][1].done()):
            p, fut = self.pending.popleft()
            res = fut.result()
            self.merger.add(p, res)
            if progress is not None:
                progress.part(p, res.events)
            self.fill()


def _feed_parallel(
    an: Analysis,
    sources: Sequence[AuditSource],
    jobs: int,
    metrics: AuditMetrics,
    tally: Tally,
    progress: Progress | None,
) -> list[Outcome]:
    global _analysis
    merger = Merger(an, metrics, tally)
    stateful: list[Outcome] = []
    _analysis = an
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as ex:
            pipe = Pipeline(ex, plan(sources), merger, 2 * jobs + 1)
            if an.has_stateful():  # progress follows the main process's read; parts merge meanwhile
                stateful = _stateful_pass(an, sources, metrics, tally, progress, lambda: pipe.drain(wait=False))
                pipe.drain(wait=True)
            else:
                pipe.drain(wait=True, progress=progress)
    finally:
        _analysis = None
    return merger.outcomes + stateful


def _stateful_pass(
    an: Analysis,
    sources: Sequence[AuditSource],
    metrics: AuditMetrics,
    tally: Tally,
    progress: Progress | None,
    every: Callable[[], None],
) -> list[Outcome]:
    """The stateful checks on every event, in log order (while the workers read the parts);
    `every` runs every PROGRESS_EVERY events (merging the parts that are done)."""
    analyzer = an.analyzer("stateful")
    reader = Reader(max_event_size=an.max_event_size)
    observe_baseline = _baseline_observer(an.services)
    out: list[Outcome] = []
    for src in sources:
        n = 0
        for item in reader.read(src):
            if type(item) is AuditProblem:
                continue  # the workers report them
            ev: AuditEvent = item  # type: ignore[assignment]  # a Reader yields events and problems
            if observe_baseline is not None:
                observe_baseline(ev)
            for o in analyzer.feed(ev):
                metrics.finding(o)
                out.append(o)
            n += 1
            if n % PROGRESS_EVERY == 0:
                every()
                if progress is not None:
                    progress.events(PROGRESS_EVERY)
        if progress is not None:
            progress.done_source(src, n % PROGRESS_EVERY)
    tally.passed += analyzer.passed
    for cid, k in analyzer.evaluated.items():
        metrics.evaluated_by(cid, k)
    return out


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------
class Progress:
    """Reports reading progress (phase "inputs": files done, bytes, events read) to a callback."""

    def __init__(self, sources: Sequence[AuditSource], callback: ProgressCallback) -> None:
        self.callback = callback
        self.total = len(sources)
        self.bytes_total = sum(s.size for s in sources)
        self.done = self.bytes_done = self.events_read = 0
        self.part_bytes: dict[str, int] = {}
        self._emit("")

    def _emit(self, current: str) -> None:
        self.callback(
            ProgressEvent("inputs", self.done, self.total, self.bytes_done, self.bytes_total, self.events_read, current)
        )

    def events(self, n: int) -> None:
        self.events_read += n
        self._emit("")

    def done_source(self, src: AuditSource, events: int) -> None:
        self.events_read += events
        self.done += 1
        self.bytes_done += src.size
        self._emit(src.path)

    def part(self, part: Part, events: int) -> None:
        self.events_read += events
        src = part.source
        size = (part.end if part.end is not None else src.size) - part.start
        self.bytes_done += size
        seen = self.part_bytes[src.path] = self.part_bytes.get(src.path, 0) + size
        if seen >= src.size:
            self.done += 1
        self._emit(src.path)


# ---------------------------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------------------------
def cpus(jobs: int | None) -> int:
    return jobs if jobs and jobs > 0 else (os.cpu_count() or 1)


def is_parallel(sources: Sequence[AuditSource], jobs: int) -> bool:
    """Worth forking workers: more than one job, no stdin, enough bytes (module docstring)."""
    return (
        jobs > 1
        and all(s.path != "-" for s in sources)
        and sum(s.size for s in sources) >= PARALLEL_MIN_BYTES
        and "fork" in multiprocessing.get_all_start_methods()
    )


def analyse(
    sources: Sequence[AuditSource],
    settings: AuditSettings,
    *,
    registry: Registry,
    services: AuditServices | None = None,
    config: Config | None = None,
    baseline: set[str] | None = None,
    jobs: int | None = None,
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    stdin: IO[bytes] | None = None,
    progress: ProgressCallback | None = None,
    metrics: AuditMetrics | None = None,
    extra_outcomes: Sequence[Outcome] = (),
    extra_checks: Sequence[str] = (),
    extra_passed: int = 0,
) -> ScanResult:
    """Analyse the audit logs `sources` (from `kubefort.audit.read.discover`), in order.

    `settings` selects the audit and input checks and their options; `services` are what the
    checks know besides the log (default: none); `config` and `baseline` suppress findings as in
    `kubefort scan`. The result's `extras["audit"]` is the metrics (`AuditMetrics.as_dict`).
    `extra_outcomes` (of `extra_checks`, with `extra_passed` passes) come from what was read
    besides the log (audit/side_inputs.py: the audit Policy, RBAC files) and join the report."""
    t0 = time.perf_counter()
    an = Analysis(
        settings,
        registry,
        services if services is not None else AuditServices(),
        max_event_size,
        settings.severity.get(INPUT_CHECK, registry.get(INPUT_CHECK).severity),
    )
    metrics = metrics if metrics is not None else AuditMetrics()
    tally = Tally()
    for src in sources:
        tally.record(src)
    prog = Progress(sources, progress) if progress is not None else None
    n = cpus(jobs)
    if is_parallel(sources, n):
        outcomes = _feed_parallel(an, sources, n, metrics, tally, prog)
    else:
        outcomes = _feed_sequential(an, sources, stdin, metrics, tally, prog)
    outcomes = [*extra_outcomes, *outcomes]
    unused, expired = apply_exceptions(outcomes, config, baseline)
    checks_run = [i for i in settings.check_ids if i.startswith(("KF-AUDIT-", INPUT_CHECK))] + [
        i for i in extra_checks if i not in settings.check_ids
    ]
    return ScanResult(
        tool_version=__version__,
        outcomes=outcomes,
        inputs=list(tally.records.values()),
        resources=[],
        checks_run=checks_run,
        unused_exceptions=unused,
        expired_exceptions=expired,
        duration_s=time.perf_counter() - t0,
        finished_at=time.time(),
        passed_omitted=tally.passed + extra_passed,
        extras={"audit": metrics.as_dict()},
    )
