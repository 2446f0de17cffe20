"""Progress of long scans: real events from the driver and the engine, drawn only on a terminal.

The driver reports every input as it completes (files, bytes, objects), the engine every
cross-object check, the CLI every report written; a display draws them on stderr only when
stderr is a terminal and the scan is large, and never writes a byte to a pipe or to stdout.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT
from kubefort import engine
from kubefort.cli.progress import LARGE_BYTES, LARGE_INPUTS, PHASE_TITLES, detail, fraction, is_large
from kubefort.drivers import manifests as manifest_driver
from kubefort.engine.progress import ProgressEvent
from kubefort.loaders.manifests import InputSpec, LoadOptions, discover
from kubefort.model import options_off
from kubefort.registry import REGISTRY

APP = (ROOT / "examples" / "insecure-app" / "app.yaml").read_text()
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def _tree(tmp: Path, n: int) -> Path:
    """n files, each with a namespace, a Deployment and a Service of its own (names differ)."""
    d = tmp / "tree"
    d.mkdir()
    for i in range(n):
        (d / f"app{i:03}.yaml").write_text(APP.replace("shop", f"shop{i}").replace("storefront", f"sf{i}"))
    return d


def _scan(path: Path, jobs: int, events: list[ProgressEvent] | None) -> object:
    settings = engine.EngineSettings(check_ids=tuple(m.id for m in REGISTRY), load=LoadOptions())
    return manifest_driver.scan(
        discover([str(path)]), settings, jobs=jobs, progress=events.append if events is not None else None
    )


@pytest.mark.parametrize("parallel", [False, True])
def test_driver_and_engine_report_real_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    tree = _tree(tmp_path, 60)
    if parallel:  # workers for inputs even when small, and enough objects for cross-object workers
        monkeypatch.setattr(manifest_driver, "PARALLEL_MIN_BYTES", 0)
    events: list[ProgressEvent] = []
    result = _scan(tree, 2 if parallel else 1, events)

    phases = [e.phase for e in events]
    first_cross = phases.index("cross-object")
    assert set(phases[:first_cross]) == {"inputs"} and set(phases[first_cross:]) == {"cross-object"}

    inputs = events[:first_cross]
    sizes = sum(f.stat().st_size for f in tree.iterdir())
    assert [e.done for e in inputs] == list(range(61))  # one event per input, as each completes
    assert all(e.total == 60 and e.bytes_total == sizes for e in inputs)
    assert [e.bytes_done for e in inputs] == sorted(e.bytes_done for e in inputs)
    assert inputs[-1].bytes_done == sizes
    assert inputs[-1].objects == len(result.resources)  # type: ignore[attr-defined]
    assert {e.current for e in inputs[1:]} == {str(f) for f in tree.iterdir()}

    cross = events[first_cross:]
    # checks whose default options leave them off (OffUntilSet: KF-IMG-007..009 without scan data) are not run
    cross_ids = [
        m.id for m in REGISTRY if m.target == "cluster" and not options_off(m.options() if m.options else None)
    ]
    assert [e.done for e in cross] == list(range(len(cross_ids) + 1))
    assert all(e.total == len(cross_ids) for e in cross)
    assert sorted(e.current for e in cross[1:]) == sorted(cross_ids)

    # progress changes nothing in the result
    plain = _scan(tree, 2 if parallel else 1, None)
    assert plain.outcomes == result.outcomes  # type: ignore[attr-defined]


def test_phase_fraction_is_real(tmp_path: Path) -> None:
    """Never stuck at 0 while inputs complete; 1 exactly when the phase is done."""
    events: list[ProgressEvent] = []
    _scan(_tree(tmp_path, 5), 1, events)
    for phase in ("inputs", "cross-object"):
        fr = [fraction(e) for e in events if e.phase == phase]
        assert fr[0] == 0 and fr[-1] == 1 and fr == sorted(fr)
        assert all(f > 0 for f in fr[1:])


@given(st.lists(st.integers(0, 10_000_000), min_size=1, max_size=40))
def test_inputs_fraction_is_monotonic(sizes: list[int]) -> None:
    total, total_bytes, done_bytes = len(sizes), sum(sizes), 0
    last = fraction(ProgressEvent("inputs", 0, total, 0, total_bytes))
    assert last == 0
    for i, size in enumerate(sizes, 1):
        done_bytes += size
        f = fraction(ProgressEvent("inputs", i, total, done_bytes, total_bytes, objects=i))
        assert last < f <= 1
        last = f
    assert last == 1


def test_detail_says_what_was_done() -> None:
    assert detail(ProgressEvent("inputs", 3, 60, 1_500_000, 8_000_000, 1234)) == (
        "3/60 inputs, 1,234 objects, 1.5/8.0 MB"
    )
    assert detail(ProgressEvent("cross-object", 4, 47, current="KF-RBAC-020")) == "4/47 checks (last: KF-RBAC-020)"
    assert detail(ProgressEvent("reports", 1, 1, current="json")) == "1/1 report (last: json)"
    assert fraction(ProgressEvent("reports", 0, 0)) == 1  # nothing to write: done


def test_only_large_scans_get_a_display() -> None:
    small = [InputSpec("file", f"f{i}.yaml", 1000) for i in range(LARGE_INPUTS)]
    assert not is_large(small)
    assert is_large([*small, InputSpec("file", "one-more.yaml", 10)])
    assert is_large([InputSpec("file", "big.yaml", LARGE_BYTES)])
    assert not is_large([InputSpec("file", "big.yaml", LARGE_BYTES - 1)])
    assert is_large([InputSpec("helm", f"chart{i}", 0) for i in range(3)])


# ---------------------------------------------------------------- the CLI


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def _run_with_terminal_stderr(args: list[str], stdout: Path) -> bytes:
    """kubefort with stderr on a pseudo-terminal (200 columns) and stdout to a file."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    with stdout.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kubefort", *args], stdout=out, stderr=slave, env=_env())
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(master)
    return b"".join(chunks)


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    tree = _tree(tmp_path, LARGE_INPUTS + 10)
    p = subprocess.run(
        [sys.executable, "-m", "kubefort", "scan", str(tree), "-o", f"json={tmp_path / 'r.json'}", "-o", "table"],
        capture_output=True,
        timeout=300,
        env=_env(),
    )
    assert p.returncode == 1
    assert b"\x1b" not in p.stderr and b"\r" not in p.stderr
    assert p.stderr.decode().splitlines() == [ln for ln in p.stderr.decode().splitlines() if ln.startswith("kubefort:")]
    for title in PHASE_TITLES.values():
        assert title.encode() not in p.stderr and title.encode() not in p.stdout


def test_progress_on_a_terminal_shows_every_phase(tmp_path: Path) -> None:
    tree = _tree(tmp_path, LARGE_INPUTS + 10)
    report = tmp_path / "r.json"
    err = _run_with_terminal_stderr(["scan", str(tree), "-o", f"json={report}", "-o", "table"], tmp_path / "out")
    text = ANSI.sub(b"", err).decode()
    for title in PHASE_TITLES.values():
        assert title in text
    assert f"{LARGE_INPUTS + 10}/{LARGE_INPUTS + 10} inputs" in text
    assert "1/1 report" in text
    assert text.rstrip().splitlines()[-1].startswith("kubefort: exit 1")  # the display is gone by then
    # the report on stdout is exactly what a pipe gets: no byte of the display in it
    piped = subprocess.run(
        [sys.executable, "-m", "kubefort", "scan", str(tree), "-o", "table"], capture_output=True, env=_env()
    )
    table = (tmp_path / "out").read_bytes()
    assert re.sub(rb"in \d+\.\d\ds", b"", table) == re.sub(rb"in \d+\.\d\ds", b"", piped.stdout)
    assert report.is_file()


def test_small_scans_draw_nothing_even_on_a_terminal(tmp_path: Path) -> None:
    err = _run_with_terminal_stderr(["scan", str(ROOT / "examples" / "insecure-app")], tmp_path / "out")
    text = ANSI.sub(b"", err).decode()
    assert not any(title in text for title in PHASE_TITLES.values())
    assert text.strip().startswith("kubefort: exit 1")
