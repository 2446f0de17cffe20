"""The exit policy: the exit code of a finished scan and the one-line summary that explains it.

Every command that reports a ScanResult (`kubefort scan`, `kubefort node`) exits with
0 clean; 1 a failed check at or above the threshold; 3 something was not evaluated (or nothing
at all was) unless incompleteness is allowed. 2 (usage error) is decided before any scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the exit codes are imported by every command module: keep this import free
    from kubefort.model import ScanResult, Severity

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Verdict:
    code: int
    summary: str  # "kubefort: exit 1: 2 failed check(s) at or above high", for stderr


def verdict(
    result: ScanResult,
    threshold: Severity | None,
    *,
    allow_incomplete: bool,
    nothing_evaluated: str | None = None,
) -> Verdict:
    """The exit code for `result` and why. `threshold` None is --fail-on never; `nothing_evaluated`
    is the reason when nothing at all was evaluated (never a clean result)."""
    from kubefort.model import Status

    failing = [
        o for o in result.outcomes if o.status is Status.FAILED and threshold is not None and o.severity >= threshold
    ]
    # not evaluated by the user's own choice (--skip-resources) does not make a scan incomplete
    incomplete = [o for o in result.outcomes if o.status is Status.NOT_EVALUATED and o.suppression is None]
    code = EXIT_FINDINGS if failing else EXIT_OK
    if (incomplete or nothing_evaluated) and not allow_incomplete:
        code = EXIT_INCOMPLETE
    parts = []
    if failing and threshold is not None:  # (only a threshold makes a failure count)
        parts.append(f"{len(failing)} failed check(s) at or above {threshold.label}")
    if incomplete:
        parts.append(f"{len(incomplete)} target(s) not evaluated" + (" (allowed)" if allow_incomplete else ""))
    if nothing_evaluated:
        parts.append(nothing_evaluated)
    return Verdict(code, f"kubefort: exit {code}" + (": " + "; ".join(parts) if parts else ": clean"))
