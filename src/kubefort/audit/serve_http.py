"""The HTTPS side of `kubefort audit serve`: TLS, client authentication, the app, the server.

Routes: `POST /` takes an `audit.k8s.io/v1` (or `v1beta1`) `EventList` as the API server's webhook
backend sends it; `GET /healthz` is 200 while the analysis worker runs; `GET /metrics` is the
Prometheus text format. `/healthz` and `/metrics` need no credentials (they hold counts, and the
principal names of the access metrics: keep the port off untrusted networks).

Client authentication, as the webhook kubeconfig configures the API server's client
(`users[].user.client-certificate`/`client-key`, or `token`/`tokenFile`):
* `--client-ca-file`: the TLS handshake asks for a client certificate and verifies one that is
  presented against this CA; a POST is accepted when its connection presented one.
* `--token-file`: a POST with `Authorization: Bearer <the token>` is accepted (compared in constant
  time).
* Both: either is enough. Neither: every POST is accepted, and the receiver warns at start.
A POST that is not authenticated gets 401 before its body is read.

From a test or another program (a free port, the receiver in a thread of this process):

    receiver = build_receiver(open("findings.jsonl", "ab"))          # kubefort.audit.serve
    running = start_in_thread(ServeSettings(cert, key, host="127.0.0.1", port=0, client_ca_file=ca), receiver)
    ...  # the API server's webhook kubeconfig names running.url
    running.stop()  # as SIGTERM: stop accepting, drain the queue, flush
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from kubefort.audit.event import API_VERSIONS
from kubefort.audit.serve import Receiver

log = logging.getLogger("kubefort.audit.serve")

DEFAULT_PORT = 8443
# The API server's --audit-webhook-truncate-max-batch-size defaults to 10 MB (10,485,760 bytes)
# and a batch may exceed it by a few hundred bytes (k8s.io/apiserver/pkg/server/options/audit.go):
# 12 MiB takes every batch of an API server that truncates. Without truncation batches have no
# size limit (up to 400 events with their request and response bodies).
DEFAULT_MAX_BODY = 12 * 1024 * 1024
DEFAULT_DRAIN_TIMEOUT = 15.0  # seconds after SIGTERM to analyse what is queued
# ECDHE with AEAD ciphers for TLS 1.2 (TLS 1.3 suites are always on); uvicorn's default ("TLSv1")
# would leave out every GCM suite of TLS 1.2
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
Peer = tuple[str, int]
SWITCH_INTERVAL = 0.001  # seconds (sys.setswitchinterval) in the receiver's own process


class ServeError(Exception):
    """A setting the receiver cannot start with (unreadable certificate, key, CA or token)."""


@dataclass(frozen=True, slots=True)
class ServeSettings:
    tls_cert_file: str
    tls_private_key_file: str
    host: str = "0.0.0.0"  # noqa: S104 - the API server reaches the receiver over the network; TLS and client auth protect it
    port: int = DEFAULT_PORT  # 0: any free port (the URL says which)
    client_ca_file: str | None = None
    token_file: str | None = None
    max_body_size: int = DEFAULT_MAX_BODY
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT


# -- TLS and authentication ------------------------------------------------------------------------
def check_tls(settings: ServeSettings) -> None:
    """Load the certificate, key and client CA once, so a bad file is one clear error at start."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(settings.tls_cert_file, settings.tls_private_key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(
            f"cannot use --tls-cert-file {settings.tls_cert_file} with --tls-private-key-file "
            f"{settings.tls_private_key_file}: {exc}"
        ) from None
    if settings.client_ca_file:
        try:
            ctx.load_verify_locations(settings.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ServeError(f"cannot use --client-ca-file {settings.client_ca_file}: {exc}") from None


def read_token(path: str) -> bytes:
    """The bearer token in `path` (surrounding whitespace and the final newline removed)."""
    try:
        with open(path, "rb") as f:
            token = f.read().strip()
    except OSError as exc:
        raise ServeError(f"cannot read --token-file {path}: {exc.strerror}") from None
    if not token:
        raise ServeError(f"--token-file {path} is empty")
    if b"\n" in token:
        raise ServeError(f"--token-file {path} holds more than one line: give the token alone")
    return token


def auth_warning(settings: ServeSettings) -> str | None:
    if settings.client_ca_file or settings.token_file:
        return None
    return (
        "no --client-ca-file and no --token-file: this receiver accepts audit events from ANY client that "
        f"reaches port {settings.port}, so anyone there can hide an attack in a flood or plant false findings. "
        "Give the API server a client certificate (--client-ca-file) or a bearer token (--token-file) in its "
        "--audit-webhook-config-file."
    )


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


class Authenticator:
    """Who sent a POST: a verified client certificate of its connection, or the bearer token."""

    def __init__(self, token: bytes | None, client_certs: bool) -> None:
        self.token_digest = _digest(token) if token is not None else None
        self.client_certs = client_certs
        self.peers: dict[Peer, str] = {}  # live TLS connections with a verified client certificate -> its subject

    @property
    def open(self) -> bool:
        return self.token_digest is None and not self.client_certs

    def identity(self, request: Request) -> str | None:
        """How the request authenticated ("certificate CN=...", "bearer token", "anonymous"), or
        None when it did not."""
        if self.open:
            return "anonymous"
        client = request.scope.get("client")
        if self.client_certs and client is not None:
            subject = self.peers.get((client[0], client[1]))
            if subject is not None:
                return f"certificate {subject}"
        if self.token_digest is not None:
            scheme, _, credential = request.headers.get("authorization", "").partition(" ")
            presented = _digest(credential.strip().encode())
            # compare digests: constant time, and the token's length does not leak either
            if scheme.lower() == "bearer" and hmac.compare_digest(presented, self.token_digest):
                return "bearer token"
        return None

    def protocol(self) -> type[H11Protocol]:
        """uvicorn's HTTP/1.1 protocol, recording the verified client certificate of each TLS
        connection (uvicorn does not pass it to the app; the handshake has completed when
        `connection_made` runs, and with CERT_OPTIONAL a presented certificate was verified),
        and dropping idle connections at shutdown."""
        peers = self.peers

        class ClientCertProtocol(H11Protocol):
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                cert = transport.get_extra_info("peercert")
                if cert and self.client is not None:
                    peers[(self.client[0], self.client[1])] = _subject(cert)

            def connection_lost(self, exc: Exception | None) -> None:
                if self.client is not None:
                    peers.pop((self.client[0], self.client[1]), None)
                super().connection_lost(exc)

            def shutdown(self) -> None:
                # at shutdown an idle keep-alive connection is dropped, not closed: a TLS close
                # waits for the client's close_notify, which an idle client sends only when it
                # next reads, and uvicorn would wait for it (timeout_graceful_shutdown)
                idle = self.cycle is None or self.cycle.response_complete
                super().shutdown()
                if idle:
                    self.transport.abort()

        return ClientCertProtocol


def _subject(cert: dict[str, Any]) -> str:
    parts = [f"{'CN' if k == 'commonName' else k}={v}" for rdn in cert.get("subject", ()) for k, v in rdn]
    return ",".join(parts) or "(no subject)"


# -- the app ---------------------------------------------------------------------------------------
def _bad(receiver: Receiver, status: int, reason: str, message: str, *, close: bool = False) -> Response:
    receiver.metrics.bad_requests.labels(reason).inc()
    receiver.warn.warning(f"bad-{reason}", "refused a POST (%s): %s", reason, message)
    headers = {"Connection": "close"} if close else None
    return PlainTextResponse(f"kubefort audit serve: {message}\n", status_code=status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is longer than `limit` (the rest is never read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _short(value: object, limit: int = 60) -> str:
    """A value the client sent, for messages and logs: its repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_event_list(body: bytes) -> tuple[dict[str, Any] | None, int, str, str]:
    """(the EventList, its number of items, "", "") or (None, 0, reason, message) for a body
    that is not one. Its items are judged one by one later (a bad item is a finding, not a 400)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not body.strip():
            return None, 0, "not-json", "the body is empty: expected an audit.k8s.io/v1 EventList"
        if exc.pos >= len(body.rstrip()):
            return None, 0, "truncated", f"the JSON ends early (after {len(body)} bytes): the body was cut off"
        return None, 0, "not-json", f"the body is not JSON: {exc}"
    if type(doc) is not dict:
        return None, 0, "not-an-eventlist", f"the body is a JSON {type(doc).__name__}, expected an EventList object"
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if kind != "EventList":
        return (
            None,
            0,
            "not-an-eventlist",
            f"kind is {_short(kind)}, expected 'EventList' (what the audit webhook sends)",
        )
    if api_version not in API_VERSIONS:
        return (
            None,
            0,
            "unsupported-version",
            f"apiVersion is {_short(api_version)}, expected one of {', '.join(sorted(API_VERSIONS))}",
        )
    items = doc.get("items")
    if items is None:
        return doc, 0, "", ""
    if type(items) is not list:
        return None, 0, "not-an-eventlist", f"items is a JSON {type(items).__name__}, expected a list of events"
    return doc, len(items), "", ""


def make_app(receiver: Receiver, auth: Authenticator, settings: ServeSettings) -> Starlette:
    async def post_events(request: Request) -> Response:
        if auth.identity(request) is None:
            return _bad(
                receiver,
                401,
                "unauthenticated",
                "no valid client certificate or bearer token (see --client-ca-file/--token-file)",
                close=True,
            )
        try:
            body = await read_body(request, settings.max_body_size)
        except ClientDisconnect:
            receiver.metrics.bad_requests.labels("disconnected").inc()
            return Response(status_code=400)
        if body is None:
            return _bad(
                receiver,
                400,
                "too-large",
                f"the body is larger than --max-body-size ({settings.max_body_size} bytes)",
                close=True,
            )
        received = time.time()
        doc, size, reason, message = parse_event_list(body)
        if doc is None:
            return _bad(receiver, 400, reason, message)
        receiver.accept(doc, size, received)
        return Response(status_code=200)

    async def healthz(request: Request) -> Response:
        if receiver.alive:
            return PlainTextResponse("ok\n")
        return PlainTextResponse("the analysis worker is not running\n", status_code=503)

    async def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        # rendered off the event loop: it waits for the EventList being analysed (consistent access metrics)
        return Response(await asyncio.to_thread(receiver.metrics.render), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # uvicorn has stopped accepting connections and finished the open requests (SIGTERM,
        # SIGINT or stop()): analyse what is queued, bounded by the drain timeout
        done = await asyncio.to_thread(receiver.drain, settings.drain_timeout)
        log.info("stopped: every queued event was analysed" if done else "stopped before the queue was empty")

    return Starlette(
        routes=[
            Route("/", post_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


# -- running it ------------------------------------------------------------------------------------
def bind(host: str, port: int) -> socket.socket:
    """The listening socket (bound here so that port 0 gives a known free port). Made with protocol
    IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections of such a socket, and without
    it a reply written in two parts (headers, then body) waits for the client's delayed ACK (40 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - naming the wildcard address, not binding it
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104
    return f"https://[{host}]:{port}/" if ":" in host else f"https://{host}:{port}/"


def make_server(settings: ServeSettings, receiver: Receiver) -> uvicorn.Server:
    """The uvicorn server of a receiver (not started). ServeError for unusable TLS files."""
    check_tls(settings)
    token = read_token(settings.token_file) if settings.token_file else None
    auth = Authenticator(token, client_certs=bool(settings.client_ca_file))
    warning = auth_warning(settings)
    if warning:
        log.warning(warning)
    config = uvicorn.Config(
        make_app(receiver, auth, settings),
        http=auth.protocol(),
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_private_key_file,
        ssl_ca_certs=settings.client_ca_file,
        ssl_cert_reqs=ssl.CERT_OPTIONAL if settings.client_ca_file else ssl.CERT_NONE,
        ssl_ciphers=TLS12_CIPHERS,
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


@dataclass(slots=True)
class RunningServer:
    """A receiver serving in a thread of this process (tests, and embedding)."""

    url: str
    receiver: Receiver
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 60.0) -> None:
        """Stop as SIGTERM does: stop accepting, finish open requests, drain the queue."""
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(settings: ServeSettings, receiver: Receiver, startup_timeout: float = 30.0) -> RunningServer:
    """Serve `receiver` in a daemon thread; returns once it accepts connections. `settings.port`
    0 picks a free port: `url` names it (https://127.0.0.1:PORT/ for a wildcard host)."""
    server = make_server(settings, receiver)
    sock = bind(settings.host, settings.port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="kubefort-audit-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ServeError("the receiver did not start (see the log)")
        time.sleep(0.01)
    return RunningServer(url_of(sock), receiver, server, thread)


def serve_forever(
    settings: ServeSettings, receiver: Receiver, announce: Callable[[str, int], None] | None = None
) -> None:
    """Serve in this thread until SIGTERM or SIGINT, then drain (the command's main loop)."""
    # the analysis thread hands the GIL to the HTTP side after 1 ms instead of Python's 5 ms: each
    # POST needs it a few times (TLS, parsing, the reply), and p99 latency fell from ~45 to ~20-30 ms
    # at 5,000 events/s (bench/bench_audit_serve.py)
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = make_server(settings, receiver)
    sock = bind(settings.host, settings.port)
    if announce is not None:
        host, port = sock.getsockname()[:2]
        announce(host, port)
    server.run(sockets=[sock])
