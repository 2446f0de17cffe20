"""Progress of a long manifest scan on stderr: inputs, then cross-object checks, then reports.

Drawn with rich, only when stderr is a terminal and the scan is large enough to wait for; the
events themselves come from the driver and the engine (`kubefort.engine.progress`), which draw
nothing. Each phase gets its own bar, so a scan never sits at 100 % while the RBAC and
NetworkPolicy analysis runs, nor at 0 % while the largest file is parsed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from kubefort.engine.progress import Phase, ProgressCallback, ProgressEvent
from kubefort.loaders.manifests import InputSpec

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

LARGE_INPUTS = 50  # more inputs than this, or
LARGE_BYTES = 4 * 1024 * 1024  # this many bytes, or
LARGE_RENDERS = 3  # this many charts or kustomizations to render: worth a progress display

PHASE_TITLES: dict[Phase, str] = {
    "inputs": "reading and checking inputs",
    "cross-object": "cross-object checks (RBAC, NetworkPolicy ...)",
    "reports": "writing reports",
}


def is_large(specs: Sequence[InputSpec]) -> bool:
    """A scan long enough for a progress display (a small one would only flicker)."""
    return (
        len(specs) > LARGE_INPUTS
        or sum(s.size for s in specs) >= LARGE_BYTES
        or sum(1 for s in specs if s.kind in ("helm", "kustomize")) >= LARGE_RENDERS
    )


def fraction(ev: ProgressEvent) -> float:
    """How far the phase is, 0..1. Inputs count by both bytes and files (parsing time follows the
    bytes; rendered charts have no size): never stuck while inputs complete, 1 when all have."""
    if ev.total <= 0:
        return 1.0
    files = ev.done / ev.total
    if ev.phase == "inputs" and ev.bytes_total > 0:
        return (files + ev.bytes_done / ev.bytes_total) / 2
    return files


def detail(ev: ProgressEvent) -> str:
    """What the phase has done so far, in words."""
    if ev.phase == "inputs":
        text = f"{ev.done:,}/{ev.total:,} {'input' if ev.total == 1 else 'inputs'}, {ev.objects:,} objects"
        if ev.bytes_total:
            text += f", {ev.bytes_done / 1e6:,.1f}/{ev.bytes_total / 1e6:,.1f} MB"
        return text
    noun = "check" if ev.phase == "cross-object" else "report"
    text = f"{ev.done}/{ev.total} {noun}{'' if ev.total == 1 else 's'}"
    return text + (f" (last: {ev.current})" if ev.current else "")


class Display:
    """A `ProgressCallback` that draws one bar per phase; stops once the reports are written."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self.progress: Progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
            # no redirection of stdout (reports go there as they are) nor of stderr: workers are
            # forked while the display runs, and must not inherit a proxy whose lock it may hold
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.tasks: dict[Phase, TaskID] = {}
        self.started = self.stopped = False

    def __call__(self, ev: ProgressEvent) -> None:
        if self.stopped:
            return
        if not self.started:
            self.progress.start()
            self.started = True
        task = self.tasks.get(ev.phase)
        if task is None:
            for earlier in self.tasks.values():  # a new phase: the earlier ones are over
                self.progress.update(earlier, completed=1000)
            task = self.tasks[ev.phase] = self.progress.add_task(PHASE_TITLES[ev.phase], total=1000, detail="")
        self.progress.update(task, completed=round(fraction(ev) * 1000), detail=detail(ev))
        if ev.done in (0, ev.total):
            self.progress.refresh()  # every phase is drawn at least once, however fast it is
        if ev.phase == "reports" and ev.done >= ev.total:
            self.stop()

    def stop(self) -> None:
        if self.started and not self.stopped:
            self.progress.stop()
        self.stopped = True


@contextmanager
def scan_display(specs: Sequence[InputSpec], *, quiet: bool, stream: TextIO) -> Iterator[ProgressCallback | None]:
    """A progress callback drawing on `stream` when it is a terminal and the scan is large; None
    otherwise (never any progress output on a pipe or a file). The display ends with the block."""
    if quiet or not stream.isatty() or not is_large(specs):
        yield None
        return
    display = Display(stream)
    try:
        yield display
    finally:
        display.stop()
