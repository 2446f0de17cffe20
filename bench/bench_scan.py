"""Benchmark: scan ../shared/corpus/bench and print figures (never a timed test).

Usage: .venv/bin/python bench/bench_scan.py [CORPUS_DIR] [--jobs N] [--repeat R]

Prints: files, bytes, objects; wall time and objects/s of a full `kubefort scan` (all checks,
JSON report rendered), peak RSS of the scanning processes, the time of a pure parse of the same
files with kubefort's parser (single process and the same process pool), and PyYAML's C loader
for reference.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent / "shared" / "corpus" / "bench"


def _files(root: Path) -> list[str]:
    out = []
    for d, _, fs in os.walk(root):
        out += [os.path.join(d, f) for f in fs if f.endswith((".yaml", ".yml", ".json"))]
    return sorted(out)


def _parse_file(path: str) -> int:
    from kubefort.loaders.manifests import InputSpec, load

    li = load(InputSpec("file", path, os.path.getsize(path)))
    return len(li.resources)


def _pyyaml_file(path: str) -> int:
    import yaml

    with open(path, "rb") as fh:
        try:
            return sum(1 for _ in yaml.load_all(fh.read(), Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            return 0


def _pool_time(fn, files: list[str], jobs: int) -> tuple[float, int]:
    t = time.perf_counter()
    if jobs <= 1:
        n = sum(fn(f) for f in files)
    else:
        order = sorted(files, key=lambda f: -os.path.getsize(f))
        with ProcessPoolExecutor(jobs) as ex:
            n = sum(ex.map(fn, order, chunksize=16))
    return time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    root = Path(a.corpus)
    if not root.is_dir():
        sys.exit(f"corpus not found: {root} (it lives in ../shared beside the checkout)")
    files = _files(root)
    size = sum(os.path.getsize(f) for f in files)
    print(f"corpus: {root}\nfiles: {len(files):,}  bytes: {size / 1e6:.1f} MB  cpus: {os.cpu_count()}  jobs: {a.jobs}")

    kubefort = [
        sys.executable,
        "-m",
        "kubefort",
        "scan",
        str(root),
        "-o",
        "json=/dev/null",
        "-q",
        "--allow-incomplete",
        "--fail-on",
        "never",
        "-j",
        str(a.jobs),
    ]
    walls = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        subprocess.run(kubefort, check=True)
        walls.append(time.perf_counter() - t)
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall = min(walls)

    parse1, nobj = _pool_time(_parse_file, files, 1)
    parsep, _ = _pool_time(_parse_file, files, a.jobs)
    pyy, _ = _pool_time(_pyyaml_file, files, a.jobs)
    print(f"objects: {nobj:,}")
    print(
        f"scan (all checks, JSON report): {wall:.2f} s wall (best of {a.repeat}: {', '.join(f'{w:.2f}' for w in walls)})  {nobj / wall:,.0f} objects/s  {size / 1e6 / wall:.1f} MB/s"
    )
    print(f"peak RSS of one scanning process: {rss_kb / 1024:.0f} MB")
    print(f"pure parse, kubefort loader, 1 process: {parse1:.2f} s ({size / 1e6 / parse1:.1f} MB/s)")
    print(f"pure parse, kubefort loader, {a.jobs} processes: {parsep:.2f} s")
    print(f"pure parse, PyYAML CSafeLoader, {a.jobs} processes: {pyy:.2f} s")
    print(f"scan / pure parse ({a.jobs} processes): {wall / parsep:.2f}x")


if __name__ == "__main__":
    main()
