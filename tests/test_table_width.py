"""Human output fits the width it is laid out for: the scan table, `kubefort checks`, `kubefort explain`.

At 80, 120 and 200 columns, on a terminal and on a pipe (100 columns): no line wider than the
width, no line ending in a space, and no word broken across two lines unless it is longer than
the column it is in (then it is folded, never cut off).
"""

from __future__ import annotations

import fcntl
import io
import itertools
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from conftest import ROOT
from kubefort import docs, engine
from kubefort.drivers import manifests as manifest_driver
from kubefort.loaders.manifests import LoadOptions, discover
from kubefort.model import ScanResult, Status
from kubefort.registry import REGISTRY
from kubefort.reporters import render
from kubefort.reporters.layout import strip_trailing
from kubefort.reporters.width import DEFAULT_WIDTH, MIN_WIDTH, output_width

WIDTHS = (80, 120, 200)
WIDE = 100_000  # wide enough that nothing wraps: the words as they are
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
EXAMPLES = ROOT / "examples"


def broken_words(wide: str, text: str, fold_at: int) -> list[str]:
    """Words of `wide` (the same output, unwrapped) split across two lines of `text`. A word
    longer than `fold_at` columns may be folded: no column that narrow is ever laid out."""
    words = set(ANSI.sub("", wide).split())
    lines = ANSI.sub("", text).splitlines()
    broken = []
    for a, b in itertools.pairwise(lines):
        if not a.strip() or not b.strip():
            continue
        last, first = a.split()[-1], b.split()[0]
        joined = last + first
        if joined in words and (last not in words or first not in words) and cell_len(joined) <= fold_at:
            broken.append(f"{last}|{first}")
    return broken


def assert_laid_out(text: str, width: int, wide: str, fold_at: int) -> None:
    plain = ANSI.sub("", text)
    lines = plain.splitlines()
    assert lines, "nothing rendered"
    too_wide = [ln for ln in lines if cell_len(ln) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}: {too_wide[:3]}"
    padded = [ln for ln in text.splitlines() if ln != ln.rstrip() or ANSI.sub("", ln) != ANSI.sub("", ln).rstrip()]
    assert not padded, f"{len(padded)} lines end in spaces: {padded[:3]!r}"
    assert not broken_words(wide, text, fold_at), broken_words(wide, text, fold_at)[:5]


def test_broken_words_detector() -> None:
    wide = "the container runs privileged in namespace shop"
    assert broken_words(wide, "the container runs\nprivileged in namespace shop", 30) == []
    assert broken_words(wide, "the contai\nner runs privileged", 30) == ["contai|ner"]
    assert broken_words(wide, "the contai\nner runs privileged", 5) == []  # longer than the column


@pytest.fixture(scope="module")
def examples_result() -> ScanResult:
    """Both examples, every check, passes kept: every kind of row the table has."""
    settings = engine.EngineSettings(check_ids=tuple(m.id for m in REGISTRY), load=LoadOptions(), keep_passed=True)
    return manifest_driver.scan(discover([str(EXAMPLES / "insecure-app"), str(EXAMPLES / "hardened-app")]), settings)


# ---------------------------------------------------------------- the scan table


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", WIDTHS)
def test_scan_table_fits_its_width(examples_result: ScanResult, width: int, color: bool) -> None:
    kw = {"include_passed": True, "show_suppressed": True, "color": color}
    text = render("table", examples_result, REGISTRY, width=width, **kw)  # type: ignore[arg-type]
    wide = render("table", examples_result, REGISTRY, width=WIDE, **kw)  # type: ignore[arg-type]
    # the table's detail column is at least width - 45 columns wide (status, severity, ID columns)
    assert_laid_out(text, width, wide, fold_at=width - 45)
    assert any(o.status is Status.PASSED for o in examples_result.outcomes)


def test_scan_table_uses_the_room_it_has(examples_result: ScanResult) -> None:
    """Wider output is not wrapped at 120 (the old fixed width): fewer lines, longer ones."""
    lines = {w: render("table", examples_result, REGISTRY, width=w).splitlines() for w in WIDTHS}
    assert len(lines[80]) > len(lines[120]) > len(lines[200])
    assert max(map(cell_len, lines[200])) > 120
    assert render("table", examples_result, REGISTRY) == render("table", examples_result, REGISTRY, width=DEFAULT_WIDTH)


# ---------------------------------------------------------------- kubefort checks / explain


@pytest.mark.parametrize("width", WIDTHS)
def test_catalog_fits_its_width(width: int) -> None:
    metas = list(REGISTRY)
    text = docs.catalog(metas, "table", width=width)
    assert_laid_out(text, width, docs.catalog(metas, "table", width=WIDE), fold_at=width - 30)
    assert f"{len(metas)} checks." in text


def test_catalog_shows_peer_ids() -> None:
    text = docs.catalog([REGISTRY.get("KF-POD-001")], "table", width=200)
    m = REGISTRY.get("KF-POD-001")
    for ids in (m.mappings.trivy, m.mappings.checkov, m.mappings.kubescape, m.mappings.cis):
        assert ids and all(i in text for i in ids)
    assert "peers: " in text and "1 check." in text


def _explain_sample() -> list[str]:
    """Checks whose documentation has a markdown table, the longest ones, and every 15th: what
    wraps differently (rendering all of them takes a minute)."""
    metas = list(REGISTRY)
    tables = [m.id for m in metas if "|---" in m.doc]
    longest = [m.id for m in sorted(metas, key=lambda m: -len(m.doc))[:5]]
    return sorted(set(tables + longest + [m.id for m in metas[::15]]))


@pytest.mark.parametrize("check_id", _explain_sample())
def test_explain_fits_its_width(check_id: str) -> None:
    m = REGISTRY.get(check_id)
    for color in (False, True):
        wide = docs.explain(m, "table", width=1000, color=color)
        for width in WIDTHS:
            text = docs.explain(m, "table", width=width, color=color)
            # markdown tables share the width among their columns: a word longer than 16 columns
            # may fold in a narrow one
            assert_laid_out(text, width, wide, fold_at=16)
            assert text.count("…") == docs.markdown(m).count("…"), f"{m.id}: something was cut off"


# ---------------------------------------------------------------- the CLI: pipes and terminals


def _kf(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    e = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "kubefort", *args], capture_output=True, timeout=300, env={**e, **(env or {})}
    )


@pytest.mark.parametrize(
    "args",
    [
        ("scan", str(EXAMPLES / "insecure-app"), "--include-passed"),
        ("checks",),
        ("explain", "KF-IMG-005"),
    ],
)
def test_piped_output_is_100_columns_plain_and_unpadded(args: tuple[str, ...]) -> None:
    out = _kf(*args).stdout.decode()
    assert not ANSI.search(out)
    lines = out.splitlines()
    assert max(map(cell_len, lines)) <= DEFAULT_WIDTH
    assert max(map(cell_len, lines)) > 80  # the room is used
    assert all(ln == ln.rstrip() for ln in lines)


def test_columns_is_honoured_on_a_pipe() -> None:
    out = _kf("checks", env={"COLUMNS": "70"}).stdout.decode()
    assert max(map(cell_len, out.splitlines())) <= 70


def _on_terminal(args: tuple[str, ...], columns: int, tmp_path: Path) -> str:
    """stdout of kubefort run on a pseudo-terminal `columns` wide (no $COLUMNS)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    proc = subprocess.Popen([sys.executable, "-m", "kubefort", *args], stdout=slave, stderr=subprocess.DEVNULL, env=env)
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
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.parametrize("args", [("checks",), ("scan", str(EXAMPLES / "insecure-app"))])
def test_terminal_width_is_used(args: tuple[str, ...], tmp_path: Path) -> None:
    out = _on_terminal(args, 90, tmp_path)
    assert ANSI.search(out)  # a terminal gets colour
    lines = ANSI.sub("", out).splitlines()
    assert max(map(cell_len, lines)) <= 90
    assert max(map(cell_len, lines)) > 80  # neither the pipe's 100 nor a fixed 80
    assert all(ln == ln.rstrip() for ln in lines)


# ---------------------------------------------------------------- the helpers


def test_output_width() -> None:
    assert output_width(None, {}) == DEFAULT_WIDTH
    assert output_width(io.StringIO(), {}) == DEFAULT_WIDTH  # no terminal
    assert output_width(None, {"COLUMNS": "132"}) == 132
    assert output_width(None, {"COLUMNS": "10"}) == MIN_WIDTH
    for junk in ("", "wide", "-5", "0", "12.5"):
        assert output_width(None, {"COLUMNS": junk}) == DEFAULT_WIDTH


_SGR = st.sampled_from(["\x1b[0m", "\x1b[1m", "\x1b[31m", "\x1b[1;32m", "\x1b[2m"])
_PIECE = st.one_of(_SGR, st.text(alphabet=" \tabcé镜-", max_size=6))


@given(st.lists(st.lists(_PIECE, max_size=8), max_size=6))
def test_strip_trailing_removes_padding_and_keeps_styles(rows: list[list[str]]) -> None:
    text = "\n".join("".join(r) for r in rows)
    out = strip_trailing(text)
    for before, after in zip(text.split("\n"), out.split("\n"), strict=True):
        assert ANSI.sub("", after) == ANSI.sub("", before).rstrip(" \t")
        assert re.findall(r"\x1b\[[0-9;]*m", after) == re.findall(r"\x1b\[[0-9;]*m", before)
        assert not re.search(r"[ \t](\x1b\[[0-9;]*m)*$", after)
