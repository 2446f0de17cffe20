"""Benchmark: the history store (never a timed test).

Usage: .venv/bin/python bench/bench_history.py [--objects 50000] [--scans 1000] [--findings 10000]
       [--postgres URL | --postgres-temp] [--skip-record] [--skip-populate]

1. record: generates `--objects` objects (copies of examples/insecure-app and
   examples/hardened-app with distinct names and namespaces: a mix with about the findings per
   object of a real cluster, then insecure-app alone, the worst case), scans them with kubefort
   (not timed), and times `Store.record` of the result on SQLite (and PostgreSQL): the issue's
   "storing a 50,000-object scan adds < 2 s".
2. populate: `populate(store, scans, findings)` writes a history of `scans` scans of one target
   with about `findings` open findings each (some churn, some incomplete scans, over 90 days)
   and prints how long that took; the history commands (metrics, report html) time themselves
   against it (`timed()` below).

`populate` is reusable: `from bench_history import populate`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

DAY = 86400.0


# ---------------------------------------------------------------------------------------------
# a real generated scan
# ---------------------------------------------------------------------------------------------
def _docs(app: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in sorted((ROOT / "examples" / app).glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict)]
    return docs


def _copy(doc: dict[str, Any], i: int) -> dict[str, Any]:
    """`doc` renamed for copy `i`: its name and namespace (a Namespace's name) get the suffix."""
    import copy

    d = copy.deepcopy(doc)
    meta = d.setdefault("metadata", {})
    meta["name"] = f"{meta.get('name', 'x')}-{i}"
    if "namespace" in meta:
        meta["namespace"] = f"{meta['namespace']}-{i}"
    return d


def generate(directory: Path, objects: int, insecure_share: float) -> int:
    """Write about `objects` objects (copies of the two example apps) into `directory`; the
    share of insecure-app copies is `insecure_share`. Returns the number written."""
    insecure, hardened = _docs("insecure-app"), _docs("hardened-app")
    directory.mkdir(parents=True, exist_ok=True)
    written, i, batch, files = 0, 0, [], 0
    while written < objects:
        use_insecure = insecure_share >= 1 or (insecure_share > 0 and i % round(1 / insecure_share) == 0)
        docs = [_copy(d, i) for d in (insecure if use_insecure else hardened)]
        batch += docs
        written += len(docs)
        i += 1
        if len(batch) >= 500 or written >= objects:
            (directory / f"part-{files:04d}.yaml").write_text(yaml.safe_dump_all(batch, sort_keys=False))
            batch, files = [], files + 1
    return written


def scan_dir(directory: Path) -> tuple[Any, Any]:
    """kubefort's scan of `directory` (every check but the audit ones), and the registry."""
    from kubefort import engine
    from kubefort.drivers import manifests
    from kubefort.loaders.manifests import discover
    from kubefort.registry import load_builtin_checks

    reg = load_builtin_checks()
    ids = [m.id for m in reg if m.target != "audit"]
    settings = engine.EngineSettings(check_ids=ids, keep_passed=False)
    return manifests.scan(discover([str(directory)], ()), settings, jobs=2), reg


def time_record(url: str, result: Any, reg: Any, label: str) -> float:
    from kubefort.history.store import Store
    from kubefort.history.target import TargetLabel

    with Store.open(url) as store:
        t = time.perf_counter()
        store.record(result, reg, kind="cluster", target=TargetLabel(f"cluster:{label}", "cluster"))
        first = time.perf_counter() - t
        t = time.perf_counter()
        store.record(result, reg, kind="cluster", target=TargetLabel(f"cluster:{label}", "cluster"))
        again = time.perf_counter() - t
    print(f"  record {label}: first scan of the target {first:.2f} s, the same scan again {again:.2f} s")
    return first


# ---------------------------------------------------------------------------------------------
# a long history
# ---------------------------------------------------------------------------------------------
def _outcome_pool(n: int, reg: Any) -> list[Any]:
    """`n` distinct failed outcomes over the real checks (workload-like resources)."""
    from kubefort.model import Outcome, ResourceId, Source, Status

    metas = [m for m in reg if m.target in ("container", "pod", "object")]
    pool = []
    for k in range(n):
        m = metas[k % len(metas)]
        rid = ResourceId("apps/v1", "Deployment", f"ns-{k % 40}", f"app-{k // len(metas)}")
        pool.append(
            Outcome(
                check_id=m.id,
                status=Status.FAILED,
                resource=rid,
                source=Source(f"apps/ns-{k % 40}.yaml", 0, 1 + k % 300),
                container="app" if m.target == "container" else None,
                message=f"{m.title} ({k})",
                fingerprint=f"{k:024x}",
                severity=m.severity,
            )
        )
    return pool


def populate(
    store: Any,
    scans: int,
    findings: int,
    *,
    target: str = "cluster:bench",
    churn: int = 50,
    days: float = 90.0,
    end: float | None = None,
    incomplete_every: int = 10,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Record `scans` scans of `target` into `store`, each with `findings` failed outcomes: every
    scan fixes the `churn` oldest findings of the one before and brings `churn` new ones; every
    `incomplete_every`th scan is incomplete (one not-evaluated outcome), so it fixes nothing.
    The scans are spread evenly over the `days` before `end` (default: now). Returns their uids."""
    from kubefort import __version__
    from kubefort.history.target import TargetLabel
    from kubefort.model import Outcome, ResourceId, ScanResult, Source, Status
    from kubefort.registry import load_builtin_checks

    reg = load_builtin_checks()
    pool = _outcome_pool(findings + scans * churn, reg)
    stop = end if end is not None else time.time()
    step = days * DAY / max(scans, 1)
    label = TargetLabel(target, target.partition(":")[0] or "custom", {"bench": "yes"})
    resources = [
        (ResourceId("apps/v1", "Deployment", f"ns-{k % 40}", f"app-{k}"), Source("apps.yaml")) for k in range(2000)
    ]
    broken = Outcome("KF-INPUT-001", Status.NOT_EVALUATED, None, Source("broken.yaml"), message="unparsable")
    uids = []
    for i in range(scans):
        outcomes = pool[i * churn : i * churn + findings]
        incomplete = incomplete_every > 0 and i % incomplete_every == incomplete_every - 1
        result = ScanResult(
            tool_version=__version__,
            outcomes=[*outcomes, broken] if incomplete else list(outcomes),
            inputs=[],
            resources=resources,
            checks_run=sorted({o.check_id for o in outcomes}),
            finished_at=stop - (scans - 1 - i) * step,
            passed_omitted=findings * 3,
        )
        uids.append(store.record(result, reg, kind="cluster", target=label).uid)
        if progress is not None:
            progress(i + 1)
    return uids


def timed(name: str, fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    took = time.perf_counter() - t
    print(f"  {name}: {took:.2f} s")
    return took


def time_metrics(url: str, target: str | None = None) -> dict[str, float]:
    """`kubefort metrics` against a populated store: in process (open the store, compute, render
    each format), and the whole command in a fresh process (`-o json`, start-up included). Wall
    time and CPU time (this machine may be shared: CPU time is what the command itself costs)."""
    import resource
    import subprocess

    from kubefort.cli.metrics import collect, render
    from kubefort.history.store import Store

    out: dict[str, float] = {}
    scope = target or "the fleet"
    for fmt in ("json", "prometheus", "table"):
        cpu = time.process_time()

        def run(fmt: str = fmt) -> None:
            with Store.open(url) as store:
                render(fmt, collect(store, target=target, since=None, now=time.time()))

        out[fmt] = timed(f"metrics of {scope} -o {fmt} (in process)", run)
        print(f"    CPU {time.process_time() - cpu:.2f} s")
    argv = [sys.executable, "-m", "kubefort", "metrics", "--store", url, "-o", "json"]
    argv += ["--target", target] if target else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    out["command"] = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"  kubefort metrics -o json of {scope} (a new process): {out['command']:.2f} s, CPU {cpu:.2f} s")
    return out


def time_report_html(url: str, work: Path) -> float:
    """`kubefort report html` of the whole history of a populated store: in process (build the
    view, render the page) and the whole command in a fresh process; the page's size (< 5 MB).
    Then, when Chromium is installed, opens the page in it three times (navigation start to the
    charts drawn, as tests/history_browser.py measures it)."""
    import subprocess

    from kubefort.history.html import render_bytes
    from kubefort.history.store import Store
    from kubefort.history.view import build_view

    size = 0

    def run() -> None:
        nonlocal size
        with Store.open(url) as store:
            size = len(render_bytes(build_view(store, since=None, now=time.time())))

    took = timed("report html of the fleet, --since all (in process)", run)
    print(f"    HTML size: {size / 1e6:.2f} MB")
    out = work / "report.html"
    argv = [sys.executable, "-m", "kubefort", "report", "html", "--store", url, "--since", "all", "-o", str(out)]
    t = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    print(f"  kubefort report html --since all (a new process): {time.perf_counter() - t:.2f} s")
    import history_browser

    if history_browser.missing_reason() is None:
        with history_browser.chromium() as driver:
            loads = [history_browser.load(driver, out) for _ in range(3)]
        shown = ", ".join(f"{p.rendered_ms / 1000:.2f} s (wall {p.wall_s:.2f} s)" for p in loads)
        print(f"  the page in headless Chromium, navigation start to charts drawn: {shown}")
    return took


def _postgres(args: argparse.Namespace) -> tuple[list[str], Any]:
    """PostgreSQL URLs for the record phase and for the long history (two databases of a
    throw-away server, so that neither phase's figures include the other's data; `--postgres URL`
    gives one database, used for both), and the server to stop (None: the user's)."""
    if args.postgres:
        return [args.postgres, args.postgres], None
    if not args.postgres_temp:
        return [], None
    import history_db

    server = history_db.PostgresServer(history_db.pg_bindir() or "").start()
    return [server.url(server.create_database()), server.url(server.create_database())], server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=50_000)
    ap.add_argument("--insecure-share", type=float, default=0.1, help="share of insecure-app copies in the mix")
    ap.add_argument("--scans", type=int, default=1000)
    ap.add_argument("--findings", type=int, default=10_000)
    ap.add_argument("--postgres", metavar="URL", help="also measure on this (empty) PostgreSQL database")
    ap.add_argument("--postgres-temp", action="store_true", help="also measure on a throw-away local PostgreSQL")
    ap.add_argument("--skip-record", action="store_true")
    ap.add_argument("--skip-populate", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kubefort-bench-history-"))
    pg_urls, server = _postgres(args)
    # the record phase writes its 50,000-object scans to a store of its own: the long history's
    # figures (metrics, report html of the fleet) are then those of the history alone
    record_urls = [("sqlite", f"sqlite:///{work / 'record.db'}")] + ([("postgresql", pg_urls[0])] if pg_urls else [])
    urls = [("sqlite", f"sqlite:///{work / 'history.db'}")] + ([("postgresql", pg_urls[1])] if pg_urls else [])
    try:
        if not args.skip_record:
            for share in (args.insecure_share, 1.0):
                d = work / f"objects-{share}"
                n = generate(d, args.objects, share)
                t = time.perf_counter()
                result, reg = scan_dir(d)
                failed = sum(1 for o in result.outcomes if o.status.value == "failed")
                print(
                    f"scan of {n:,} objects ({share:.0%} insecure-app copies): {len(result.resources):,} objects, "
                    f"{failed:,} findings, scanned in {time.perf_counter() - t:.1f} s (not part of the figure)"
                )
                for db, url in record_urls:
                    time_record(url, result, reg, f"{db}-{share}")
                shutil.rmtree(d)
        if not args.skip_populate:
            from kubefort.history.store import Store

            for db, url in urls:
                with Store.open(url) as store:
                    print(f"populate {db}: {args.scans:,} scans x {args.findings:,} findings")
                    timed("populate", lambda store=store: populate(store, args.scans, args.findings))  # type: ignore[misc]
                    timed("scans() of the target", lambda store=store: store.scans(target="cluster:bench"))  # type: ignore[misc]
                    timed("findings(state=open)", lambda store=store: store.findings(state="open"))  # type: ignore[misc]
                    timed("episodes()", lambda store=store: store.episodes())  # type: ignore[misc]
                time_metrics(url)
                time_metrics(url, "cluster:bench")
                time_report_html(url, work)
                if db == "sqlite":
                    print(f"  SQLite file: {os.path.getsize(work / 'history.db') / 1e6:.1f} MB")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
