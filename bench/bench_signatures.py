"""Benchmark: cosign signature verification (KF-IMG-011's data), never a timed test.

Usage: .venv/bin/python bench/bench_signatures.py [--images 100] [--cached 1000]

Starts the CNCF distribution registry on 127.0.0.1 with TLS (built by
tools/install-test-registry.sh, with crane and cosign), pushes `--images` distinct images with
crane and signs each with cosign, then times `verify_all` on them with an empty cache (the
first verification: every signature fetched and checked, 8 at a time), and on `--cached`
distinct digests whose verification is in the cache (no registry access). Prints the figures.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

TOOLS = Path(os.environ.get("KUBEFORT_TOOLS_DIR", str(Path.home() / ".cache" / "kubefort" / "tools"))) / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--cached", type=int, default=1000)
    a = ap.parse_args()
    missing = [t for t in ("registry", "crane", "cosign") if not (TOOLS / t).is_file()]
    if missing:
        sys.exit(f"{', '.join(missing)} not built: run `bash tools/install-test-registry.sh`")
    from kubefort.images.verification import ImageVerificationOptions, SignaturePolicy, cache_path, verify_all
    from test_admission_serve import new_ca

    with tempfile.TemporaryDirectory(prefix="kubefort-bench-signatures-") as tmp:
        d = Path(tmp)
        ca = new_ca(d)
        crt, key = ca.issue(d, "registry")
        port = _free_port()
        host = f"127.0.0.1:{port}"
        (d / "config.yml").write_text(
            "version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {d / 'data'}}}}}\n"
            f"http: {{addr: '{host}', secret: bench, tls: {{certificate: {crt}, key: {key}}}}}\n"
        )
        env = {**os.environ, "SSL_CERT_FILE": str(ca.path), "COSIGN_PASSWORD": "bench", "HOME": str(d)}
        env["XDG_CACHE_HOME"] = str(d / "cache")
        os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
        proc = subprocess.Popen(
            [str(TOOLS / "registry"), "serve", str(d / "config.yml")],
            env={**os.environ, "OTEL_TRACES_EXPORTER": "none"},  # it would export traces to localhost:4318
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            subprocess.run(
                [str(TOOLS / "cosign"), "generate-key-pair"], cwd=d, env=env, check=True, capture_output=True
            )
            t = time.perf_counter()
            digests = []
            for i in range(a.images):
                layer = d / f"l{i}"
                layer.mkdir()
                (layer / "f").write_text(f"image {i}")
                subprocess.run(["tar", "cf", f"{layer}.tar", "-C", str(layer), "f"], check=True)
                ref = f"{host}/bench/app{i}:v1"
                subprocess.run([str(TOOLS / "crane"), "append", "-f", f"{layer}.tar", "-t", ref], env=env, check=True, capture_output=True)  # fmt: skip
                digest = subprocess.run(
                    [str(TOOLS / "crane"), "digest", ref], env=env, check=True, capture_output=True, text=True
                ).stdout.strip()
                subprocess.run(
                    [str(TOOLS / "cosign"), "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", f"{host}/bench/app{i}@{digest}"],
                    cwd=d, env=env, check=True, capture_output=True,
                )  # fmt: skip
                digests.append((f"{host}/bench/app{i}", digest))
            print(
                f"{a.images} images pushed with crane and signed with cosign in {time.perf_counter() - t:.1f} s (not part of the figures)"
            )
            opts = ImageVerificationOptions(
                policies=(SignaturePolicy((f"{host}/bench/*",), (str(d / "cosign.pub"),)),), ca_file=str(ca.path)
            )
            cache_path().unlink(missing_ok=True)
            t = time.perf_counter()
            results = verify_all(opts, digests)
            first = time.perf_counter() - t
            verified = sum(1 for r in results.values() if r.status == "verified")
            print(
                f"first verification of {a.images} images (empty cache, 8 at a time): {first:.2f} s, {verified} verified"
            )
            t = time.perf_counter()
            results = verify_all(opts, digests)
            print(f"the same {a.images} again (all cached): {time.perf_counter() - t:.3f} s")
            # --cached distinct digests, all in the cache: entries made by copying the real ones
            import orjson

            cache = orjson.loads(cache_path().read_bytes())
            ((k0, v0),) = list(cache.items())[:1]
            _, keys = k0.split("|", 1)
            many = [(f"{host}/bench/many{i}", f"sha256:{i:064x}") for i in range(a.cached)]
            cache.update({f"{r}@{dg}|{keys}": v0 for r, dg in many})
            cache_path().write_bytes(orjson.dumps(cache))
            opts2 = ImageVerificationOptions(
                policies=(SignaturePolicy((f"{host}/bench/*",), (str(d / "cosign.pub"),)),),
                ca_file=str(ca.path),
            )
            t = time.perf_counter()
            results = verify_all(opts2, many)
            took = time.perf_counter() - t
            verified = sum(1 for r in results.values() if r.status == "verified")
            print(f"{a.cached} distinct images with cached verification results: {took:.3f} s, {verified} verified")
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
