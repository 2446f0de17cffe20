"""Benchmark: `kubefort audit` on a large synthetic log, all detections on (1 and 2 processes).

Usage: .venv/bin/python bench/bench_audit.py [LOG] [--events N] [--jobs 1,2] [--repeat R]
       .venv/bin/python bench/bench_audit.py --rss-sizes 0.5GB,2GB      # memory stays flat

Without LOG, a log of --events events is generated (bench/gen_audit.py, seed 1) in a temporary
directory. Each run is the real command in a subprocess:

    kubefort audit LOG -j J -o json=/dev/null --fail-on never --allow-incomplete -q

and prints events/s (wall clock), the CPU time per event (user + sys of the process and its
workers), events per CPU-second, and the peak RSS of the largest process. On a machine shared
with other work, wall-clock figures depend on the load: the CPU figures do much less. The
best of --repeat runs is shown.

--rss-sizes generates logs of those sizes and prints the peak RSS for each (-j 2), with the
number of outcomes the report holds: memory is flat in the log's size, plus what the findings
themselves take (a report lists each one, with its event).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_audit  # noqa: E402 - the generator next to this script


def kubefort() -> list[str]:
    return [sys.executable, "-m", "kubefort"]


def run(log: Path, jobs: int, report: str = "/dev/null") -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the command and its workers, peak RSS in KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(
        [
            *kubefort(),
            "audit",
            str(log),
            "-j",
            str(jobs),
            "-o",
            f"json={report}",
            "--fail-on",
            "never",
            "--allow-incomplete",
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"kubefort audit failed ({p.returncode}): {p.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss


def count_events(log: Path) -> tuple[int, int]:
    n = 0
    with open(log, "rb") as fh:
        for _ in fh:
            n += 1
    return n, log.stat().st_size


def bench(log: Path, jobs: list[int], repeat: int) -> None:
    events, size = count_events(log)
    print(f"log: {log} ({events:,} events, {size / 1e6:,.1f} MB); all detections; best of {repeat}")
    for j in jobs:
        best: tuple[float, float, int] | None = None
        for _ in range(repeat):
            r = run(log, j)
            best = r if best is None or r[0] < best[0] else best
        assert best is not None
        wall, cpu, rss = best
        print(
            f"  -j {j}: {events / wall:>9,.0f} events/s wall ({wall:.2f} s); CPU {cpu:.2f} s = "
            f"{cpu / events * 1e6:.1f} us/event ({events / cpu:,.0f} events per CPU-second); peak RSS {rss / 1024:,.0f} MiB"
        )
    print(f"  (load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs)")


def rss_sizes(sizes: list[str], tmp: Path) -> None:
    print("peak RSS by log size (-j 2):")
    for text in sizes:
        log = tmp / f"audit-{text}.log"
        with open(log, "wb") as fh:
            n, written = gen_audit.write(fh, None, seed=1, size=gen_audit.parse_size(text))
        report = tmp / "report.json"
        wall, _cpu, rss = run(log, 2, str(report))
        kept = json.loads(report.read_bytes())["summary"]["outcomes"]
        findings = kept["failed"] + kept["not-evaluated"] + kept["suppressed"]
        print(
            f"  {written / 1e9:.2f} GB, {n:,} events: peak RSS {rss / 1024:,.0f} MiB "
            f"({findings:,} findings and not-evaluated outcomes held for the report; {n / wall:,.0f} events/s wall)"
        )
        log.unlink()
        report.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("log", nargs="?", help="an audit log (default: a generated one)")
    ap.add_argument("--events", type=int, default=500_000, help="events of the generated log")
    ap.add_argument("--jobs", default="1,2", help="comma-separated -j values")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rss-sizes", default="", help="e.g. 0.5GB,2GB: peak RSS for generated logs of these sizes")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubefort-audit-bench-") as d:
        tmp = Path(d)
        if a.rss_sizes:
            rss_sizes([s for s in a.rss_sizes.split(",") if s], tmp)
            return
        log = Path(a.log) if a.log else tmp / "audit.log"
        if not a.log:
            with open(log, "wb") as fh:
                gen_audit.write(fh, a.events, seed=1)
        bench(log, [int(j) for j in a.jobs.split(",")], a.repeat)


if __name__ == "__main__":
    main()
