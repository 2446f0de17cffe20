"""`kubefort audit serve`: the API server's audit webhook backend, analysing events as they arrive.

The API server (`--audit-webhook-config-file`, k8s.io/apiserver/plugin/pkg/audit/webhook) POSTs
`audit.k8s.io/v1` `EventList`s to the receiver. The HTTP side (serve_http.py) only checks the
client, reads the body (bounded), parses it and hands the items to a `Receiver`; one worker
thread runs the audit checks on them in arrival order, writes findings as JSON lines and
forwards alerts. So the API server never waits for the analysis.

| module           | what it holds                                                        |
|------------------|----------------------------------------------------------------------|
| serve.py         | `Receiver`: the bounded queue, the worker, the findings output         |
| serve_http.py    | TLS, client authentication, the Starlette app, starting the server     |
| serve_metrics.py | the Prometheus metrics (`GET /metrics`)                                |
| serve_alerts.py  | forwarding failed checks to an Alertmanager                            |

**A full queue drops, and the reply is still 200.** The webhook backend retries every error,
whatever its status code (webhook.go `retryOnError`), with exponential backoff (10 s initial,
`--audit-webhook-initial-backoff`, x1.5, 5 tries: k8s.io/apiserver/pkg/util/webhook). In the
default batch mode each retried batch holds a sending goroutine for over a minute while the API
server's own 10,000-event buffer fills and then drops events anyway ("audit buffer queue
blocked", buffered.go); in `blocking` mode the API request that produced the events waits for
those retries, and in `blocking-strict` it fails. Refusing a batch because kubefort is busy would
therefore slow or fail the API server, or re-send the same batch four more times exactly when
kubefort is overloaded. So an EventList that does not fit the queue is dropped here, counted in
`kubefort_audit_serve_events_dropped_total{reason="queue-full"}` and logged; a malformed POST (not
something the API server sends) gets a 400.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from kubefort.audit.analyzer import AuditAnalyzer, AuditSettings
from kubefort.audit.event import AuditEvent, AuditEventError
from kubefort.audit.metrics import AuditMetrics
from kubefort.audit.read import AuditProblem
from kubefort.audit.read_formats import Unreadable, unwrap
from kubefort.audit.serve_alerts import AlertForwarder
from kubefort.audit.serve_metrics import ServeMetrics
from kubefort.audit.services import default_services
from kubefort.config import Config
from kubefort.drivers.audit import INPUT_CHECK, problem_outcome
from kubefort.engine.exceptions import apply_exceptions
from kubefort.model import Outcome, ScanResult, Status
from kubefort.registry import Registry, load_builtin_checks

log = logging.getLogger("kubefort.audit.serve")

# where a finding of the webhook stream is located: file `webhook`, line N for the N-th EventList
# accepted since the receiver started (the record's `event` says which request it is)
WEBHOOK_SOURCE = "webhook"
DEFAULT_QUEUE_SIZE = 10_000  # events; the API server's own webhook buffer holds 10,000 too
BASELINE_SAVE_SECONDS = 300.0  # how often `audit serve --usage-baseline` writes its file
LOG_EVERY = 10.0  # seconds between two warnings of one kind (the counters count every case)


@dataclass(slots=True)
class Batch:
    """One accepted EventList."""

    doc: dict[str, Any]  # the parsed EventList (kind and apiVersion checked)
    size: int  # its number of items
    received: float  # time.time() when its body was read
    seq: int  # 1-based number of the EventList since the receiver started


class BatchQueue:
    """EventLists waiting for the worker, bounded by the number of events they hold.

    `offer` never blocks: a batch that does not fit is refused (the caller counts it). `take`
    blocks until there is a batch, and returns None once the queue is closed and empty."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the queue must hold at least one event")
        self.capacity = capacity
        self.batches: deque[Batch] = deque()
        self.pending = 0  # events in the queued batches
        self.closed = False
        self.cond = threading.Condition()

    def offer(self, batch: Batch) -> bool:
        n = batch.size
        with self.cond:
            if self.closed or self.pending + n > self.capacity:
                return False
            self.batches.append(batch)
            self.pending += n
            self.cond.notify()
            return True

    def take(self) -> Batch | None:
        with self.cond:
            while not self.batches and not self.closed:
                self.cond.wait()
            if not self.batches:
                return None
            batch = self.batches.popleft()
            self.pending -= batch.size
            return batch

    def close(self) -> None:
        """Refuse new batches; `take` still returns the queued ones, then None."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def abort(self) -> int:
        """Close and discard what is queued; returns the number of events discarded."""
        with self.cond:
            n = self.pending
            self.batches.clear()
            self.pending = 0
            self.closed = True
            self.cond.notify_all()
            return n


class Throttled:
    """Log a warning of one kind at most every LOG_EVERY seconds, saying how many were held back."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}
        self.lock = threading.Lock()

    def warning(self, kind: str, msg: str, *args: object, exc_info: bool = False) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.last.get(kind, -LOG_EVERY) < LOG_EVERY:
                self.held[kind] = self.held.get(kind, 0) + 1
                return
            self.last[kind] = now
            held = self.held.pop(kind, 0)
        if held:
            msg += f" ({held} more like this since the last warning)"
        log.warning(msg, *args, exc_info=exc_info)


def finding_record(o: Outcome, registry: Registry) -> dict[str, Any]:
    """One finding as a JSON line: exactly an entry of the JSON report's `results[]` (built by
    the JSON reporter itself), with the event (`AuditEvent.summary()`)."""
    from kubefort import __version__
    from kubefort.reporters import json as json_report

    result = ScanResult(__version__, [o], [], [], [o.check_id])
    record: dict[str, Any] = json_report.build(result, registry)["results"][0]
    record.setdefault("event", o.event)
    return record


class Receiver:
    """The analysis side of `audit serve`: a bounded queue of EventLists and one worker thread
    that runs every event through one `AuditAnalyzer` in arrival order (stateful checks see the
    stream in order), writes the findings as JSON lines to `output` and forwards alerts."""

    def __init__(
        self,
        analyzer: AuditAnalyzer,
        output: BinaryIO,
        *,
        registry: Registry,
        config: Config | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        alertmanager_url: str | None = None,
        baseline_path: str | None = None,
        baseline_every: float = BASELINE_SAVE_SECONDS,
    ) -> None:
        self.analyzer = analyzer
        # the usage baseline's file (--usage-baseline): written every `baseline_every` seconds by
        # the worker, between two EventLists, and once more when the receiver stops
        self.baseline_path = baseline_path
        self.baseline_every = baseline_every
        self.baseline_saved = time.monotonic()
        self.output = output
        self.registry = registry
        self.config = config
        self.queue = BatchQueue(queue_size)
        self.worker = threading.Thread(target=self.run, name="kubefort-audit-worker", daemon=True)
        # the access metrics of `kubefort audit` (extras.audit), fed by the worker, read by /metrics
        self.access = AuditMetrics()
        self.access_lock = threading.Lock()
        self.metrics = ServeMetrics(
            queue_depth=lambda: self.queue.pending,
            worker_alive=lambda: 1.0 if self.worker.is_alive() else 0.0,
            access=self.access_snapshot,
        )
        observe = getattr(analyzer.services.baseline, "observe", None)  # a usage baseline learns from every event
        self.observe_baseline = observe if callable(observe) else None
        self.input_severity = (config.severity if config else {}).get(INPUT_CHECK, registry.get(INPUT_CHECK).severity)
        self.alerts = AlertForwarder(alertmanager_url, self.metrics) if alertmanager_url else None
        self.warn = Throttled()
        self.seq = 0
        self.seq_lock = threading.Lock()
        self.worker.start()

    @property
    def alive(self) -> bool:
        return self.worker.is_alive()

    def access_snapshot(self) -> dict[str, Any]:
        """The access metrics now (AuditMetrics.as_dict), consistent: taken between two EventLists."""
        with self.access_lock:
            self.access.evaluated = dict(self.analyzer.evaluated)
            return self.access.as_dict()

    # -- the HTTP side ---------------------------------------------------------------------------
    def accept(self, doc: dict[str, Any], size: int, received: float) -> bool:
        """Queue one EventList (`size` items); False (counted as dropped) when it does not fit."""
        with self.seq_lock:
            self.seq += 1
            seq = self.seq
        self.metrics.events_received.inc(size)
        self.metrics.batches.inc()
        if self.queue.offer(Batch(doc, size, received, seq)):
            return True
        self.metrics.events_dropped.labels("queue-full").inc(size)
        self.warn.warning(
            "queue-full",
            "the analysis queue is full (%d of %d events waiting): dropped an EventList of %d events; "
            "a slow --output or alert sink, or more events than one receiver analyses (raise --queue-size "
            "for bursts; see kubefort_audit_serve_analysis_latency_seconds)",
            self.queue.pending,
            self.queue.capacity,
            size,
        )
        return False

    # -- the worker ------------------------------------------------------------------------------
    def run(self) -> None:
        while (batch := self.queue.take()) is not None:
            try:
                self.analyse(batch)
                if self.baseline_path is not None and time.monotonic() - self.baseline_saved >= self.baseline_every:
                    self.save_baseline()
            except OSError as exc:
                self.metrics.worker_errors.inc()
                self.warn.warning("output", "cannot write the findings of EventList %d: %s", batch.seq, exc)
            except Exception:  # noqa: BLE001 - a bug must not stop the receiver (its traceback is logged, throttled)
                self.metrics.worker_errors.inc()
                self.warn.warning("bug", "the analysis of EventList %d failed", batch.seq, exc_info=True)

    def analyse(self, batch: Batch) -> None:
        """Every item of one EventList, in order: read it (items that are no readable audit event
        become KF-INPUT-006 not-evaluated findings, as in a log file), run the checks, feed the
        access metrics; then write the findings and count."""
        m = self.metrics
        analyzer = self.analyzer
        judged_before = analyzer.judged_events
        now = time.time
        outcomes: list[Outcome] = []
        unreadable = 0
        with self.access_lock:
            for found in unwrap(batch.doc):
                if isinstance(found, Unreadable):
                    unreadable += 1
                    outcomes.append(self.problem(batch, found.kind, found.reason, found.item))
                    continue
                raw, i = found
                try:
                    ev = AuditEvent.read(raw, WEBHOOK_SOURCE, batch.seq, i, batch.received)
                except AuditEventError as exc:
                    unreadable += 1
                    outcomes.append(self.problem(batch, "event", f"audit event items[{i}] {exc.reason}", i))
                    continue
                if self.observe_baseline is not None:
                    self.observe_baseline(ev)
                found_now = analyzer.feed(ev)
                self.access.observe(ev, analyzer.last_judged)
                t = ev.time
                if t is not None:
                    m.time_to_detect.observe(max(0.0, now() - t))
                for o in found_now:
                    self.access.finding(o)
                outcomes.extend(found_now)
        if outcomes:
            self.output.write(b"".join(self.finding_lines(outcomes)))
            self.output.flush()
        # counted once the findings are written: a reader of the metrics then finds them in the output
        m.events_analysed.inc(batch.size - unreadable)
        m.events_unreadable.inc(unreadable)
        m.events_judged.inc(analyzer.judged_events - judged_before)
        m.analysis_latency.observe(max(0.0, now() - batch.received))

    def problem(self, batch: Batch, kind: str, reason: str, item: int | None) -> Outcome:
        self.warn.warning("unreadable", "EventList %d holds an item that is no audit event: %s", batch.seq, reason)
        return problem_outcome(AuditProblem(WEBHOOK_SOURCE, batch.seq, kind, reason, item), self.input_severity)

    def finding_lines(self, outcomes: list[Outcome]) -> list[bytes]:
        """Apply `.kubefort.yaml` exceptions, count, alert on failures, render the JSON lines."""
        if self.config is not None and self.config.exceptions:
            apply_exceptions(outcomes, self.config, None)
        lines = []
        for o in outcomes:
            self.metrics.findings.labels(o.check_id, o.severity.label, o.status.value).inc()
            if self.alerts is not None and o.status is Status.FAILED:
                self.alerts.offer(o)
            lines.append(orjson.dumps(finding_record(o, self.registry), option=orjson.OPT_APPEND_NEWLINE))
        return lines

    def save_baseline(self) -> None:
        """Write the usage baseline to its file (atomically), between two EventLists; a failure
        is logged (throttled) and counted, and retried at the next interval."""
        baseline = self.analyzer.services.baseline
        if self.baseline_path is None or baseline is None:
            return
        self.baseline_saved = time.monotonic()
        try:
            with self.access_lock:
                baseline.save(self.baseline_path)
        except OSError as exc:
            self.metrics.worker_errors.inc()
            self.warn.warning("baseline", "cannot write the usage baseline %s: %s", self.baseline_path, exc)

    def drain(self, timeout: float) -> bool:
        """Stop taking EventLists and analyse what is queued, for at most `timeout` seconds; what
        is still queued then is counted as dropped (reason shutdown). Flushes the output and the
        alerts. True when everything queued was analysed."""
        deadline = time.monotonic() + timeout
        self.queue.close()
        self.worker.join(max(0.0, deadline - time.monotonic()))
        done = not self.worker.is_alive()
        if not done:
            left = self.queue.abort()
            self.metrics.events_dropped.labels("shutdown").inc(left)
            log.warning("shutdown: %d queued events were not analysed within %.0f s", left, timeout)
        self.save_baseline()  # what was learned until the stop (consistent: under the analysis lock)
        try:
            self.output.flush()
        except OSError as exc:
            log.warning("shutdown: could not flush the findings output: %s", exc)
        if self.alerts is not None:
            self.alerts.close(max(deadline, time.monotonic() + 1.0))
        return done


def build_receiver(
    output: BinaryIO,
    *,
    check_ids: tuple[str, ...] | None = None,
    config: Config | None = None,
    registry: Registry | None = None,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    alertmanager_url: str | None = None,
    kubernetes_version: str | None = None,
    rbac_objects: list[dict[str, Any]] | None = None,
    usage_baseline: Any = None,
    baseline_path: str | None = None,
) -> Receiver:
    """A Receiver running `check_ids` (default: every audit check) with the config's options,
    severities and exceptions; `kubernetes_version` picks the default RBAC the checks judge
    bindings with (ValueError for a version kubefort does not ship), `rbac_objects` are the
    cluster's own roles and bindings (`kubefort audit --rbac`); `usage_baseline` (a
    UsageBaseline) is what first-seen checks compare with, learning as configured, written to
    `baseline_path` as the receiver runs and when it stops."""
    reg = registry if registry is not None else load_builtin_checks()
    ids = check_ids if check_ids is not None else tuple(m.id for m in reg if m.target == "audit")
    settings = AuditSettings(
        ids,
        options=dict(config.options) if config else {},
        severity=dict(config.severity) if config else {},
    )
    services = default_services(reg, kubernetes_version, rbac_objects)
    if usage_baseline is not None:
        services.baseline = usage_baseline
    analyzer = AuditAnalyzer(settings, reg, services=services)
    return Receiver(
        analyzer,
        output,
        registry=reg,
        config=config,
        queue_size=queue_size,
        alertmanager_url=alertmanager_url,
        baseline_path=baseline_path,
    )
