"""Forwarding failed audit checks to an Alertmanager-compatible receiver (`--alertmanager-url`).

Alerts are POSTed as the Alertmanager API v2 takes them (`POST /api/v2/alerts`, a JSON array of
`{labels, annotations, startsAt}`; https://prometheus.io/docs/alerting/latest/clients/). Labels
identify an alert, so they are few and bounded: `alertname` (the check ID), `severity`, `user`
(who acted: the impersonated user when there is one) and `namespace` (absent for cluster-scoped
requests); annotations carry the rest (the message, the request, the auditID).

The forwarder never slows the analysis: alerts wait in a bounded queue for one sender thread that
sends them in batches; a full queue drops the new alert, a refused or failed POST drops its batch
(no retry: the finding is in the JSON lines output either way), each counted in
`kubefort_audit_serve_alerts_dropped_total{reason}`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import orjson

from kubefort.audit.serve_metrics import ServeMetrics
from kubefort.model import Outcome

log = logging.getLogger("kubefort.audit.serve")

ALERTS_PATH = "/api/v2/alerts"
MAX_BATCH = 200  # alerts per POST
POST_TIMEOUT = 5.0  # seconds, connect and read each


def alerts_url(base: str) -> str:
    """The alerts endpoint of an Alertmanager given by its base URL (`http://am:9093`, or a path
    prefix such as `https://host/alertmanager`); a URL already ending in /api/v2/alerts is kept."""
    base = base.rstrip("/")
    return base if base.endswith(ALERTS_PATH) else base + ALERTS_PATH


def alert_of(o: Outcome) -> dict[str, Any]:
    """The Alertmanager alert of one failed audit check."""
    ev = o.event or {}
    imp = ev.get("impersonatedUser") or {}
    user = imp.get("username") or (ev.get("user") or {}).get("username") or ""
    ref = ev.get("objectRef") or {}
    labels = {"alertname": o.check_id, "severity": o.severity.label, "user": user, "namespace": ref.get("namespace")}
    annotations = {
        "message": o.message,
        "auditID": ev.get("auditID"),
        "verb": ev.get("verb"),
        "requestURI": ev.get("requestURI"),
        "sourceIPs": ", ".join(ev.get("sourceIPs") or ()),
        "fingerprint": o.fingerprint,
    }
    alert: dict[str, Any] = {
        # Alertmanager treats an empty label as absent; leave them out
        "labels": {k: v for k, v in labels.items() if v},
        "annotations": {k: str(v) for k, v in annotations.items() if v},
    }
    if ev.get("stageTimestamp"):
        alert["startsAt"] = ev["stageTimestamp"]
    return alert


class AlertForwarder:
    """One sender thread, a bounded queue of alerts, batches of up to MAX_BATCH per POST."""

    def __init__(self, url: str, metrics: ServeMetrics, capacity: int = 10_000) -> None:
        import urllib3

        self.url = alerts_url(url)
        self.metrics = metrics
        self.capacity = capacity
        self.pending: deque[dict[str, Any]] = deque()
        self.cond = threading.Condition()
        self.closing = False
        self.pool = urllib3.PoolManager(num_pools=1, retries=False, timeout=urllib3.Timeout(POST_TIMEOUT, POST_TIMEOUT))
        self.thread = threading.Thread(target=self.run, name="kubefort-alerts", daemon=True)
        self.thread.start()

    def offer(self, o: Outcome) -> None:
        """Queue the alert of a failed check; drop it (counted) when the queue is full."""
        alert = alert_of(o)
        with self.cond:
            if len(self.pending) >= self.capacity:
                self.metrics.alerts_dropped.labels("queue-full").inc()
                return
            self.pending.append(alert)
            self.cond.notify()

    def run(self) -> None:
        while True:
            with self.cond:
                while not self.pending and not self.closing:
                    self.cond.wait()
                if not self.pending:
                    return
                n = min(len(self.pending), MAX_BATCH)
                batch = [self.pending.popleft() for _ in range(n)]
            self.send(batch)

    def send(self, batch: list[dict[str, Any]]) -> None:
        import urllib3

        try:
            resp = self.pool.request(
                "POST", self.url, body=orjson.dumps(batch), headers={"Content-Type": "application/json"}
            )
        except urllib3.exceptions.HTTPError as exc:
            self.metrics.alerts_dropped.labels("failed").inc(len(batch))
            log.warning("could not send %d alerts to %s: %s", len(batch), self.url, exc)
            return
        if 200 <= resp.status < 300:
            self.metrics.alerts_sent.inc(len(batch))
            return
        self.metrics.alerts_dropped.labels("failed").inc(len(batch))
        log.warning(
            "%s refused %d alerts: HTTP %d %s",
            self.url,
            len(batch),
            resp.status,
            resp.data[:200].decode(errors="replace"),
        )

    def close(self, deadline: float) -> None:
        """Send what is queued until the deadline (time.monotonic()); count the rest as dropped."""
        with self.cond:
            self.closing = True
            self.cond.notify()
        self.thread.join(max(0.0, deadline - time.monotonic()))
        with self.cond:
            left = len(self.pending)
            self.pending.clear()
        if left:
            self.metrics.alerts_dropped.labels("shutdown").inc(left)
            log.warning("%d alerts were not sent before shutdown", left)
