"""`kubefort audit serve`, for real: HTTPS with certificates made here, a real HTTP client, the
receiver in a thread of this process (kubefort.audit.serve_http.start_in_thread) or as the
command in its own process (SIGTERM).

What is pinned: the findings stream (exact records, and equal to the offline analyzer for any
sequence of EventLists), client authentication (certificate, token, both, none), bad POSTs (400 and
the counter of their reason, the server alive after any body), the bounded queue (drops counted,
200 still, /healthz 200), alerts to an Alertmanager, and draining on shutdown."""

from __future__ import annotations

import copy
import datetime as dt
import http.server
import io
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import click
import orjson
import pytest
import urllib3
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT
from kubefort.audit.analyzer import AuditAnalyzer, AuditSettings, audit_fingerprint, run_all
from kubefort.audit.event import AuditEvent
from kubefort.audit.serve import Batch, BatchQueue, Receiver, build_receiver, finding_record
from kubefort.audit.serve_alerts import alerts_url
from kubefort.audit.serve_http import RunningServer, ServeSettings, parse_event_list, start_in_thread
from kubefort.audit.serve_metrics import BAD_REQUEST_REASONS
from kubefort.audit.services import default_services
from kubefort.cli.audit_serve import serve
from kubefort.cli.params import parse_size
from kubefort.config import Config, ExceptionRule
from kubefort.registry import REGISTRY

AUDIT_IDS = tuple(m.id for m in REGISTRY if m.target == "audit")
REMEDIATION_001 = REGISTRY.get("KF-AUDIT-001").remediation


# -- certificates ----------------------------------------------------------------------------------
def _write_pem(d: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    (d / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / f"{stem}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _cert(
    cn: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, usage: str | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if issuer is None:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    elif usage == "server":
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    else:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return b.sign(issuer[1] if issuer else key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca, server (localhost/127.0.0.1), client (CN kube-apiserver, signed by ca), and intruder
    (a client certificate from another CA)."""
    d = tmp_path_factory.mktemp("serve-certs")
    ca = _cert("kubefort-test-ca", None, None)
    _write_pem(d, "ca", *ca)
    _write_pem(d, "server", *_cert("kubefort-audit", ca, "server"))
    _write_pem(d, "client", *_cert("kube-apiserver", ca, "client"))
    other = _cert("other-ca", None, None)
    _write_pem(d, "intruder", *_cert("kube-apiserver", other, "client"))
    (d / "token").write_text("s3cr3t-webhook-token\n")
    return d


# -- events ----------------------------------------------------------------------------------------
def ev(
    audit_id: str,
    *,
    subresource: str = "exec",
    namespace: str = "kube-system",
    stage: str = "ResponseStarted",
    code: int | None = 101,
    user: str = "alice@example.com",
    stamp: str = "2026-03-01T10:00:00.000000Z",
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id,
        "stage": stage,
        "requestURI": f"/api/v1/namespaces/{namespace}/pods/etcd-0/{subresource}?command=sh",
        "verb": "create",
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.7"],
        "userAgent": "kubectl/v1.33.0",
        "objectRef": {
            "resource": "pods",
            "subresource": subresource,
            "namespace": namespace,
            "name": "etcd-0",
            "apiVersion": "v1",
        },
        "stageTimestamp": stamp,
    }
    if code is not None:
        e["responseStatus"] = {"metadata": {}, "code": code}
    return e


def event_list(items: list[Any], api_version: str = "audit.k8s.io/v1") -> bytes:
    return orjson.dumps({"kind": "EventList", "apiVersion": api_version, "items": items})


def execs(n: int, prefix: str) -> bytes:
    return event_list([ev(f"{prefix}-{i}") for i in range(n)])


# -- the receiver in a thread ----------------------------------------------------------------------
class Reply(NamedTuple):
    """What came back, read whole (a kept response object would keep its socket open after the
    client closes its pool)."""

    status: int
    data: bytes
    headers: dict[str, str]


class Client:
    """urllib3 over TLS to the receiver, with the given credentials."""

    def __init__(self, url: str, certs: Path, *, cert: str | None = None, token: str | None = None) -> None:
        self.url = url
        files = {"cert_file": str(certs / f"{cert}.crt"), "key_file": str(certs / f"{cert}.key")} if cert else {}
        self.pool = urllib3.PoolManager(ca_certs=str(certs / "ca.crt"), retries=False, **files)  # type: ignore[arg-type]
        self.headers = {"Content-Type": "application/json"}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        r = self.pool.request("POST", self.url, body=body, headers={**self.headers, **(headers or {})})
        return Reply(r.status, r.data, dict(r.headers))

    def get(self, path: str) -> Reply:
        r = self.pool.request("GET", self.url + path.lstrip("/"))
        return Reply(r.status, r.data, dict(r.headers))

    def close(self) -> None:
        self.pool.clear()


@contextmanager
def running(
    certs: Path,
    output: io.RawIOBase | io.BufferedIOBase | None = None,
    *,
    client_ca: bool = True,
    token: bool = False,
    config: Config | None = None,
    queue_size: int = 10_000,
    max_body_size: int = 1024 * 1024,
    drain_timeout: float = 15.0,
    alertmanager_url: str | None = None,
) -> Iterator[tuple[RunningServer, io.BytesIO | Any]]:
    out = output if output is not None else io.BytesIO()
    receiver = build_receiver(
        out,  # type: ignore[arg-type]
        check_ids=AUDIT_IDS,
        config=config,
        queue_size=queue_size,
        alertmanager_url=alertmanager_url,
    )
    settings = ServeSettings(
        str(certs / "server.crt"),
        str(certs / "server.key"),
        host="127.0.0.1",
        port=0,
        client_ca_file=str(certs / "ca.crt") if client_ca else None,
        token_file=str(certs / "token") if token else None,
        max_body_size=max_body_size,
        drain_timeout=drain_timeout,
    )
    srv = start_in_thread(settings, receiver)
    try:
        yield srv, out
    finally:
        srv.stop()


def sample(receiver: Receiver, name: str, **labels: str) -> float:
    v = receiver.metrics.registry.get_sample_value(f"kubefort_audit_serve_{name}", labels)
    return 0.0 if v is None else v


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def analysed(receiver: Receiver, n: int) -> None:
    wait_for(lambda: sample(receiver, "events_analysed_total") + sample(receiver, "events_unreadable_total") >= n)


def lines(out: io.BytesIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def summary(raw: dict[str, Any]) -> dict[str, Any]:
    return AuditEvent.read(raw).summary()


# -- the findings stream ---------------------------------------------------------------------------
@pytest.mark.parametrize("api_version", ["audit.k8s.io/v1", "audit.k8s.io/v1beta1"])
def test_findings_stream_is_exact(certs: Path, api_version: str) -> None:
    started = ev("exec-1")
    complete = ev("exec-1", stage="ResponseComplete")  # the same request: judged once, at ResponseStarted
    refused = ev("exec-2", code=403, stage="ResponseComplete")  # passes KF-AUDIT-001
    received = ev("exec-3", stage="RequestReceived", code=None)  # not judged
    log = ev("log-1", subresource="log", stage="ResponseComplete", code=200)  # outside the check's scope
    forward = ev("pf-1", subresource="portforward", namespace="shop", stage="ResponseComplete", user="bob")
    items = [started, complete, refused, received, log, forward]
    with running(certs) as (srv, out):
        c = Client(srv.url, certs, cert="client")
        r = c.post(event_list(items, api_version))
        assert (r.status, r.data) == (200, b"")
        analysed(srv.receiver, 6)
        c.close()
    rcv = srv.receiver
    assert lines(out) == [
        {
            "check_id": "KF-AUDIT-001",
            "check_name": "pod-exec-attach-portforward",
            "severity": "medium",
            "outcome": "failed",
            "resource": {"apiVersion": "v1", "kind": "Pod", "namespace": "kube-system", "name": "etcd-0/exec"},
            "container": None,
            "file": "webhook",
            "line": 1,
            "column": None,
            "path": None,
            "message": "alice@example.com ran a command in pod kube-system/etcd-0 (a system namespace)",
            "remediation": REMEDIATION_001,
            "fingerprint": audit_fingerprint("KF-AUDIT-001", AuditEvent.read(started)),
            "suppression": None,
            "event": summary(started),
        },
        {
            "check_id": "KF-AUDIT-001",
            "check_name": "pod-exec-attach-portforward",
            "severity": "medium",
            "outcome": "failed",
            "resource": {"apiVersion": "v1", "kind": "Pod", "namespace": "shop", "name": "etcd-0/portforward"},
            "container": None,
            "file": "webhook",
            "line": 1,
            "column": None,
            "path": None,
            "message": "bob opened a port-forward to pod shop/etcd-0",
            "remediation": REMEDIATION_001,
            "fingerprint": audit_fingerprint("KF-AUDIT-001", AuditEvent.read(forward)),
            "suppression": None,
            "event": summary(forward),
        },
    ]
    assert summary(started)["auditID"] == "exec-1" and summary(started)["responseCode"] == 101
    assert sample(rcv, "events_received_total") == 6
    assert sample(rcv, "events_analysed_total") == 6
    assert sample(rcv, "events_judged_total") == 4  # started, refused, log, forward
    assert sample(rcv, "batches_total") == 1
    assert sample(rcv, "findings_total", check_id="KF-AUDIT-001", severity="medium", outcome="failed") == 2
    assert sample(rcv, "time_to_detect_seconds_count") == 6
    assert sample(rcv, "analysis_latency_seconds_count") == 1
    assert sample(rcv, "events_dropped_total", reason="queue-full") == 0


# events a KF-AUDIT-001 decision depends on: stage, subresource, code, namespace, user; the auditIDs
# are drawn from a small pool so ResponseStarted/ResponseComplete pairs of one request occur
_event = st.builds(
    ev,
    st.sampled_from([f"req-{i}" for i in range(6)]),
    subresource=st.sampled_from(["exec", "attach", "portforward", "log", "status"]),
    namespace=st.sampled_from(["kube-system", "shop"]),
    stage=st.sampled_from(["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]),
    code=st.sampled_from([None, 101, 200, 401, 403, 500]),
    user=st.sampled_from(["alice", "bob", "system:serviceaccount:ci:deployer"]),
)


@pytest.fixture(scope="module")
def shared_server(certs: Path) -> Iterator[tuple[RunningServer, io.BytesIO]]:
    with running(certs) as pair:
        yield pair


@pytest.fixture(scope="module")
def mirrored(certs: Path) -> Iterator[tuple[RunningServer, io.BytesIO, AuditAnalyzer]]:
    """A receiver and an offline analyzer that are fed the same events (the stateful checks keep
    history across the examples of a test in both)."""
    with running(certs) as (srv, out):
        yield srv, out, AuditAnalyzer(AuditSettings(AUDIT_IDS), REGISTRY, default_services(REGISTRY))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_event, max_size=12), min_size=1, max_size=4))
def test_stream_equals_the_offline_analyzer(
    certs: Path, mirrored: tuple[RunningServer, io.BytesIO, AuditAnalyzer], batches: list[list[dict[str, Any]]]
) -> None:
    """Any sequence of EventLists gives, in order, exactly the findings of the analyzer fed the same
    events offline: batch boundaries, the HTTP path and the worker change nothing."""
    srv, out, offline = mirrored
    run_id = uuid.uuid4().hex[:8]  # a fresh request space per example (both analyzers live on)
    batches = [[{**e, "auditID": f"{run_id}-{e['auditID']}"} for e in b] for b in batches]
    before = len(out.getvalue().splitlines())
    n0 = sample(srv.receiver, "events_analysed_total")
    c = Client(srv.url, certs, cert="client")
    for b in batches:
        assert c.post(event_list(b)).status == 200
    c.close()
    analysed(srv.receiver, int(n0) + sum(map(len, batches)))
    expected = run_all(offline, (AuditEvent.read(copy.deepcopy(e)) for b in batches for e in b))
    got = lines(out)[before:]
    assert [(g["check_id"], g["outcome"], g["message"], g["fingerprint"], g["event"]) for g in got] == [
        (o.check_id, o.status.value, o.message, o.fingerprint, o.event) for o in expected
    ]


def test_finding_record_is_a_json_report_result() -> None:
    from kubefort.model import ScanResult
    from kubefort.reporters import json as json_report

    o = run_all(AuditAnalyzer(AuditSettings(AUDIT_IDS), REGISTRY), [AuditEvent.read(ev("x"))])[0]
    report = json_report.build(ScanResult("0", [o], [], [], [o.check_id]), REGISTRY)
    assert finding_record(o, REGISTRY) == {**report["results"][0], "event": o.event}


def test_unreadable_items_are_input_findings_and_the_rest_analysed(certs: Path) -> None:
    items: list[Any] = [
        7,
        {"kind": "Pod", "apiVersion": "v1"},
        {"user": {"username": 5}},
        ev("ok-1"),
        {"responseStatus": {"code": "403"}},
    ]
    with running(certs) as (srv, out):
        c = Client(srv.url, certs, cert="client")
        assert c.post(event_list(items)).status == 200
        analysed(srv.receiver, 5)
        c.close()
    assert sample(srv.receiver, "events_unreadable_total") == 4
    assert sample(srv.receiver, "events_analysed_total") == 1
    got = [(x["check_id"], x["outcome"], x["severity"], x["file"], x["line"], x["message"]) for x in lines(out)]
    assert got == [
        ("KF-INPUT-006", "not-evaluated", "high", "webhook", 1,
         "unreadable audit event: EventList items[0] is a JSON number, expected an Event"),
        ("KF-INPUT-006", "not-evaluated", "high", "webhook", 1,
         "not an audit event: EventList items[1] is kind Pod of apiVersion v1, not an audit event"),
        ("KF-INPUT-006", "not-evaluated", "high", "webhook", 1,
         "unreadable audit event: audit event items[2] user.username is int, expected a string"),
        ("KF-AUDIT-001", "failed", "medium", "webhook", 1,
         "alice@example.com ran a command in pod kube-system/etcd-0 (a system namespace)"),
        ("KF-INPUT-006", "not-evaluated", "high", "webhook", 1,
         "unreadable audit event: audit event items[4] responseStatus.code is str, expected an integer"),
    ]  # fmt: skip


def test_config_exceptions_suppress_findings(certs: Path) -> None:
    rule = ExceptionRule(frozenset({"KF-AUDIT-001"}), "break-glass", ".kubefort.yaml:3", namespaces=("kube-system",))
    with running(certs, config=Config(exceptions=[rule])) as (srv, out):
        c = Client(srv.url, certs, cert="client")
        items = [ev("s-1"), ev("s-2", namespace="shop")]
        assert c.post(event_list(items)).status == 200
        analysed(srv.receiver, 2)
        c.close()
    got = [(x["outcome"], x["resource"]["namespace"], x["suppression"]) for x in lines(out)]
    assert got == [
        (
            "suppressed",
            "kube-system",
            {"kind": "config", "reason": "break-glass", "expires": None, "where": ".kubefort.yaml:3"},
        ),
        ("failed", "shop", None),
    ]
    assert sample(srv.receiver, "findings_total", check_id="KF-AUDIT-001", severity="medium", outcome="suppressed") == 1


# -- authentication --------------------------------------------------------------------------------
TOKEN = "s3cr3t-webhook-token"


@pytest.mark.parametrize(
    ("client_ca", "token", "cert", "bearer", "status"),
    [
        # --client-ca-file only
        (True, False, "client", None, 200),
        (True, False, None, None, 401),
        (True, False, None, TOKEN, 401),
        # --token-file only
        (False, True, None, TOKEN, 200),
        (False, True, "client", None, 401),
        (False, True, None, TOKEN + "x", 401),
        (False, True, None, "", 401),
        # both: either is enough
        (True, True, "client", None, 200),
        (True, True, None, TOKEN, 200),
        (True, True, None, None, 401),
        # neither: anyone
        (False, False, None, None, 200),
        (False, False, "client", "anything", 200),
    ],
)
def test_authentication(
    certs: Path, client_ca: bool, token: bool, cert: str | None, bearer: str | None, status: int
) -> None:
    with running(certs, client_ca=client_ca, token=token) as (srv, _out):
        c = Client(srv.url, certs, cert=cert, token=bearer)
        r = c.post(execs(1, "auth"))
        assert r.status == status, r.data
        c.close()
        assert sample(srv.receiver, "bad_requests_total", reason="unauthenticated") == (status == 401)
        assert sample(srv.receiver, "events_received_total") == (status == 200)


def test_a_certificate_from_another_ca_fails_the_handshake(certs: Path) -> None:
    with running(certs) as (srv, _out):
        c = Client(srv.url, certs, cert="intruder")
        # TLS 1.3: the client finishes its handshake before the server has judged its certificate,
        # so the refusal surfaces as a TLS alert or as a connection the server dropped
        with pytest.raises((urllib3.exceptions.SSLError, urllib3.exceptions.ProtocolError)):
            c.post(execs(1, "intruder"))
        c.close()
        assert sample(srv.receiver, "events_received_total") == 0
        ok = Client(srv.url, certs, cert="client")
        assert ok.post(execs(1, "after")).status == 200  # and the server is fine
        ok.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    presented=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40).filter(lambda t: t != TOKEN),
    scheme=st.sampled_from(["Bearer", "bearer", "Basic", "Token"]),
)
def test_any_other_token_is_refused(
    certs: Path, token_server: tuple[RunningServer, io.BytesIO], presented: str, scheme: str
) -> None:
    srv, _ = token_server
    before = sample(srv.receiver, "bad_requests_total", reason="unauthenticated")
    c = Client(srv.url, certs)
    r = c.post(execs(1, "tok"), headers={"Authorization": f"{scheme} {presented}"})
    c.close()
    assert r.status == 401
    assert sample(srv.receiver, "bad_requests_total", reason="unauthenticated") == before + 1


@pytest.fixture(scope="module")
def token_server(certs: Path) -> Iterator[tuple[RunningServer, io.BytesIO]]:
    with running(certs, client_ca=False, token=True) as pair:
        yield pair


def test_no_authentication_warns_at_start(certs: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="kubefort.audit.serve"), running(certs, client_ca=False):
        pass
    assert any("accepts audit events from ANY client" in r.getMessage() for r in caplog.records)


def test_unauthenticated_post_is_refused_before_its_body_is_read(certs: Path) -> None:
    with running(certs, max_body_size=1024) as (srv, _out):
        status, _ = raw_post(srv.url, certs, b"x" * 10, declared=50 * 1024 * 1024, cert=False)
        assert status == 401
        assert sample(srv.receiver, "bad_requests_total", reason="too-large") == 0


def test_tls_is_1_2_or_later_with_forward_secret_aead_ciphers(certs: Path) -> None:
    with running(certs, client_ca=False) as (srv, _out):
        port = int(srv.url.rsplit(":", 1)[1].rstrip("/"))

        def handshake(**tweak: Any) -> tuple[str, str]:
            ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
            ctx.maximum_version = tweak.get("maximum_version", ssl.TLSVersion.MAXIMUM_SUPPORTED)
            if "ciphers" in tweak:
                ctx.set_ciphers(tweak["ciphers"])
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
            ):
                cipher = s.cipher()
                assert cipher is not None
                return s.version() or "", cipher[0]

        assert handshake()[0] == "TLSv1.3"
        version, cipher = handshake(maximum_version=ssl.TLSVersion.TLSv1_2)
        assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)
        with pytest.raises(ssl.SSLError):  # CBC without forward secrecy: refused
            handshake(maximum_version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA")


def test_replies_in_two_parts_do_not_wait_for_delayed_acks(
    shared_client: tuple[RunningServer, Client],
) -> None:
    """A reply with a body goes out as two writes (headers, body). Without TCP_NODELAY on the
    server's connections the second waits for the client's delayed ACK: >= 40 ms per request on
    Linux. 20 requests on one connection then take >= 0.8 s; with it, a few ms each."""
    _srv, c = shared_client
    c.get("healthz")  # the connection is open
    t = time.perf_counter()
    for _ in range(20):
        assert c.get("healthz").status == 200
        assert c.post(b"not json").status == 400
    assert time.perf_counter() - t < 0.8


# -- bad POSTs -------------------------------------------------------------------------------------
def raw_post(
    url: str, certs: Path, first: bytes, *, declared: int | None = None, chunked: bool = False, cert: bool = True
) -> tuple[int, bytes]:
    """Send headers and `first` only (however long the declared body), then read the reply."""
    port = int(url.rsplit(":", 1)[1].rstrip("/"))
    ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    if cert:
        ctx.load_cert_chain(str(certs / "client.crt"), str(certs / "client.key"))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {declared or len(first)}\r\n"
        s.sendall(head.encode() + b"\r\n" + first)
        reply = b""
        while b"\r\n\r\n" not in reply:
            part = s.recv(65536)
            if not part:
                break
            reply += part
    status = int(reply.split(b" ", 2)[1])
    return status, reply


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        (b"not json", "not-json", "the body is not JSON"),
        (b"", "not-json", "the body is empty"),
        (b"   \n", "not-json", "the body is empty"),
        (
            b'{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [{"a": 1',
            "truncated",
            "the JSON ends early",
        ),
        (b'[{"kind": "Event"}]', "not-an-eventlist", "the body is a JSON list"),
        (orjson.dumps({**ev("e"), "kind": "Event"}), "not-an-eventlist", "kind is 'Event', expected 'EventList'"),
        (b'{"apiVersion": "audit.k8s.io/v1", "items": []}', "not-an-eventlist", "kind is None"),
        (event_list([], "audit.k8s.io/v1alpha1"), "unsupported-version", "apiVersion is 'audit.k8s.io/v1alpha1'"),
        (event_list([], "v1"), "unsupported-version", "apiVersion is 'v1'"),
        (orjson.dumps({"kind": "x" * 5000}), "not-an-eventlist", "kind is 'xxxxxxxx"),
        (
            b'{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": {"a": 1}}',
            "not-an-eventlist",
            "items is a JSON dict",
        ),
    ],
)
def test_bad_posts_get_400_and_their_counter(
    certs: Path, shared_server: tuple[RunningServer, io.BytesIO], body: bytes, reason: str, message: str
) -> None:
    srv, _ = shared_server
    before = sample(srv.receiver, "bad_requests_total", reason=reason)
    received = sample(srv.receiver, "events_received_total")
    c = Client(srv.url, certs, cert="client")
    r = c.post(body)
    assert r.status == 400
    assert message in r.data.decode()
    assert sample(srv.receiver, "bad_requests_total", reason=reason) == before + 1
    assert sample(srv.receiver, "events_received_total") == received
    assert c.get("healthz").status == 200
    c.close()


def test_an_eventlist_without_items_is_accepted_and_empty() -> None:
    for body in (b'{"kind": "EventList", "apiVersion": "audit.k8s.io/v1"}', event_list([]).replace(b"[]", b"null")):
        doc, size, reason, _ = parse_event_list(body)
        assert (doc is not None, size, reason) == (True, 0, "")


def test_oversized_bodies_are_refused_without_being_read(certs: Path) -> None:
    with running(certs, max_body_size=4096) as (srv, _out):
        c = Client(srv.url, certs, cert="client")
        big = event_list([ev(f"big-{i}") for i in range(100)])
        assert len(big) > 4096
        r = c.post(big)
        assert r.status == 400 and b"larger than --max-body-size (4096 bytes)" in r.data
        c.close()
        # a declared 1 GiB body: refused after 1 KiB was sent (the rest is never sent, nor waited for)
        status, reply = raw_post(srv.url, certs, b"{" * 1024, declared=1024**3)
        assert status == 400 and b"connection: close" in reply.lower()
        # chunked, no length: refused once more than the limit arrived, before the body ends
        chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
        status, _ = raw_post(srv.url, certs, chunk * 2, chunked=True)
        assert status == 400
        assert sample(srv.receiver, "bad_requests_total", reason="too-large") == 3
        ok = Client(srv.url, certs, cert="client")
        assert ok.post(execs(2, "small")).status == 200
        assert ok.get("healthz").status == 200
        ok.close()


def test_a_client_that_hangs_up_mid_body_is_counted(certs: Path) -> None:
    with running(certs) as (srv, _out):
        port = int(srv.url.rsplit(":", 1)[1].rstrip("/"))
        ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        ctx.load_cert_chain(str(certs / "client.crt"), str(certs / "client.key"))
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
        ):
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b'{"kind": "Eve')
        wait_for(lambda: sample(srv.receiver, "bad_requests_total", reason="disconnected") == 1)
        c = Client(srv.url, certs, cert="client")
        assert c.get("healthz").status == 200
        c.close()


@settings(max_examples=50, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
            lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
            max_leaves=12,
        ).map(orjson.dumps),
        st.builds(
            lambda items, cut: event_list(items)[:cut],
            st.lists(
                st.dictionaries(st.sampled_from(["user", "verb", "objectRef", "stage"]), st.integers(0, 9)), max_size=3
            ),
            st.integers(1, 200),
        ),
    )
)
def test_no_body_crashes_the_receiver(shared_client: tuple[RunningServer, Client], body: bytes) -> None:
    """Whatever the body, the reply is 200 (an EventList) or 400 (anything else), every 400 is
    counted under one reason, and the receiver stays healthy."""
    srv, c = shared_client

    def bad() -> float:
        return sum(sample(srv.receiver, "bad_requests_total", reason=r) for r in BAD_REQUEST_REASONS)

    before = bad()
    r = c.post(body)
    assert r.status in (200, 400)
    assert bad() == before + (r.status == 400)
    assert c.get("healthz").status == 200


@pytest.fixture(scope="module")
def shared_client(
    certs: Path, shared_server: tuple[RunningServer, io.BytesIO]
) -> Iterator[tuple[RunningServer, Client]]:
    srv, _ = shared_server
    c = Client(srv.url, certs, cert="client")
    yield srv, c
    c.close()


# -- the bounded queue -----------------------------------------------------------------------------
class GateWriter(io.BytesIO):
    """An output that blocks every write until `gate` is set: a stuck sink."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def write(self, b: Any) -> int:
        self.entered.set()
        self.gate.wait(60)
        return super().write(b)


def test_a_burst_beyond_the_queue_drops_with_a_counter_and_still_replies_200(certs: Path) -> None:
    sink = GateWriter()
    with running(certs, sink, queue_size=300) as (srv, _):
        rcv = srv.receiver
        c = Client(srv.url, certs, cert="client")
        assert c.post(execs(100, "b0")).status == 200
        sink.entered.wait(10)  # the worker holds EventList 1 and is stuck writing its findings
        assert rcv.queue.pending == 0
        statuses = [c.post(execs(100, f"b{i}")).status for i in range(1, 10)]
        assert statuses == [200] * 9  # never refused: the API server would retry it (serve.py)
        assert rcv.queue.pending == 300  # EventLists 2-4 fit; 5-10 were dropped
        assert sample(rcv, "events_dropped_total", reason="queue-full") == 600
        assert sample(rcv, "queue_depth") == 300
        assert sample(rcv, "events_received_total") == 1000
        assert c.get("healthz").status == 200
        assert sample(rcv, "worker_alive") == 1
        sink.gate.set()
        analysed(rcv, 400)
        c.close()
    assert len(sink.getvalue().splitlines()) == 400  # every exec of the 4 kept EventLists is a finding
    assert sample(rcv, "events_dropped_total", reason="shutdown") == 0


class FailingOnce(io.BytesIO):
    """An output whose first write fails (a full disk, a closed pipe), then recovers."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def write(self, b: Any) -> int:
        if not self.failed:
            self.failed = True
            raise OSError(28, "No space left on device")
        return super().write(b)


def test_an_output_error_is_counted_and_the_receiver_goes_on(certs: Path) -> None:
    sink = FailingOnce()
    with running(certs, sink) as (srv, _):
        c = Client(srv.url, certs, cert="client")
        assert c.post(execs(2, "lost")).status == 200
        wait_for(lambda: sample(srv.receiver, "worker_errors_total") == 1)
        assert c.post(execs(2, "kept")).status == 200
        analysed(srv.receiver, 2)
        assert c.get("healthz").status == 200
        c.close()
    assert [orjson.loads(x)["event"]["auditID"] for x in sink.getvalue().splitlines()] == ["kept-0", "kept-1"]


def test_batch_queue_is_bounded_by_events() -> None:
    def batch(size: int, seq: int) -> Batch:
        return Batch({}, size, 0.0, seq)

    q = BatchQueue(5)
    assert q.offer(batch(3, 1))
    assert not q.offer(batch(3, 2))  # 6 > 5
    assert q.offer(batch(2, 3))
    assert q.pending == 5
    took = q.take()
    assert took is not None and took.seq == 1 and q.pending == 2
    q.close()
    assert not q.offer(batch(1, 4))  # closed: refused
    last = q.take()
    assert last is not None and last.seq == 3
    assert q.take() is None
    with pytest.raises(ValueError, match="at least one event"):
        BatchQueue(0)


# -- shutdown --------------------------------------------------------------------------------------
def test_stop_drains_the_queue(certs: Path) -> None:
    sink = GateWriter()
    with running(certs, sink) as (srv, _):
        c = Client(srv.url, certs, cert="client")
        for i in range(4):
            assert c.post(execs(50, f"d{i}")).status == 200
        sink.entered.wait(10)
        c.close()
        threading.Timer(0.3, sink.gate.set).start()  # the sink recovers while the receiver shuts down
    assert not srv.thread.is_alive()
    assert len(sink.getvalue().splitlines()) == 200
    assert sample(srv.receiver, "events_dropped_total", reason="shutdown") == 0


def test_stop_does_not_wait_for_idle_keep_alive_connections(certs: Path) -> None:
    """The API server keeps its connections open between batches. Closing one over TLS waits for
    the client's close_notify, which an idle client sends only when it next reads: shutdown
    drops idle connections instead of waiting (uvicorn would give up only after 5 s)."""
    with running(certs) as (srv, _out):
        c = Client(srv.url, certs, cert="client")
        assert c.post(execs(1, "idle")).status == 200  # the connection stays open in the pool
        analysed(srv.receiver, 1)
        t = time.monotonic()
        srv.stop()
        assert time.monotonic() - t < 3
        c.close()


def test_drain_is_bounded_and_counts_what_it_left(certs: Path) -> None:
    sink = GateWriter()
    with running(certs, sink, drain_timeout=0.3) as (srv, _):
        c = Client(srv.url, certs, cert="client")
        for i in range(4):
            assert c.post(execs(100, f"t{i}")).status == 200
        sink.entered.wait(10)
        c.close()
    assert not srv.thread.is_alive()  # stop() returned although the sink is still stuck
    assert sample(srv.receiver, "events_dropped_total", reason="shutdown") == 300  # EventLists 2-4
    sink.gate.set()


SERVE = [sys.executable, "-m", "kubefort", "audit", "serve"]


@pytest.mark.slow  # a process of its own: ~3 s
def test_sigterm_drains_then_exits(certs: Path) -> None:
    """The command in its own process, findings to a pipe nobody reads yet (a slow sink): after
    SIGTERM every accepted event is still analysed and written."""
    argv = [
        *("--tls-cert-file", str(certs / "server.crt"), "--tls-private-key-file", str(certs / "server.key")),
        *("--token-file", str(certs / "token"), "--host", "127.0.0.1", "--port", "0", "--no-config"),
    ]
    proc = subprocess.Popen([*SERVE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        assert proc.stderr is not None and proc.stdout is not None
        log = b""
        while b"listening on" not in log:
            line = proc.stderr.readline()
            assert line, f"the receiver did not start: {log.decode()}"
            log += line
        port = int(log.split(b"https://127.0.0.1:")[1].split(b"/")[0])
        c = Client(f"https://127.0.0.1:{port}/", certs, token=TOKEN)
        for i in range(5):  # 500 findings of ~1 KiB: more than the pipe holds
            assert c.post(execs(100, f"sig{i}")).status == 200
        c.close()
        proc.send_signal(signal.SIGTERM)
        out = proc.stdout.read()  # the sink drains; the receiver finishes and exits
        rc = proc.wait(60)
        err = log + proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    records = [orjson.loads(x) for x in out.splitlines()]
    assert [r["event"]["auditID"] for r in records] == [f"sig{i}-{j}" for i in range(5) for j in range(100)]
    assert rc in (0, -signal.SIGTERM), err.decode()
    assert b"every queued event was analysed" in err, err.decode()


def test_healthz_says_when_the_worker_has_stopped(certs: Path) -> None:
    with running(certs) as (srv, _out):
        c = Client(srv.url, certs)
        assert c.get("healthz")[:2] == (200, b"ok\n")
        srv.receiver.queue.close()  # the worker ends, as it does when draining
        wait_for(lambda: not srv.receiver.alive)
        assert c.get("healthz")[:2] == (503, b"the analysis worker is not running\n")
        assert sample(srv.receiver, "worker_alive") == 0
        c.close()


def test_long_client_values_are_cut_in_messages() -> None:
    _doc, _size, reason, message = parse_event_list(orjson.dumps({"kind": "k" * 10_000}))
    assert reason == "not-an-eventlist" and len(message) < 200


# -- alerts ----------------------------------------------------------------------------------------
@contextmanager
def fake_alertmanager(status: int = 200) -> Iterator[tuple[str, list[Any]]]:
    got: list[Any] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append((self.path, orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()


def test_failed_checks_are_forwarded_to_the_alertmanager(certs: Path) -> None:
    rule = ExceptionRule(frozenset({"KF-AUDIT-001"}), "known", ".kubefort.yaml:1", namespaces=("payments",))
    with (
        fake_alertmanager() as (am, got),
        running(certs, alertmanager_url=am, config=Config(exceptions=[rule])) as (srv, _out),
    ):
        c = Client(srv.url, certs, cert="client")
        items = [
            ev("al-1"),
            ev("al-2", namespace="payments"),  # suppressed: no alert
            ev("al-3", code=403),  # passed: no alert
        ]
        assert c.post(event_list(items)).status == 200
        analysed(srv.receiver, 3)
        c.close()
        srv.stop()  # flushes the alerts
    assert [path for path, _ in got] == ["/api/v2/alerts"]
    assert got[0][1] == [
        {
            "labels": {
                "alertname": "KF-AUDIT-001",
                "severity": "medium",
                "user": "alice@example.com",
                "namespace": "kube-system",
            },
            "annotations": {
                "message": "alice@example.com ran a command in pod kube-system/etcd-0 (a system namespace)",
                "auditID": "al-1",
                "verb": "create",
                "requestURI": "/api/v1/namespaces/kube-system/pods/etcd-0/exec?command=sh",
                "sourceIPs": "10.0.0.7",
                "fingerprint": audit_fingerprint("KF-AUDIT-001", AuditEvent.read(ev("al-1"))),
            },
            "startsAt": "2026-03-01T10:00:00.000000Z",
        }
    ]
    assert sample(srv.receiver, "alerts_sent_total") == 1


@pytest.mark.parametrize("reachable", [True, False])
def test_alerts_the_alertmanager_does_not_take_are_counted(certs: Path, reachable: bool) -> None:
    with fake_alertmanager(status=500) as (am, _got):
        url = am if reachable else "http://127.0.0.1:9"  # discard port: nothing listens
        with running(certs, alertmanager_url=url) as (srv, _out):
            c = Client(srv.url, certs, cert="client")
            assert c.post(execs(3, "fail")).status == 200
            analysed(srv.receiver, 3)
            c.close()
    assert sample(srv.receiver, "alerts_dropped_total", reason="failed") == 3
    assert sample(srv.receiver, "alerts_sent_total") == 0
    assert sample(srv.receiver, "worker_alive") == 0  # stopped; it was alive all along (the 3 were analysed)


def test_alerts_url() -> None:
    assert alerts_url("http://am:9093") == "http://am:9093/api/v2/alerts"
    assert alerts_url("https://h/alertmanager/") == "https://h/alertmanager/api/v2/alerts"
    assert alerts_url("http://am:9093/api/v2/alerts") == "http://am:9093/api/v2/alerts"


# -- metrics ---------------------------------------------------------------------------------------
def test_metrics_endpoint(certs: Path) -> None:
    with running(certs) as (srv, _out):
        c = Client(srv.url, certs)  # no credentials needed for /metrics and /healthz
        assert c.get("healthz").status == 200
        r = c.get("metrics")
        c.close()
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    names = {fam.name for fam in text_string_to_metric_families(r.data.decode())}
    assert {
        "kubefort_audit_serve_events_received",
        "kubefort_audit_serve_events_analysed",
        "kubefort_audit_serve_events_judged",
        "kubefort_audit_serve_events_dropped",
        "kubefort_audit_serve_events_unreadable",
        "kubefort_audit_serve_batches",
        "kubefort_audit_serve_bad_requests",
        "kubefort_audit_serve_findings",
        "kubefort_audit_serve_queue_depth",
        "kubefort_audit_serve_analysis_latency_seconds",
        "kubefort_audit_serve_time_to_detect_seconds",
        "kubefort_audit_serve_alerts_sent",
        "kubefort_audit_serve_alerts_dropped",
        "kubefort_audit_serve_worker_alive",
        "kubefort_audit_serve_worker_errors",
    } <= names


def test_access_metrics_of_kubefort_audit_are_on_metrics(certs: Path) -> None:
    """The access metrics `kubefort audit` reports (kubefort/audit/metrics.py) for the stream so
    far: refused requests by principal, Secret requests by principal, namespace and verb."""

    def request(audit_id: str, user: str, verb: str, resource: str, code: int) -> dict[str, Any]:
        e = ev(audit_id, subresource="", namespace="shop", stage="ResponseComplete", code=code, user=user)
        e["verb"] = verb
        e["objectRef"] = {"resource": resource, "namespace": "shop", "name": "db", "apiVersion": "v1"}
        return e

    items = [
        request("m-1", "alice", "get", "secrets", 200),
        request("m-2", "alice", "get", "secrets", 200),
        request("m-3", "bob", "get", "secrets", 403),
        request("m-4", "bob", "delete", "pods", 403),
        request("m-5", "carol", "get", "configmaps", 200),
    ]
    with running(certs) as (srv, _out):
        c = Client(srv.url, certs, cert="client")
        assert c.post(event_list(items)).status == 200
        analysed(srv.receiver, 5)
        text = c.get("metrics").data.decode()
        c.close()
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name.startswith(("kubefort_audit_access", "kubefort_audit_secret", "kubefort_audit_requests"))
    }
    assert got == {
        ("kubefort_audit_requests", ()): 5,
        ("kubefort_audit_access_violations", (("code", "403"),)): 2,
        ("kubefort_audit_access_violations_by_principal", (("principal", "bob"),)): 2,
        ("kubefort_audit_access_violations_by_resource", (("resource", "pods"),)): 1,
        ("kubefort_audit_access_violations_by_resource", (("resource", "secrets"),)): 1,
        ("kubefort_audit_secret_requests_by_principal", (("principal", "alice"),)): 2,
        ("kubefort_audit_secret_requests_by_principal", (("principal", "bob"),)): 1,
        ("kubefort_audit_secret_requests_by_namespace", (("namespace", "shop"),)): 3,
        ("kubefort_audit_secret_requests_by_verb", (("verb", "get"),)): 3,
    }


def test_time_to_detect_is_analysis_time_minus_stage_timestamp(certs: Path) -> None:
    now = time.time()
    stamp = dt.datetime.fromtimestamp(now - 42, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with running(certs) as (srv, _out):
        c = Client(srv.url, certs, cert="client")
        assert c.post(event_list([ev("ttd", stamp=stamp), ev("nostamp", stamp="")])).status == 200
        analysed(srv.receiver, 2)
        c.close()
    total = sample(srv.receiver, "time_to_detect_seconds_sum")
    assert sample(srv.receiver, "time_to_detect_seconds_count") == 1  # an event without stageTimestamp has none
    assert 42 <= total < 42 + (time.time() - now) + 1


# -- the command line ------------------------------------------------------------------------------
def _cli(certs: Path, *extra: str) -> Any:
    base = ["--tls-cert-file", str(certs / "server.crt"), "--tls-private-key-file", str(certs / "server.key")]
    return CliRunner().invoke(serve, [*base, "--no-config", *extra])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--checks", "KF-POD-001"], "KF-POD-001 cannot run here: audit serve runs the KF-AUDIT checks"),
        (["--skip-checks", "KF-AUDIT"], "no audit check selected"),
        (["--max-body-size", "lots"], "'lots' is not a size"),
        (["--alertmanager-url", "am:9093"], "is not an http:// or https:// URL"),
        (["--queue-size", "0"], "--queue-size"),
    ],
)
def test_cli_usage_errors(certs: Path, extra: list[str], message: str) -> None:
    r = _cli(certs, *extra)
    assert r.exit_code == 2, r.output
    assert message in r.output


def test_cli_file_errors(certs: Path, tmp_path: Path) -> None:
    not_pem = tmp_path / "x.crt"
    not_pem.write_text("hello\n")
    empty = tmp_path / "empty-token"
    empty.write_text("\n")
    r = CliRunner().invoke(
        serve, ["--tls-cert-file", str(not_pem), "--tls-private-key-file", str(certs / "server.key"), "--no-config"]
    )
    assert r.exit_code == 2 and r.output.startswith(f"kubefort: error: cannot use --tls-cert-file {not_pem}")
    r = _cli(certs, "--token-file", str(empty), "--port", "0")
    assert r.exit_code == 2 and f"kubefort: error: --token-file {empty} is empty" in r.output
    r = _cli(certs, "--client-ca-file", str(tmp_path / "missing.crt"))
    assert r.exit_code == 2 and "kubefort: error: cannot read client CA file" in r.output
    r = _cli(certs, "--output", str(tmp_path / "no-such-dir" / "findings.jsonl"))
    assert r.exit_code == 2 and "kubefort: error: cannot write findings output" in r.output
    r = _cli(certs, "--kubernetes-version", "1.2")
    assert r.exit_code == 2 and "--kubernetes-version" in r.output


@pytest.mark.parametrize(
    ("text", "size"),
    [("12MiB", 12 * 1024**2), ("500KiB", 512_000), ("1048576", 1048576), ("2MB", 2_000_000), ("1G", 1024**3)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text, "--max-body-size") == size


@pytest.mark.parametrize("text", ["lots", "0", "0.1", "-5MiB", ""])
def test_parse_size_refuses_what_is_not_a_positive_size(text: str) -> None:
    with pytest.raises(click.BadParameter) as exc:
        parse_size(text, "--max-file-size")
    assert exc.value.param_hint == "--max-file-size"


@pytest.mark.slow
def test_bench_script_runs() -> None:
    p = subprocess.run(
        [
            *(sys.executable, str(ROOT / "bench" / "bench_audit_serve.py")),
            *("--seconds", "0.5", "--rate", "1000", "--analysis", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "dropped 0 (queue full)" in p.stdout


def _feed(receiver: Receiver, items: list[dict[str, Any]]) -> None:
    assert receiver.accept(orjson.loads(event_list(items)), len(items), time.time())


def test_serve_learns_a_usage_baseline_writes_it_and_judges_with_it_after_a_restart(tmp_path: Path) -> None:
    """`audit serve --usage-baseline F --learn-for 7d`: the stream's first week is learned (no
    finding), the file is written while serving (every interval) and at the stop; a receiver
    started later from the file judges first-seen actions against it (KF-AUDIT-024)."""
    from kubefort.audit.baseline import UsageBaseline
    from test_audit_side_inputs import _event

    store = tmp_path / "usage.json"
    out = io.BytesIO()
    receiver = build_receiver(
        out, check_ids=("KF-AUDIT-024",), usage_baseline=UsageBaseline(learn_for=7 * 86400), baseline_path=str(store)
    )
    receiver.baseline_every = 0.0  # write after every EventList
    _feed(receiver, [_event(i, "carol", "list", 1 + i) for i in range(3)])
    wait_for(store.is_file)
    assert receiver.drain(10)
    assert lines(out) == []
    assert UsageBaseline.load(store).summary()["principals"] == 1

    out = io.BytesIO()
    later = build_receiver(
        out, check_ids=("KF-AUDIT-024",), usage_baseline=UsageBaseline.load(store), baseline_path=str(store)
    )
    _feed(later, [_event(10, "carol", "list", 20), _event(11, "carol", "delete", 20)])
    assert later.drain(10)
    assert [(r["check_id"], r["event"]["verb"]) for r in lines(out)] == [("KF-AUDIT-024", "delete")]


def test_serve_refuses_a_bad_learning_window_or_baseline_file(certs: Path, tmp_path: Path) -> None:
    from kubefort.cli import cli

    (tmp_path / "bad.json").write_text("{}")
    tls = ["--tls-cert-file", str(certs / "server.crt"), "--tls-private-key-file", str(certs / "server.key")]
    for extra, said in (
        (["--learn-for", "soon"], "--learn-for"),
        (["--usage-baseline", str(tmp_path / "bad.json")], "invalid usage baseline"),
    ):
        r = CliRunner().invoke(cli, ["audit", "serve", *tls, "--port", "0", "--no-config", *extra])
        assert r.exit_code == 2 and said in r.output, r.output
