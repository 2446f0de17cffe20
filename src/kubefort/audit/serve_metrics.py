"""The Prometheus metrics of `kubefort audit serve` (`GET /metrics`), one registry per receiver.

Names start with `kubefort_audit_serve_`; docs/audit.md lists them. Label values are bounded:
reasons are the fixed set in `BAD_REQUEST_REASONS` / `DROP_REASONS`, checks are the selected
KF-AUDIT IDs, severities the five levels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

PREFIX = "kubefort_audit_serve"

# why a POST got a 4xx (docs/audit.md explains each)
BAD_REQUEST_REASONS = (
    "unauthenticated",  # no valid client certificate and no valid bearer token
    "too-large",  # body over --max-body-size (Content-Length or as read)
    "not-json",  # the body is not JSON
    "truncated",  # the JSON ends before the document does (a cut-off body)
    "not-an-eventlist",  # JSON, but not an object with kind EventList and a list of items
    "unsupported-version",  # an EventList of an apiVersion other than audit.k8s.io/v1 or v1beta1
    "disconnected",  # the client went away before sending the whole body (no reply possible)
)
# why accepted events were not analysed
DROP_REASONS = (
    "queue-full",  # the analysis queue was full when the EventList arrived (reply was still 200)
    "shutdown",  # still queued when the drain time after SIGTERM ran out
)

# seconds: from arrival of an EventList to the end of its analysis (queue wait included)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# seconds: event stageTimestamp to its analysis; the API server batches for up to 30 s by default
DETECT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)


class AccessCollector(Collector):
    """The access metrics of `kubefort audit` (kubefort/audit/metrics.py: access violations,
    Secret requests, requests and findings per check, time to detect) as the Prometheus report
    shows them (`kubefort_audit_*` gauges, reporters/prometheus.py), computed at each scrape."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []  # names vary with the data (no time-to-detect series before the first event)

    def collect(self) -> Iterator[Metric]:
        from kubefort.reporters.prometheus import audit_gauges

        reg = CollectorRegistry(auto_describe=False)
        audit_gauges(reg, self.snapshot())
        yield from reg.collect()


class ServeMetrics:
    """The receiver's counters, gauges and histograms, in their own registry (several receivers
    can run in one process, as they do in tests)."""

    def __init__(
        self,
        queue_depth: Callable[[], float],
        worker_alive: Callable[[], float],
        access: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        if access is not None:
            r.register(AccessCollector(access))
        p = PREFIX
        self.events_received = Counter(
            f"{p}_events_received", "Audit events received in accepted EventLists.", registry=r
        )
        self.events_analysed = Counter(f"{p}_events_analysed", "Audit events analysed by the audit checks.", registry=r)
        self.events_judged = Counter(
            f"{p}_events_judged",
            "Events at which a request was judged (each request once, at its first response stage).",
            registry=r,
        )
        self.events_dropped = Counter(
            f"{p}_events_dropped", "Accepted audit events that were not analysed, by reason.", ["reason"], registry=r
        )
        self.events_unreadable = Counter(
            f"{p}_events_unreadable",
            "EventList items that are not audit events kubefort can read (wrong field types).",
            registry=r,
        )
        self.batches = Counter(f"{p}_batches", "EventList POSTs accepted (replied 200).", registry=r)
        self.bad_requests = Counter(
            f"{p}_bad_requests", "POSTs refused (4xx) or cut off, by reason.", ["reason"], registry=r
        )
        self.findings = Counter(
            f"{p}_findings",
            "Findings written, by check, severity and outcome (failed, suppressed, not-evaluated).",
            ["check_id", "severity", "outcome"],
            registry=r,
        )
        self.worker_errors = Counter(
            f"{p}_worker_errors", "EventLists whose analysis or output failed (logged).", registry=r
        )
        self.alerts_sent = Counter(f"{p}_alerts_sent", "Alerts accepted by the Alertmanager.", registry=r)
        self.alerts_dropped = Counter(
            f"{p}_alerts_dropped",
            "Alerts not delivered, by reason (queue-full, failed: the Alertmanager refused or was unreachable, shutdown).",
            ["reason"],
            registry=r,
        )
        self.analysis_latency = Histogram(
            f"{p}_analysis_latency_seconds",
            "Seconds from the arrival of an EventList to the end of its analysis (queue wait included).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.time_to_detect = Histogram(
            f"{p}_time_to_detect_seconds",
            "Seconds from an event's stageTimestamp to its analysis.",
            buckets=DETECT_BUCKETS,
            registry=r,
        )
        depth = Gauge(f"{p}_queue_depth", "Audit events waiting for analysis.", registry=r)
        depth.set_function(queue_depth)
        alive = Gauge(f"{p}_worker_alive", "1 while the analysis worker runs.", registry=r)
        alive.set_function(worker_alive)
        # every labelled series exists from the start (a rate() of a series that appears late misses its first step)
        for reason in BAD_REQUEST_REASONS:
            self.bad_requests.labels(reason)
        for reason in DROP_REASONS:
            self.events_dropped.labels(reason)
        for reason in ("queue-full", "failed", "shutdown"):
            self.alerts_dropped.labels(reason)

    def render(self) -> bytes:
        """The text exposition format of everything in the registry."""
        return generate_latest(self.registry)
