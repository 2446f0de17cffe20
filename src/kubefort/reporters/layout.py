"""Text layout shared by the human reports (`scan` table, `kubefort checks`, `kubefort explain`).

* Width: `$COLUMNS` when set, else the terminal's width when writing to one, else
  `DEFAULT_WIDTH` (pipes and files): `kubefort.reporters.width`.
* Lines wrap at word boundaries; a word wider than the room left is folded, never cut off.
* No line ends in spaces, on a terminal or not.

Lines are laid out and wrapped here, and Rich renders their styles: Console.print, rich.table and
Text.wrap cost 0.15-1 ms per line, and a report with tens of thousands of findings must still
render in about a second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TextIO

from rich.cells import cell_len, chop_cells
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

Piece = tuple[str, "str | Style | None"]  # text and its style ("" or None: unstyled)


def console(width: int, color: bool, file: TextIO) -> Console:
    """A Rich console that renders exactly as asked: colour only when `color`, at `width`."""
    return Console(
        file=file,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,  # the caller decides; NO_COLOR is the CLI's business
        width=width,
        highlight=False,
        emoji=False,
        force_jupyter=False,
        legacy_windows=False,
    )


class Writer:
    """Writes styled lines to a console's file; Rich renders the styles, lines wrap here."""

    def __init__(self, console: Console, color: bool) -> None:
        self.console = console
        self.width = console.width
        self.color_system = ColorSystem.STANDARD if color else None
        self._styles: dict[str, Style] = {}

    def line(self, prefix: Sequence[Piece], body: Sequence[Piece], hang: int | None = None) -> None:
        """prefix + body on one line; a body too wide wraps onto lines indented by `hang` (by
        default the prefix's width, so that the body wraps under itself)."""
        body = [(safe(t), st) for t, st in body]
        prefix_w = sum(cell_len(t) for t, _ in prefix)
        hang = prefix_w if hang is None else hang
        if prefix_w + sum(cell_len(t) for t, _ in body) <= self.width:
            self._write([*prefix, *body])
            return
        # one width for every line: the narrower of the first line's room and the continuation's
        room = max(self.width - max(hang, prefix_w), 20)
        for i, pieces in enumerate(wrap(body, room)):
            self._write([*prefix, *pieces] if i == 0 else [(" " * hang, None), *pieces])

    def blank(self) -> None:
        self.console.file.write("\n")

    def _write(self, pieces: list[Piece]) -> None:
        while pieces and not pieces[-1][0].rstrip():
            pieces.pop()
        if pieces:
            pieces[-1] = (pieces[-1][0].rstrip(), pieces[-1][1])
        if self.color_system is None:
            text = "".join(t for t, _ in pieces)
        else:
            text = "".join(self._style(s).render(t, color_system=self.color_system) if s else t for t, s in pieces)
        self.console.file.write(text + "\n")

    def _style(self, style: str | Style) -> Style:
        if isinstance(style, Style):
            return style
        cached = self._styles.get(style)
        if cached is None:
            cached = self._styles[style] = self.console.get_style(style)
        return cached


_TOKEN = re.compile(r"\S+|\s+")
_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x85\u2028\u2029]\s*|\t")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe(text: str) -> str:
    """Text from manifests on one line and without control characters (no terminal escapes)."""
    return _CONTROL.sub("\ufffd", _LINE_BREAKS.sub(" ", text))


def wrap(body: Sequence[Piece], width: int) -> list[list[Piece]]:
    """Greedy word wrap of styled pieces; words wider than a line are folded, never cut off.

    (Text.wrap does the same at ~0.15 ms a line; reports can have tens of thousands of lines.)
    """
    lines: list[list[Piece]] = [[]]
    used = 0
    for text, style in body:
        for tok in _TOKEN.findall(text):
            w = cell_len(tok)
            if tok.isspace():
                if used:  # spaces at the start of a continuation line are dropped
                    lines[-1].append((tok, style))
                    used += w
                continue
            if used and used + w > width:
                lines.append([])
                used = 0
            if w > width:
                *full, tok = chop_cells(tok, width)
                for chunk in full:
                    lines[-1].append((chunk, style))
                    lines.append([])
                w = cell_len(tok)
            lines[-1].append((tok, style))
            used += w
    return lines


_TRAILING = re.compile(r"(?:[ \t]|\x1b\[[0-9;]*m)+$", re.MULTILINE)
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def strip_trailing(text: str) -> str:
    """Every line without its trailing spaces (Rich pads rendered lines to the console's width);
    style codes among them are kept, so colours still end where they should."""
    return _TRAILING.sub(lambda m: "".join(_SGR.findall(m.group(0))), text)
