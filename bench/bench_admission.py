"""Benchmark: the per-object path admission control uses (`Engine.check_object`), one core.

Usage: .venv/bin/python bench/bench_admission.py [OBJECT.yaml] [--seconds S]

Prints objects/s and the per-object latency (p50/p99) of every per-object check (the default
selection less the cross-object checks, which need a whole scan) on a realistic Deployment
(bench/data/deployment.yaml): decode of the object as JSON, as an AdmissionReview carries it, then
the checks; no process pool, no file to locate in.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import orjson
import yaml

from kubefort.engine import Engine, EngineSettings
from kubefort.model import Status
from kubefort.registry import load_builtin_checks

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("object", nargs="?", default=str(HERE / "data" / "deployment.yaml"))
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    reg = load_builtin_checks()
    ids = tuple(m.id for m in reg if m.target not in ("cluster", "audit"))
    engine = Engine(EngineSettings(check_ids=ids, keep_passed=False), reg)  # admission needs the failures only
    body = orjson.dumps(yaml.safe_load(Path(a.object).read_text()))
    outs = engine.check_object(orjson.loads(body))
    counts = {s.value: sum(1 for o in outs if o.status is s) for s in Status}
    print(f"{len(ids)} per-object checks; one object gives {len(outs)} outcomes {counts}")
    lat: list[float] = []
    end = time.perf_counter() + a.seconds
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() < end:
        t = time.perf_counter()
        engine.check_object(orjson.loads(body))
        lat.append(time.perf_counter() - t)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    lat.sort()
    p99 = lat[int(len(lat) * 0.99)]
    print(
        f"{len(lat) / wall:,.0f} objects/s wall, {len(lat) / cpu:,.0f} objects per CPU second (one core); "
        f"latency p50 {statistics.median(lat) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"
    )


if __name__ == "__main__":
    main()
