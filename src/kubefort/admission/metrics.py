"""The webhook's Prometheus metrics (`GET /metrics`), in a registry of their own.

| metric | labels | what it counts |
|---|---|---|
| kubefort_admission_requests_total | operation, kind, verdict (allowed, denied, skipped), dry_run | AdmissionReviews answered |
| kubefort_admission_findings_total | check, mode (enforce, warn, audit) | findings reported, per mode they reached |
| kubefort_admission_suppressed_total | | failures suppressed by annotations or `.kubefort.yaml` exceptions |
| kubefort_admission_request_duration_seconds | | from the request's headers read to the answer written, waiting for the event loop included (histogram) |
| kubefort_admission_judge_duration_seconds | | of which the checks and the verdict (histogram) |
| kubefort_admission_bad_requests_total | reason | requests refused with a 4xx (not JSON, too large, not a review, wrong path or method) |
| kubefort_admission_errors_total | what | a review that could not be judged (`judge`, answered 500), one that waited past the API server's timeout before it could be judged (`expired`, answered 503 unjudged: overload), TLS reloads that failed, cache watches or reads that broke |
| kubefort_admission_tls_reloads_total | | certificates reloaded from disk |
| kubefort_admission_tls_certificate_expiry_timestamp_seconds | | the served certificate's notAfter |
| kubefort_admission_cache_synced | | 1 once the namespace cache has listed everything (what /readyz waits for) |
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_multiprocess(directory: str) -> None:
    """Count in files under `directory` (prometheus_client's multiprocess mode), so that the
    metrics of every worker of `admission serve --workers N` add up whichever worker answers
    /metrics. Called before any AdmissionMetrics is made; the workers inherit the setting."""
    from prometheus_client import values

    os.environ[MULTIPROC_ENV] = directory
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]  # chosen at import from the same variable


# the API server's default webhook timeout is 10 s; the interesting part is below 10 ms
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class AdmissionMetrics:
    def __init__(self) -> None:
        # set by use_multiprocess: /metrics then sums the files of every worker
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "kubefort_admission_requests",
            "AdmissionReviews answered, by operation, kind, verdict (allowed, denied, skipped) and dry run",
            ["operation", "kind", "verdict", "dry_run"],
            registry=r,
        )
        self.findings = Counter(
            "kubefort_admission_findings",
            "Findings reported at admission, by check and by the mode they reached (enforce, warn, audit)",
            ["check", "mode"],
            registry=r,
        )
        self.suppressed = Counter(
            "kubefort_admission_suppressed",
            "Failures suppressed by kubefort.io/ignore annotations or .kubefort.yaml exceptions",
            registry=r,
        )
        self.latency = Histogram(
            "kubefort_admission_request_duration_seconds",
            "Time to answer an AdmissionReview, from reading its body to writing the answer",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.judge_latency = Histogram(
            "kubefort_admission_judge_duration_seconds",
            "Time spent in the checks and the verdict of an AdmissionReview",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.bad_requests = Counter(
            "kubefort_admission_bad_requests",
            "Requests refused with a 4xx status, by reason",
            ["reason"],
            registry=r,
        )
        self.errors = Counter(
            "kubefort_admission_errors",
            "Internal errors: reviews that could not be judged, failed certificate reloads, broken cache watches",
            ["what"],
            registry=r,
        )
        self.tls_reloads = Counter(
            "kubefort_admission_tls_reloads", "TLS certificates reloaded from disk after a change", registry=r
        )
        self.tls_expiry = Gauge(
            "kubefort_admission_tls_certificate_expiry_timestamp_seconds",
            "notAfter of the certificate being served (Unix time)",
            registry=r,
            multiprocess_mode="max",
        )
        self.cache_synced = Gauge(
            "kubefort_admission_cache_synced",
            "1 once the namespace (and ServiceAccount) cache has listed everything; /readyz waits for it",
            registry=r,
            multiprocess_mode="livemin",  # with workers: 1 once every live worker's cache has synced
        )

    def certificate_loaded(self, expiry: float | None, *, reload: bool) -> None:
        if reload:
            self.tls_reloads.inc()
        if expiry is not None:
            self.tls_expiry.set(expiry)

    def render(self) -> bytes:
        if self.multiprocess_dir is not None:
            from prometheus_client.multiprocess import MultiProcessCollector

            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)

    def worker_gone(self, pid: int) -> None:
        """A worker exited: its live gauges no longer count."""
        if self.multiprocess_dir is not None:
            from prometheus_client.multiprocess import mark_process_dead

            mark_process_dead(pid, self.multiprocess_dir)  # type: ignore[no-untyped-call]
