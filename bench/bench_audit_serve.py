"""Benchmark: `kubefort audit serve` under a steady stream of EventLists, over TLS, like an API server.

Usage: .venv/bin/python bench/bench_audit_serve.py [--rate EVENTS_PER_S] [--batch N] [--seconds S]
                                                   [--clients C] [--queue-size N] [--analysis N]

First times the receiver's analysis alone (its worker on N EventLists, no HTTP: the ceiling of one
receiver). Then starts the receiver as its own process (`kubefort audit serve`, every audit check,
findings to /dev/null, client certificates verified) and POSTs EventLists of `--batch` events of
bench/gen_audit.py's seeded mix (mostly system components' get/list/watch, some people and CI with
pod creates and their requestObject, rare attacks) at `--rate` events/s on `--clients` keep-alive
TLS connections with a client certificate, open loop: each POST is sent at its scheduled time
whether or not the previous answers came back. Prints the POST latency (what the API server
waits: send to 200, p50/p99/max), how late the client itself ran (if it cannot keep the rate,
the figures are the client's), the events dropped (from /metrics), and how long the receiver
took to analyse everything sent (its analysis throughput).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVE = [sys.executable, "-m", "kubefort", "audit", "serve"]


# -- certificates ----------------------------------------------------------------------------------
def make_certs(d: Path) -> None:
    """ca.crt, server.crt/key (localhost, 127.0.0.1), client.crt/key (CN kube-apiserver)."""
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def builder(cn: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    def write(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (d / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder("bench-ca", name("bench-ca"), ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    write("ca", ca, ca_key)
    for stem, cn, usage in (
        ("server", "kubefort-audit", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", "kube-apiserver", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        b = builder(cn, ca.subject, key).add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if stem == "server":
            sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        write(stem, b.sign(ca_key, hashes.SHA256()), key)


# -- events ----------------------------------------------------------------------------------------
def bodies(n: int, batch: int, seed: int) -> list[bytes]:
    """`n` EventLists of `batch` events of bench/gen_audit.py's seeded mix (the one the file
    benches read), as the webhook backend sends them."""
    from gen_audit import lines  # bench/gen_audit.py, beside this script

    events = [orjson.loads(line) for line in lines(n * batch, seed=seed)]
    return [
        orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": events[k : k + batch]})
        for k in range(0, len(events), batch)
    ]


def analysis_alone(payload: list[bytes]) -> float:
    """Events/s of the receiver's worker on these EventLists, in this process, without HTTP: the
    most one receiver can analyse on one core."""
    from kubefort.audit.serve import Batch, build_receiver

    docs = [orjson.loads(b) for b in payload]
    with open(os.devnull, "wb") as sink:
        rcv = build_receiver(sink)
        t = time.perf_counter()
        for seq, d in enumerate(docs, 1):
            rcv.analyse(Batch(d, len(d["items"]), time.time(), seq))
        elapsed = time.perf_counter() - t
        rcv.drain(5)
    return sum(len(d["items"]) for d in docs) / elapsed


# -- the run ---------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, read with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]


def run(a: argparse.Namespace, d: Path) -> None:
    make_certs(d)
    if a.analysis:
        rate = analysis_alone(bodies(a.analysis, a.batch, seed=13))
        print(f"analysis alone (one core, no HTTP): {rate:,.0f} events/s on {a.analysis * a.batch} events")
    argv = [
        *("--tls-cert-file", str(d / "server.crt"), "--tls-private-key-file", str(d / "server.key")),
        *("--client-ca-file", str(d / "ca.crt"), "--host", "127.0.0.1", "--port", "0", "--output", "/dev/null"),
        *("--queue-size", str(a.queue_size), "--no-config"),
        *(("--checks", a.checks) if a.checks else ()),
    ]
    proc = subprocess.Popen([*SERVE, *argv], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            m = re.search(r"listening on https://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        else:
            raise SystemExit(f"the receiver did not start (exit {proc.wait()})")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep its log pipe drained
        measure(a, d, port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)


def measure(a: argparse.Namespace, d: Path, port: int, pid: int) -> None:
    posts_per_s = a.rate / a.batch
    n = max(1, int(posts_per_s * a.seconds))
    payload = bodies(min(n, 300), a.batch, seed=13)  # reused round robin past 300 EventLists
    size = statistics.mean(len(b) for b in payload)
    pools = [
        urllib3.HTTPSConnectionPool(
            "127.0.0.1",
            port,
            maxsize=1,
            ca_certs=str(d / "ca.crt"),
            cert_file=str(d / "client.crt"),
            key_file=str(d / "client.key"),
            assert_hostname="127.0.0.1",
            retries=False,
        )
        for _ in range(a.clients)
    ]
    for p in pools:  # handshakes before the clock starts, as an API server's connections are open
        assert p.request("GET", "/healthz").status == 200
    cpu0 = cpu_seconds(pid)
    latency: list[float] = []
    lateness: list[float] = []
    failures: list[int] = []
    nxt = iter(range(n))
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.2

    def client(pool: urllib3.HTTPSConnectionPool) -> None:
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                return
            due = t0 + i / posts_per_s
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            start = time.perf_counter()
            r = pool.urlopen("POST", "/", body=payload[i % len(payload)], headers={"Content-Type": "application/json"})
            end = time.perf_counter()
            with lock:
                latency.append(end - start)
                lateness.append(max(0.0, start - due))
                if r.status != 200:
                    failures.append(r.status)

    threads = [threading.Thread(target=client, args=(p,)) for p in pools]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_s = time.perf_counter() - t0
    events = n * a.batch
    while True:  # until the receiver has analysed (or dropped) everything
        m = metrics(pools[0].request("GET", "/metrics").data.decode())
        analysed = m[("kubefort_audit_serve_events_analysed_total", ())]
        dropped = m[("kubefort_audit_serve_events_dropped_total", (("reason", "queue-full"),))]
        if analysed + dropped >= events or time.perf_counter() - t0 > sent_s + 120:
            break
        time.sleep(0.05)
    done_s = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    ms = [x * 1000 for x in latency]
    print(
        f"{events} events in {n} EventLists of {a.batch} ({size / 1024:.0f} KiB each) at {a.rate} events/s "
        f"on {a.clients} TLS connections: sent in {sent_s:.2f} s ({events / sent_s:,.0f} events/s)"
    )
    print(
        f"POST latency ms: p50 {pct(ms, 0.5):.1f}  p99 {pct(ms, 0.99):.1f}  max {max(ms):.1f}  "
        f"(client late by p99 {pct(lateness, 0.99) * 1000:.1f} ms); non-200: {len(failures)}"
    )
    print(
        f"analysed {analysed:.0f} events, dropped {dropped:.0f} (queue full); all analysed {done_s:.2f} s "
        f"after the first POST ({analysed / done_s:,.0f} events/s), "
        f"{sum(v for (name, _), v in m.items() if name == 'kubefort_audit_serve_findings_total'):.0f} findings"
    )
    print(f"receiver CPU: {cpu:.2f} s ({cpu / events * 1e6:.0f} us per event, {cpu / done_s:.0%} of a core)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=5000, help="events per second (default 5000)")
    ap.add_argument("--batch", type=int, default=100, help="events per EventList (default 100)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=4, help="concurrent TLS connections (default 4)")
    ap.add_argument("--queue-size", type=int, default=10_000)
    ap.add_argument("--checks", default="", help="the receiver's --checks (default: every audit check)")
    ap.add_argument(
        "--analysis", type=int, default=100, metavar="N", help="first time the worker alone on N EventLists (0: skip)"
    )
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubefort-bench-serve-") as tmp:
        run(a, Path(tmp))


if __name__ == "__main__":
    main()
