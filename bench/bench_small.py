"""Benchmark: `kubefort scan` of one chart-sized directory (100 objects), as a CI hook runs it.

Usage: .venv/bin/python bench/bench_small.py [--apps 20] [--repeat 10]

Writes 20 apps x 5 objects (Deployment from bench/data/deployment.yaml with names changed,
Service, ConfigMap, ServiceAccount, HorizontalPodAutoscaler) into a temporary directory, one file
per app, then prints the best wall time of `kubefort scan DIR -o json=/dev/null` run as a
subprocess (interpreter start-up and imports included: what a pre-commit hook waits for), the
time of `python -c "import kubefort.cli.scan, kubefort.checks, kubefort.engine"` alone, and
the in-process time of the scan without imports.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KUBEFORT = [sys.executable, "-m", "kubefort"]


def write_chart(d: Path, apps: int) -> int:
    base = (HERE / "data" / "deployment.yaml").read_text()
    for i in range(apps):
        name = f"app{i:02d}"
        docs = [
            base.replace("storefront", name),
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop}}\n"
            f"spec:\n  selector: {{app.kubernetes.io/name: {name}}}\n  ports:\n  - {{port: 80, targetPort: http}}\n",
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}-config, namespace: shop}}\n"
            f"data:\n  LOG_FORMAT: json\n  UPSTREAM: http://{name}-backend.shop.svc\n",
            f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {name}, namespace: shop}}\n"
            "automountServiceAccountToken: false\n",
            f"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {name}, namespace: shop}}\n"
            f"spec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}\n"
            "  minReplicas: 2\n  maxReplicas: 6\n",
        ]
        (d / f"{name}.yaml").write_text("---\n".join(docs))
    return apps * len(docs)


def best(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        n = write_chart(d, a.apps)
        size = sum(p.stat().st_size for p in d.iterdir())
        scan = best([*KUBEFORT, "scan", str(d), "-o", "json=/dev/null"], a.repeat)
        bare = best([sys.executable, "-c", "pass"], a.repeat)
        imports = best(
            [
                sys.executable,
                "-c",
                "import kubefort.cli.scan, kubefort.checks, kubefort.engine, kubefort.reporters.json",
            ],
            a.repeat,
        )
        inproc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, time\n"
                "from kubefort.drivers import manifests as m\n"
                "from kubefort.engine import EngineSettings\n"
                "from kubefort.loaders.manifests import discover\n"
                "from kubefort.registry import load_builtin_checks\n"
                "reg = load_builtin_checks()\n"
                "s = EngineSettings(check_ids=tuple(x.id for x in reg))\n"
                "specs = discover([sys.argv[1]])\n"
                "m.scan(specs, s, jobs=1)\n"
                "t = time.perf_counter(); m.scan(discover([sys.argv[1]]), s, jobs=1)\n"
                "print(time.perf_counter() - t)\n",
                str(d),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    print(f"chart: {n} objects in {a.apps} files, {size / 1024:.0f} KiB")
    print(f"kubefort scan DIR -o json (subprocess, best of {a.repeat}): {scan:.3f} s   target <= 0.25 s")
    print(f"  python start-up alone:          {bare:.3f} s")
    print(f"  start-up + imports of a scan:   {imports:.3f} s")
    print(f"  the scan in process (warm):     {float(inproc.stdout):.3f} s")


if __name__ == "__main__":
    main()
