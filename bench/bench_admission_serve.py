"""Benchmark: `kubefort admission serve` on loopback TLS at a sustained request rate.

Usage: .venv/bin/python bench/bench_admission_serve.py [OBJECT.yaml] [--rate 1000] [--seconds 60]
           [--connections 8] [--stack cli|asgi|starlette] [--http h11|httptools]
           [--loop asyncio|uvloop] [--workers N]   (httptools, uvloop: when installed)

Starts the webhook (default `--stack cli`: the real `kubefort admission serve --no-cluster-cache`,
default check set, no config) with a throw-away CA, then a load generator in another process
that sends AdmissionReviews of OBJECT (default bench/data/deployment.yaml, a 3-container
Deployment, CREATE in namespace `shop`) over `--connections` keep-alive TLS connections on an
open-loop schedule: request i is due at start + i/rate, and its latency runs from that due time
to the last byte of the answer (a late send counts, so a stalled server cannot hide its queue);
one not answered within `--timeout` (5 s, the webhook's timeoutSeconds) of its due time is an
error, as the API server would count it.
After `--warmup` seconds (not counted) it prints p50/p99/p99.9/max, errors, the server's CPU
and RSS, and how much of the server's time per review the checks take (from its own
/metrics: kubefort_admission_judge_duration_seconds vs request_duration_seconds).

The other stacks are for choosing one: `asgi` is the same app started by this script (so that
`--http` and `--loop` can vary; the command itself uses httptools and uvloop when they are
installed, else h11 and asyncio), `starlette` wraps the same Judge in a Starlette route. With
`--workers N` the processes share one listening socket (the command's own `--workers`, or a
plain fork for the other stacks, whose /metrics then comes from one of them).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


# -- certificates --------------------------------------------------------------------------------
def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 (ECDSA P-256, as cert-manager issues by default)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("bench-ca"))
        .issuer_name(name("bench-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name("kubefort-webhook"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = d / "ca.crt", d / "tls.crt", d / "tls.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def review_template(obj: dict[str, Any], namespace: str) -> tuple[bytes, bytes]:
    """The AdmissionReview around OBJECT, split at the uid (each request gets its own)."""
    kind = obj.get("kind", "")
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "@UID@",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "namespace": namespace,
            "name": obj.get("metadata", {}).get("name", ""),
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:ci:deployer", "groups": ["system:serviceaccounts"]},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    head, _, tail = raw.partition(b"@UID@")
    return head, tail


# -- the server ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_child(a: argparse.Namespace) -> None:
    """Run a variant of the server (stack, HTTP parser, loop, workers) on a shared socket."""
    from kubefort.admission.build import admission_checks, build_judge
    from kubefort.admission.cache import StaticNamespaces
    from kubefort.admission.metrics import AdmissionMetrics
    from kubefort.admission.server import AdmissionApp, bind, make_server
    from kubefort.admission.tls import ReloadingCertificate
    from kubefort.registry import load_builtin_checks

    reg = load_builtin_checks()
    judge = build_judge(reg, None, admission_checks(reg, None, cache=False), context=False)
    metrics = AdmissionMetrics()
    app: Any = AdmissionApp(judge, StaticNamespaces(), metrics, 8 * 1024 * 1024)
    if a.stack == "starlette":
        app = starlette_app(app)
    cert = ReloadingCertificate(a.cert, a.key)
    sock = bind("127.0.0.1", a.port)
    for _ in range(a.workers - 1):
        if os.fork() == 0:
            break
    make_server(app, cert, http=a.http, loop=a.loop).run(sockets=[sock])


def starlette_app(asgi: Any) -> Any:
    """The same judge and metrics behind Starlette's routing, Request and Response."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from kubefort.admission.render import admission_response
    from kubefort.admission.review import ReviewError, parse_review, response_body

    async def validate(request: Request) -> Response:
        t = time.perf_counter()
        body = await request.body()
        try:
            review = parse_review(body)
        except ReviewError as exc:
            return Response(exc.message, status_code=400)
        t0 = time.perf_counter()
        verdict = asgi.judge.judge(review, {}, None, None)
        out = response_body(review.uid, admission_response(review, verdict))
        asgi.metrics.judge_latency.observe(time.perf_counter() - t0)
        asgi.count(review, verdict)
        asgi.metrics.latency.observe(time.perf_counter() - t)
        return Response(out, media_type="application/json")

    async def other(request: Request) -> Response:
        answer = asgi.probe(request.url.path)
        return Response(answer.body, status_code=answer.status)

    return Starlette(
        routes=[
            Route("/validate", validate, methods=["POST"]),
            Route("/readyz", other),
            Route("/healthz", other),
            Route("/metrics", other),
        ]
    )


def start_server(a: argparse.Namespace, certs: tuple[Path, Path, Path], port: int) -> subprocess.Popen[bytes]:
    _ca, crt, key = certs
    if a.stack == "cli":
        if a.http or a.loop:
            raise SystemExit("--stack cli is the real command (its own stack): use --stack asgi to vary it")
        exe = Path(sys.executable).parent / "kubefort"
        cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "kubefort"]
        argv = [*cmd, "admission", "serve", "--tls-cert-file", str(crt), "--tls-private-key-file", str(key)]
        argv += [
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-config",
            "--no-cluster-cache",
            "--log-level",
            "warning",
            "--workers",
            str(a.workers),
        ]
    else:
        argv = [sys.executable, __file__, "--serve-child", "--cert", str(crt), "--key", str(key), "--port", str(port)]
        argv += ["--stack", a.stack, "--workers", str(a.workers)]
        argv += ["--http", a.http] if a.http else []
        argv += ["--loop", a.loop] if a.loop else []
    # a session of its own: the worker processes it forks are stopped with it (stop_server)
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server and every worker it forked (its process group), then wait."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def https_get(port: int, path: str, ca: Path) -> tuple[int, bytes]:
    ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=ctx, timeout=5) as r:
            return int(r.status), r.read()
    except OSError:
        return 0, b""


def wait_ready(proc: subprocess.Popen[bytes], port: int, ca: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while https_get(port, "/readyz", ca)[0] != 200:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"the server exited with {proc.returncode}:\n{err[-2000:]}")
        if time.monotonic() > deadline:
            raise SystemExit("the server did not become ready")
        time.sleep(0.1)


def process_tree(pid: int) -> list[int]:
    out = [pid]
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            for c in children:
                out += process_tree(int(c))
    except OSError:
        pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def memory(pids: list[int]) -> tuple[float, float]:
    """(RSS, peak RSS) in MiB, summed over the processes."""
    rss = hwm = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1]) / 1024
        except OSError:
            continue
    return rss, hwm


def histogram_means(text: str) -> dict[str, tuple[float, float]]:
    """name -> (sum, count) of the server's histograms."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, tuple[float, float]] = {}
    for fam in text_string_to_metric_families(text):
        if fam.type != "histogram":
            continue
        s = sum(x.value for x in fam.samples if x.name.endswith("_sum"))
        c = sum(x.value for x in fam.samples if x.name.endswith("_count"))
        out[fam.name] = (s, c)
    return out


# -- the load generator --------------------------------------------------------------------------
async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def load(a: argparse.Namespace, head: bytes, tail: bytes) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=a.ca)
    loop = asyncio.get_running_loop()
    n_warm = int(a.rate * a.warmup)
    n = n_warm + int(a.rate * a.seconds)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    verdicts: dict[str, int] = {}
    start = loop.time() + 0.5
    span = [float("inf"), 0.0]  # first due time and last answer of the measured requests
    answered_all = [0]  # answers to every request, warm-up included (the server's work)

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def producer() -> None:
        for i in range(n):
            delay = start + i / a.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((i, start + i / a.rate))
        for _ in range(a.connections):
            queue.put_nowait(None)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", a.port, ssl=ctx)
        while True:
            item = await queue.get()
            if item is None:
                break
            i, due = item
            left = a.timeout - (loop.time() - due)
            if left <= 0:  # the API server would have given up on it (timeoutSeconds): never sent
                if i >= n_warm:
                    error("timeout")
                continue
            uid = f"bench-{i:09d}".encode()
            body = head + uid + tail
            req = (
                b"POST /validate?timeout=5s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Accept: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            try:
                status, answer = await asyncio.wait_for(_exchange(reader, writer, req), timeout=left)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                error(type(exc).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", a.port, ssl=ctx)
                continue
            done = loop.time()
            if status == 200:
                answered_all[0] += 1
            if i < n_warm:
                continue
            if status != 200 or uid not in answer:
                error(f"HTTP {status}")
                continue
            verdict = "allowed" if b'"allowed":true' in answer else "denied"
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            latencies.append(done - due)
            span[0], span[1] = min(span[0], due), max(span[1], done)
        writer.close()

    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.gather(producer(), *(worker() for _ in range(a.connections)))
    return {
        "latencies": latencies,
        "errors": errors,
        "verdicts": verdicts,
        "wall": max(span[1] - span[0], 1e-9),
        "cpu": time.process_time() - c0,
        "run": time.perf_counter() - w0,  # the whole run: warm-up, measured part, the tail of late answers
        "sent": n - n_warm,
        "total": n,
        "answered_all": answered_all[0],
    }


def client_child(a: argparse.Namespace) -> None:
    head, tail = (Path(a.template + ".head").read_bytes(), Path(a.template + ".tail").read_bytes())
    result = asyncio.run(load(a, head, tail))
    print(json.dumps(result))


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("object", nargs="?", default=str(HERE / "data" / "deployment.yaml"))
    ap.add_argument("--rate", type=float, default=1000.0, help="requests per second offered")
    ap.add_argument("--seconds", type=float, default=60.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds at the same rate, not counted")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument(
        "--timeout", type=float, default=5.0, help="a review not answered this long after its due time is an error"
    )
    ap.add_argument("--namespace", default="shop")
    ap.add_argument("--stack", choices=["cli", "asgi", "starlette"], default="cli")
    ap.add_argument("--http", choices=["h11", "httptools"], help="default: what the command uses")
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], help="default: what the command uses")
    ap.add_argument("--workers", type=int, default=1)
    # internal: the server and the load generator run as children of this script
    ap.add_argument("--serve-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--client-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cert", help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--ca", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--template", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve_child:
        serve_child(a)
        return
    if a.client_child:
        client_child(a)
        return

    obj = yaml.safe_load(Path(a.object).read_text())
    with tempfile.TemporaryDirectory(prefix="kubefort-bench-") as tmp:
        d = Path(tmp)
        certs = make_certs(d)
        head, tail = review_template(obj, a.namespace)
        (d / "review.head").write_bytes(head)
        (d / "review.tail").write_bytes(tail)
        port = free_port()
        server = start_server(a, certs, port)
        try:
            wait_ready(server, port, certs[0])
            pids = process_tree(server.pid)
            cpu0 = cpu_seconds(pids)
            client = subprocess.run(
                [sys.executable, __file__, "--client-child", "--ca", str(certs[0]), "--port", str(port)]
                + ["--template", str(d / "review"), "--rate", str(a.rate), "--seconds", str(a.seconds)]
                + ["--warmup", str(a.warmup), "--connections", str(a.connections), "--timeout", str(a.timeout)],
                capture_output=True,
                text=True,
                check=False,
            )
            pids = process_tree(server.pid)
            server_cpu = cpu_seconds(pids) - cpu0
            rss, peak = memory(pids)
            _status, metrics_text = https_get(port, "/metrics", certs[0])
        finally:
            stop_server(server)
    if client.returncode != 0:
        raise SystemExit(f"the load generator failed:\n{client.stderr[-3000:]}")
    r = json.loads(client.stdout.splitlines()[-1])
    lat = sorted(r["latencies"])
    answered = len(lat)
    errors = sum(r["errors"].values())
    window = r["run"]  # the server's CPU was measured over the whole client run
    means = histogram_means(metrics_text.decode())
    req_sum, req_n = means.get("kubefort_admission_request_duration_seconds", (0.0, 0.0))
    judge_sum, judge_n = means.get("kubefort_admission_judge_duration_seconds", (0.0, 0.0))
    from kubefort.admission.server import fastest_stack

    http, loop = a.http or fastest_stack()[0], a.loop or fastest_stack()[1]
    print(
        f"stack {a.stack} ({http}, {loop}, {a.workers} worker{'s' if a.workers > 1 else ''}); "
        f"{a.rate:,.0f} req/s offered for {a.seconds:g} s (+{a.warmup:g} s warm-up) over {a.connections} TLS "
        f"connections; {Path(a.object).name} as a CREATE in namespace {a.namespace}, {len(head) + len(tail) + 18:,} bytes"
    )
    print(
        f"sent {r['sent']:,}, answered {answered:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(r['verdicts'].items()))}), "
        f"errors {errors}{' ' + json.dumps(r['errors']) if errors else ''}; achieved {answered / r['wall']:,.0f} req/s"
    )
    if lat:
        print(
            f"latency from the due time: p50 {pct(lat, 0.5) * 1e3:.2f} ms, p99 {pct(lat, 0.99) * 1e3:.2f} ms, "
            f"p99.9 {pct(lat, 0.999) * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms, mean {statistics.fmean(lat) * 1e3:.2f} ms"
        )
    per_review = server_cpu / max(r["answered_all"], 1)
    print(
        f"server: CPU {server_cpu / window:.2f} cores ({server_cpu:.1f} s over {window:.1f} s, "
        f"{per_review * 1e3:.2f} ms per review answered), RSS {rss:.0f} MiB (peak {peak:.0f} MiB); "
        f"load generator: {r['cpu'] / window:.2f} cores"
    )
    if per_review:
        print(f"at that CPU cost one process answers at most {1 / per_review:,.0f} reviews per second of a core")
    if req_n and judge_n:
        jm, rm = judge_sum / judge_n * 1e3, req_sum / req_n * 1e3
        cm = statistics.fmean(lat) * 1e3 if lat else float("nan")
        print(
            f"checks and verdict: {jm:.3f} ms of the {rm:.3f} ms from a review's arrival to its answer "
            f"({jm / rm:.0%}), {jm / cm:.0%} of the mean latency the client saw ({cm:.3f} ms)"
        )


if __name__ == "__main__":
    main()
