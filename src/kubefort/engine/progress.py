"""Progress of a long scan, as plain data: drivers and the engine report it, a CLI may draw it.

Nothing here draws anything (the engine never imports rich): a caller passes a
`ProgressCallback` and receives one `ProgressEvent` as each unit of work completes, phase by phase:

    inputs        files read, parsed and checked (done/total inputs, their bytes, objects so far)
    cross-object  cross-object checks (RBAC, NetworkPolicy ...): done/total checks
    reports       reports written: done/total reports

Each phase starts with an event whose `done` is 0 and ends with one whose `done` equals `total`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Phase = Literal["inputs", "cross-object", "reports"]


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    phase: Phase
    done: int  # units of the phase completed: inputs, checks or reports
    total: int
    bytes_done: int = 0  # inputs: size of the inputs completed (rendered charts count 0)
    bytes_total: int = 0
    objects: int = 0  # inputs: objects checked so far
    current: str = ""  # what was completed last (a check ID, a report format)


ProgressCallback = Callable[[ProgressEvent], None]
