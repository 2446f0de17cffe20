"""The webhook's HTTPS server: a bare ASGI app on uvicorn (HTTP/1.1 over TLS).

Routes: `POST /validate` (an `admission.k8s.io/v1` AdmissionReview), `GET /healthz` (the process
answers), `GET /readyz` (the namespace cache has synced), `GET /metrics` (Prometheus text).

The stack was chosen by measuring (bench/bench_admission_serve.py: CPU per review at a rate the
server sustains): the checks take most of each review's CPU and run in the event loop (they are
CPU-bound: a thread would only add a hand-off under the GIL), so what the stack adds per request
is what matters. Four routes need no framework, and Starlette's request and response objects
cost about a fifth more CPU per review than this module; uvicorn's httptools parser and uvloop
take about a quarter off h11 and asyncio, so they are used when installed (fastest_stack). One
process: the checks hold the GIL, and a second worker would need a second cache and a shared
metrics directory for what a second replica gives anyway.

Robustness: a body larger than `max_body` is refused (400) as soon as its length is known, before
it is read; a body that is not an AdmissionReview gets 400, an unknown path 404, a wrong method
405, each counted by reason in `kubefort_admission_bad_requests_total`. A review that could not
be judged (a bug) is answered 500 and counted: the API server then applies the webhook's
failurePolicy. A review that waited for an overloaded server longer than the API server waits for
it is answered 503 unjudged and counted (`expired`). Nothing a client sends ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from kubefort.admission.cache import Namespaces
from kubefort.admission.judge import Judge, Verdict
from kubefort.admission.metrics import AdmissionMetrics
from kubefort.admission.render import admission_response
from kubefort.admission.review import Review, ReviewError, parse_review, response_body
from kubefort.admission.tls import ReloadingCertificate

log = logging.getLogger("kubefort.admission")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# keep idle connections longer than the API server's client does (Go's IdleConnTimeout, 90 s):
# the client then closes them, and never sends a review on a connection the server just closed
KEEP_ALIVE_SECONDS = 120
# on SIGTERM: finish the reviews in flight (idle connections are dropped at once, see
# admission_protocol), then exit; at the latest after this many seconds (the chart's grace period is
# 30 s, its preStop 5 s)
SHUTDOWN_SECONDS = 10
# connections and requests in progress before new requests are answered 503 at once (uvicorn's
# limit_concurrency): far above what API servers open in normal operation, low enough that an
# overloaded server sheds reviews instead of holding thousands of connections the API server has
# already given up on
MAX_CONCURRENCY = 1024
MAX_TIMEOUT = 30.0  # the API server's longest timeoutSeconds
ARRIVED = "kubefort.arrived"  # scope key: perf_counter() when the request's headers were read
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


class TooLarge(Exception):
    pass


class Disconnected(Exception):
    pass


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers") or ():
        if k == name:
            return bytes(v)
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body; TooLarge as soon as it is known to exceed `limit` (unread past it)."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class AdmissionApp:
    """The ASGI application."""

    def __init__(self, judge: Judge, cache: Namespaces, metrics: AdmissionMetrics, max_body: int) -> None:
        self.judge = judge
        self.cache = cache
        self.metrics = metrics
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = scope.get(ARRIVED) or time.perf_counter()
        path, method = scope.get("path", ""), scope.get("method", "")
        if path == "/validate":
            if method != "POST":
                answer = self.bad(405, "method", f"{method} /validate: the webhook takes POST")
            else:
                answer = await self.validate(scope, receive, started)
                if answer.status == 200:
                    await _send(send, answer)
                    self.metrics.latency.observe(time.perf_counter() - started)
                    return
        elif path in ("/healthz", "/readyz", "/metrics") and method in ("GET", "HEAD"):
            answer = self.probe(path)
        elif path in ("/healthz", "/readyz", "/metrics"):
            answer = self.bad(405, "method", f"{method} {path}: use GET")
        else:
            answer = self.bad(404, "not-found", f"no route {path} (POST /validate, GET /healthz /readyz /metrics)")
        await _send(send, answer)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def bad(self, status: int, reason: str, message: str, *, close: bool = False) -> Answer:
        self.metrics.bad_requests.labels(reason).inc()
        headers = _TEXT + ([(b"connection", b"close")] if close else [])
        return Answer(status, f"kubefort admission: {message}\n".encode(), headers)

    def probe(self, path: str) -> Answer:
        if path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST

            return Answer(200, self.metrics.render(), [(b"content-type", CONTENT_TYPE_LATEST.encode())])
        if path == "/readyz" and not self.cache.ready():
            return Answer(503, b"the namespace cache has not synced yet\n", _TEXT)
        return Answer(200, b"ok\n", _TEXT)

    async def validate(self, scope: Scope, receive: Receive, arrived: float) -> Answer:
        try:
            body = await read_body(scope, receive, self.max_body)
        except TooLarge:
            return self.bad(400, "too-large", f"the body is larger than {self.max_body} bytes", close=True)
        except Disconnected:
            self.metrics.bad_requests.labels("disconnected").inc()
            return Answer(400, b"", _TEXT)
        try:
            review = parse_review(body)
        except ReviewError as exc:
            return self.bad(400, exc.reason, exc.message)
        waited = time.perf_counter() - arrived
        if waited > request_timeout(scope):
            # the API server has given up on it (and applied the failurePolicy): judging it
            # would only delay the reviews still waited for. Seen only when overloaded.
            self.metrics.errors.labels("expired").inc()
            return Answer(
                503, f"kubefort admission: the review waited {waited:.1f} s, past its timeout\n".encode(), _TEXT
            )
        try:
            labels = await self.labels(review)
            t0 = time.perf_counter()
            verdict = self.judge.judge(review, labels, self.cache.namespace, self.cache.account, self.cache.rbac)
            response = admission_response(review, verdict)
            self.metrics.judge_latency.observe(time.perf_counter() - t0)
        except Exception:  # a bug must not end the server: 500, and failurePolicy decides
            log.exception("could not judge %s %s/%s", review.kind, review.namespace or "", review.object_name())
            self.metrics.errors.labels("judge").inc()
            return Answer(500, b"kubefort admission: internal error (see the server log)\n", _TEXT)
        self.count(review, verdict)
        return Answer(200, response_body(review.uid, response), _JSON)

    async def labels(self, review: Review) -> Any:
        """The labels of the request's namespace (None: unknown), reading it once when the
        watch has not delivered it yet."""
        ns = review.namespace
        if ns is None:
            return None
        labels = self.cache.labels(ns)
        if labels is None and self.cache.live and self.cache.ready():
            obj = await asyncio.to_thread(self.cache.fetch_namespace, ns)
            labels = self.cache.labels(ns) if obj is not None else None
        return labels

    def count(self, review: Review, verdict: Verdict) -> None:
        m = self.metrics
        outcome = "skipped" if verdict.skipped else "allowed" if verdict.allowed else "denied"
        m.requests.labels(review.operation, review.kind, outcome, "true" if review.dry_run else "false").inc()
        for f in verdict.findings:
            for mode in f.modes:
                m.findings.labels(f.check_id, mode).inc()
        if verdict.suppressed:
            m.suppressed.inc(verdict.suppressed)
        if not verdict.allowed:
            log.info(
                "denied %s %s %s/%s: %s",
                review.operation,
                review.kind,
                review.namespace or "",
                review.object_name(),
                ", ".join(f.check_id for f in verdict.by_mode("enforce")),
            )


async def _send(send: Send, answer: Answer) -> None:
    headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts (port 0: any free port). Made with
    protocol IPPROTO_TCP, not 0 (as `socket.create_server` does): asyncio sets TCP_NODELAY only on
    connections of such a socket, and without it a reply written in two parts (headers, then
    body) waits for the client's delayed ACK (40 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def fastest_stack() -> tuple[str, str]:
    """(HTTP parser, event loop): httptools and uvloop when they are installed (the C parser and
    libuv loop take about a quarter off the CPU of a review, bench/bench_admission_serve.py),
    else uvicorn's pure-Python h11 and asyncio."""
    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    return http, loop


def admission_protocol(http: str) -> type[Any]:
    """uvicorn's protocol for `http` ("h11" or "httptools") with two changes:

    * each request's scope gets the time its headers were read (ARRIVED), before its task runs:
      the latency metric then counts the time a review waited for the event loop, and a review
      that waited longer than the API server waits for it is not judged (see `expired`);
    * at shutdown an idle connection is dropped instead of closed: a TLS close waits (up to 30 s)
      for the client's close_notify, which a client holding an idle keep-alive connection does
      not send until it next reads, so SIGTERM would wait for it. Nothing is lost: the
      connection carries no request."""
    base: type[Any]
    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    elif http == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    else:
        raise ValueError(f"unknown HTTP implementation {http!r} (h11 or httptools)")

    class AdmissionProtocol(base):  # type: ignore[misc]  # a uvicorn protocol class chosen above
        def data_received(self, data: bytes) -> None:
            now = time.perf_counter()
            before = self.cycle
            super().data_received(data)
            if self.cycle is not None and self.cycle is not before:
                self.cycle.scope[ARRIVED] = now  # the task has not run yet

        def shutdown(self) -> None:
            idle = self.cycle is None or self.cycle.response_complete
            super().shutdown()
            if idle:
                self.transport.abort()

    return AdmissionProtocol


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def request_timeout(scope: Scope) -> float:
    """How long the API server waits for this review: the `timeout` query parameter it adds to
    every webhook call (a Go duration, "5s"), else the longest it ever waits (30 s)."""
    query = scope.get("query_string") or b""
    for part in bytes(query).split(b"&"):
        key, _, value = part.partition(b"=")
        if key == b"timeout":
            text = value.decode("ascii", "replace")
            parts = _DURATION.findall(text)
            if parts and "".join(n + u for n, u in parts) == text:
                return sum(float(n) * _UNIT[u] for n, u in parts)
    return MAX_TIMEOUT


def make_server(app: Any, cert: ReloadingCertificate, *, http: str | None = None, loop: str | None = None) -> Any:
    """The uvicorn server (`run(sockets=[sock])` serves until SIGTERM or SIGINT; `should_exit`
    stops it; uvicorn finishes the open requests first). `http`/`loop`: fastest_stack() unless given."""
    import uvicorn

    best_http, best_loop = fastest_stack()
    config = uvicorn.Config(
        app,
        http=admission_protocol(http or best_http),
        loop=loop or best_loop,
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        limit_concurrency=MAX_CONCURRENCY,
        ssl_context_factory=lambda _config, _default: cert.context,
    )
    return uvicorn.Server(config)


def run(app: AdmissionApp, cert: ReloadingCertificate, sock: socket.socket) -> None:
    """Serve on `sock` until SIGTERM or SIGINT."""
    make_server(app, cert).run(sockets=[sock])


RESTART_DELAY = 1.0  # seconds before a worker that died is started again
EARLY = 10.0  # a worker that fails this soon after it started failed to start
GIVE_UP = 5  # failures to start in a row that stop the server
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def run_workers(workers: int, serve: Callable[[], None], *, on_exit: Callable[[int], None] = lambda pid: None) -> bool:
    """`serve` (one server on a socket bound before, until SIGTERM) in `workers` forked
    processes that share the socket (the kernel hands each connection to one of them), until
    SIGTERM or SIGINT, which is passed on to every worker; each then finishes its open requests.

    A worker that ends otherwise (a crash, the OOM killer) is started again after RESTART_DELAY
    seconds; after GIVE_UP workers in a row failed within EARLY seconds of starting (a
    certificate or cluster that cannot be used) the others are stopped and the result is False.
    `on_exit` hears of each worker's pid when it ends. Fork before any thread starts: `serve`
    makes what holds threads (the watch cache) in the worker."""
    log = logging.getLogger("kubefort.admission")
    children: dict[int, tuple[int, float]] = {}  # pid -> (worker number, when it started)
    stopping = False
    early_failures = 0

    def spawn(number: int) -> None:
        started = time.monotonic()
        parent = os.getpid()
        # a signal between the fork and the worker's own handlers would reach the parent's
        # handler in the worker (and be lost): blocked across the fork, delivered after it
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:  # the worker: default signal handling, then serve until told to stop
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
                _stop_with(parent)
                serve()
            except SystemExit as exc:  # uvicorn exits 1 when it cannot start
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:  # a worker reports and ends; the parent starts another
                log.exception("worker %d failed", number)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = (number, started)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        for n in range(workers):
            spawn(n)
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            found = children.pop(pid, None)
            on_exit(pid)
            if found is None or stopping:
                continue
            number, started = found
            early = time.monotonic() - started < EARLY and status != 0
            early_failures = early_failures + 1 if early else 0
            if early_failures >= GIVE_UP:
                log.error("worker %d (pid %d) failed to start %d times in a row: stopping", number, pid, GIVE_UP)
                stop(signal.SIGTERM, None)
                continue
            log.warning("worker %d (pid %d) ended (%s): starting it again", number, pid, _wait_status(status))
            time.sleep(RESTART_DELAY)
            if not stopping:
                spawn(number)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return early_failures < GIVE_UP


def _stop_with(parent: int) -> None:
    """In a worker: stop as SIGTERM does once `parent` is gone (killed with SIGKILL, it could not
    pass the signal on), so that no worker outlives the server."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="kubefort-parent-watch", daemon=True).start()


def _wait_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
