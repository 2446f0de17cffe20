"""The exit policy: the exit code of a finished scan and the one-line summary that explains it.

Every command that reports a ScanResult (`kubefort scan`, `kubefort node`) exits with
0 clean; 1 a failed check at or above the threshold; 3 something was not evaluated (or nothing
at all was: no Kubernetes object found, no component on a node) unless incompleteness is
allowed. 2 (usage error, or a file that cannot be read or written) is decided before any scan.
`scan --write-baseline` reports nothing and exits 0 once the baseline is written (3 when the
scan, so the baseline, is incomplete).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefort.wording import plural

if TYPE_CHECKING:  # the exit codes are imported by every command module: keep this import free
    from kubefort.model import InputRecord, ScanResult, Severity

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Verdict:
    code: int
    summary: str  # "kubefort: exit 1: 2 failed checks at or above high", for stderr ("": nothing to add)


def _incomplete(result: ScanResult) -> int:
    """Targets not evaluated; not evaluated by the user's own choice (--skip-resources) does not
    make a scan incomplete."""
    from kubefort.model import Status

    return sum(1 for o in result.outcomes if o.status is Status.NOT_EVALUATED and o.suppression is None)


def failures_text(failed: int, failing: int, threshold: Severity | None) -> str | None:
    """What the failures mean for the exit code, or None when there are none.

    "3 failed checks at or above high (2 below)"; "no failures at or above high (2 below)";
    "2 failed checks (--fail-on never)". Only failures at or above the threshold fail a scan."""
    below = failed - failing
    if threshold is None:
        return f"{plural(failed, 'failed check')} (--fail-on never)" if failed else None
    if failing:
        return f"{plural(failing, 'failed check')} at or above {threshold.label}" + (
            f" ({below} below)" if below else ""
        )
    return f"no failures at or above {threshold.label} ({below} below)" if below else None


def verdict(
    result: ScanResult,
    threshold: Severity | None,
    *,
    allow_incomplete: bool,
    nothing_evaluated: str | None = None,
) -> Verdict:
    """The exit code for `result` and why. `threshold` None is --fail-on never; `nothing_evaluated`
    is the reason when nothing at all was evaluated (never a clean result). The summary says
    "clean" only when nothing failed at any severity and everything was evaluated."""
    from kubefort.model import Status

    failed = [o for o in result.outcomes if o.status is Status.FAILED]
    failing = sum(1 for o in failed if threshold is not None and o.severity >= threshold)
    incomplete = _incomplete(result)
    code = EXIT_FINDINGS if failing else EXIT_OK
    if (incomplete or nothing_evaluated) and not allow_incomplete:
        code = EXIT_INCOMPLETE
    allowed = " (allowed)" if allow_incomplete else ""
    parts = []
    failures = failures_text(len(failed), failing, threshold)
    if failures:
        parts.append(failures)
    if incomplete:
        parts.append(f"{plural(incomplete, 'target')} not evaluated{allowed}")
    if nothing_evaluated:
        parts.append(nothing_evaluated + allowed)
    return Verdict(code, f"kubefort: exit {code}: " + ("; ".join(parts) if parts else "clean"))


def baseline_verdict(result: ScanResult, *, allow_incomplete: bool, nothing_evaluated: str | None = None) -> Verdict:
    """The exit code of `scan --write-baseline` once the baseline is written: 0 whatever the
    findings (accepting them is the point), 3 when the scan was incomplete (targets not evaluated,
    or nothing found: their findings are missing from the baseline) unless allow_incomplete. The
    summary is empty when the scan was complete: there is nothing to add to the line that says
    the baseline was written."""
    incomplete = _incomplete(result)
    parts = []
    if incomplete:
        parts.append(f"{plural(incomplete, 'target')} not evaluated: their findings are not in the baseline")
    if nothing_evaluated:
        parts.append(nothing_evaluated)
    if not parts:
        return Verdict(EXIT_OK, "")  # the line "wrote N findings to FILE" says it all
    code = EXIT_OK if allow_incomplete else EXIT_INCOMPLETE
    allowed = " (allowed)" if allow_incomplete else ""
    return Verdict(code, f"kubefort: exit {code}: baseline written; " + "; ".join(parts) + allowed)


def nothing_found(
    where: Sequence[str], inputs: Sequence[InputRecord], objects: int, *, excluded: bool = False
) -> str | None:
    """Why a manifest scan read nothing, or None when it read at least one object.

    `where` are the PATHs given ("-" is stdin), `inputs` what became of each input found under
    them, `objects` how many Kubernetes objects were read, `excluded` whether --exclude was given.
    A scan that read nothing evaluated nothing: that is never a clean result."""
    if objects:
        return None
    names = ", ".join("stdin" if w == "-" else w for w in where) or "no input"
    skipped = sum(len(i.skipped) for i in inputs)
    failed = sum(1 for i in inputs if i.error)
    if not inputs:
        detail = "no .yaml, .yml or .json file" + (" left after --exclude" if excluded else "")
    elif failed:
        detail = f"{plural(len(inputs), 'input')} found, {plural(failed, 'input')} could not be read or rendered"
    elif skipped:
        detail = f"{plural(len(inputs), 'input')} read, {plural(skipped, 'non-Kubernetes document')} skipped"
    elif not any(i.documents for i in inputs):
        detail = f"{plural(len(inputs), 'input')} read, all empty"
    else:
        detail = f"{plural(len(inputs), 'input')} read"
    return f"no Kubernetes objects found in {names} ({detail}): nothing was evaluated"


def nothing_listed(source: str, objects: int) -> str | None:
    """Why a cluster or snapshot scan read nothing ("no Kubernetes objects found in the cluster"),
    or None when it read at least one object (`objects` counts the listed ones, not kubefort's
    synthetic ClusterInfo)."""
    return None if objects else f"no Kubernetes objects found in {source}: nothing was evaluated"
