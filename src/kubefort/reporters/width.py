"""The width text reports are laid out in (no Rich here: a scan writing only JSON or SARIF
asks for it without importing the renderer)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

DEFAULT_WIDTH = 100  # pipes and files: readable, and stable from one run to the next
MIN_WIDTH = 40  # narrower terminals still get 40 columns (lines then run over)


def output_width(stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> int:
    """Columns to lay text out in: `$COLUMNS` when set to a number, else the width of the terminal
    `stream` is (when it is one), else DEFAULT_WIDTH."""
    env = os.environ if env is None else env
    cols = env.get("COLUMNS", "").strip()
    if cols.isdigit() and int(cols) > 0:
        return max(int(cols), MIN_WIDTH)
    if stream is not None:
        try:
            if stream.isatty():
                return max(os.get_terminal_size(stream.fileno()).columns, MIN_WIDTH)
        except (AttributeError, OSError, ValueError):  # no descriptor (a StringIO), closed, not a terminal
            pass
    return DEFAULT_WIDTH
