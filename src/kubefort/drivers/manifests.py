"""The manifest driver: load every input and evaluate it, in a process pool when it pays.

Workers load, check and locate one input each and send back a `Partial`; results are merged in
the order of the inputs, so reports never depend on which worker finished first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from kubefort.config import Config
from kubefort.engine import Engine, EngineSettings, Partial
from kubefort.engine.progress import ProgressCallback, ProgressEvent
from kubefort.loaders.manifests import InputSpec, load
from kubefort.model import ScanResult

PARALLEL_MIN_BYTES = 4 * 1024 * 1024

_engine: Engine | None = None  # the engine forked workers inherit


def _evaluate_spec(spec: InputSpec) -> Partial:
    if _engine is None:
        raise RuntimeError("worker used before its initializer")
    return _engine.evaluate(load(spec, _engine.settings.load))


def _evaluate_specs(specs: list[InputSpec]) -> list[Partial]:
    return [_evaluate_spec(s) for s in specs]


def cpus(jobs: int | None) -> int:
    return jobs if jobs and jobs > 0 else (os.cpu_count() or 1)


def evaluate_all(
    engine: Engine,
    specs: Sequence[InputSpec],
    *,
    jobs: int | None = None,
    stdin_data: bytes | None = None,
    progress: ProgressCallback | None = None,
) -> Partial:
    """Load and evaluate every input; the merged Partial keeps the order of `specs`.

    `progress` hears of every input as it completes (phase "inputs"), in whatever order workers
    finish them."""
    global _engine
    ncpu = cpus(jobs)
    total_bytes = sum(s.size for s in specs)
    rendered = sum(1 for s in specs if s.kind in ("helm", "kustomize"))
    parallel = ncpu > 1 and len(specs) > 1 and (total_bytes >= PARALLEL_MIN_BYTES or (rendered > 0 and len(specs) > 2))
    if parallel:
        import multiprocessing  # only a scan that may use workers loads it

        parallel = "fork" in multiprocessing.get_all_start_methods()
    tally = _Tally(len(specs), total_bytes, progress)
    parts: list[Partial | None] = [None] * len(specs)
    if parallel:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        files = [i for i, s in enumerate(specs) if s.kind != "stdin"]
        # big files first so that no worker is left with the largest at the end
        files.sort(key=lambda i: -specs[i].size)
        size = max(1, min(64, len(files) // (ncpu * 8) or 1))
        chunks = [files[k : k + size] for k in range(0, len(files), size)]
        _engine = engine
        try:
            with ProcessPoolExecutor(max_workers=ncpu, mp_context=multiprocessing.get_context("fork")) as ex:
                futures = {ex.submit(_evaluate_specs, [specs[i] for i in chunk]): chunk for chunk in chunks}
                for fut in as_completed(futures):  # as they complete: progress never waits for the first chunk
                    for i, part in zip(futures[fut], fut.result(), strict=True):
                        parts[i] = part
                        tally.add(specs[i], part)
        finally:
            _engine = None
    merged = Partial()
    for i, s in enumerate(specs):
        done_part = parts[i]
        if done_part is None:
            done_part = engine.evaluate(load(s, engine.settings.load, stdin_data if s.kind == "stdin" else None))
            tally.add(s, done_part)
        merged.merge(done_part)
        parts[i] = None
    return merged


class _Tally:
    """Counts completed inputs for a progress callback (phase "inputs")."""

    def __init__(self, total: int, total_bytes: int, progress: ProgressCallback | None) -> None:
        self.total, self.total_bytes, self.progress = total, total_bytes, progress
        self.done = self.bytes = self.objects = 0
        if progress is not None:
            progress(ProgressEvent("inputs", 0, total, 0, total_bytes))

    def add(self, spec: InputSpec, part: Partial) -> None:
        self.done += 1
        self.bytes += spec.size
        self.objects += len(part.resources)
        if self.progress is not None:
            self.progress(
                ProgressEvent("inputs", self.done, self.total, self.bytes, self.total_bytes, self.objects, spec.path)
            )


def scan(
    specs: Sequence[InputSpec],
    settings: EngineSettings,
    *,
    config: Config | None = None,
    baseline: set[str] | None = None,
    jobs: int | None = None,
    stdin_data: bytes | None = None,
    progress: ProgressCallback | None = None,
) -> ScanResult:
    """Scan manifests: every input's per-object checks, then the cross-object checks on all of them.

    `progress` hears of both phases (`kubefort.engine.progress`)."""
    t0 = time.perf_counter()
    engine = Engine(settings)
    part = evaluate_all(engine, specs, jobs=jobs, stdin_data=stdin_data, progress=progress)
    return engine.finish(
        part,
        stdin_data=stdin_data,
        jobs=cpus(jobs),
        config=config,
        baseline=baseline,
        started=t0,
        progress=progress,
        extras=_image_extras(engine, part),
    )


def _image_extras(engine: Engine, part: Partial) -> dict[str, Any] | None:
    if not part.collected:
        return None
    from kubefort.images.summary import image_extras  # only a scan that collected workloads

    return image_extras(engine.ctx, part.collected)
