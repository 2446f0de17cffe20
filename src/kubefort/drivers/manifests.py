"""The manifest driver: load every input and evaluate it, in a process pool when it pays.

Workers load, check and locate one input each and send back a `Partial`; results are merged in
the order of the inputs, so reports never depend on which worker finished first.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from kubefort.config import Config
from kubefort.engine import Engine, EngineSettings, Partial
from kubefort.loaders.manifests import InputSpec, load
from kubefort.model import ScanResult

PARALLEL_MIN_BYTES = 4 * 1024 * 1024

_engine: Engine | None = None  # the engine forked workers inherit


def _evaluate_spec(spec: InputSpec) -> Partial:
    if _engine is None:
        raise RuntimeError("worker used before its initializer")
    return _engine.evaluate(load(spec, _engine.settings.load))


def cpus(jobs: int | None) -> int:
    return jobs if jobs and jobs > 0 else (os.cpu_count() or 1)


def evaluate_all(
    engine: Engine,
    specs: Sequence[InputSpec],
    *,
    jobs: int | None = None,
    stdin_data: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Partial:
    """Load and evaluate every input; the merged Partial keeps the order of `specs`."""
    global _engine
    ncpu = cpus(jobs)
    total_bytes = sum(s.size for s in specs)
    rendered = sum(1 for s in specs if s.kind in ("helm", "kustomize"))
    parallel = ncpu > 1 and len(specs) > 1 and (total_bytes >= PARALLEL_MIN_BYTES or (rendered > 0 and len(specs) > 2))
    parallel = parallel and "fork" in multiprocessing.get_all_start_methods()
    done = 0
    parts: list[Partial | None] = [None] * len(specs)
    if parallel:
        files = [i for i, s in enumerate(specs) if s.kind != "stdin"]
        # big files first so that no worker is left with the largest at the end
        files.sort(key=lambda i: -specs[i].size)
        chunk = max(1, min(64, len(files) // (ncpu * 8) or 1))
        _engine = engine
        try:
            with ProcessPoolExecutor(max_workers=ncpu, mp_context=multiprocessing.get_context("fork")) as ex:
                for i, part in zip(
                    files, ex.map(_evaluate_spec, [specs[i] for i in files], chunksize=chunk), strict=False
                ):
                    parts[i] = part
                    done += 1
                    if progress:
                        progress(done, len(specs))
        finally:
            _engine = None
    merged = Partial()
    for i, s in enumerate(specs):
        done_part = parts[i]
        if done_part is None:
            done_part = engine.evaluate(load(s, engine.settings.load, stdin_data if s.kind == "stdin" else None))
            done += 1
            if progress:
                progress(done, len(specs))
        merged.merge(done_part)
        parts[i] = None
    return merged


def scan(
    specs: Sequence[InputSpec],
    settings: EngineSettings,
    *,
    config: Config | None = None,
    baseline: set[str] | None = None,
    jobs: int | None = None,
    stdin_data: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    """Scan manifests: every input's per-object checks, then the cross-object checks on all of them."""
    t0 = time.perf_counter()
    engine = Engine(settings)
    part = evaluate_all(engine, specs, jobs=jobs, stdin_data=stdin_data, progress=progress)
    return engine.finish(part, stdin_data=stdin_data, jobs=cpus(jobs), config=config, baseline=baseline, started=t0)
