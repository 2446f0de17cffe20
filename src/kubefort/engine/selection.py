"""Which checks a run executes: one rule for every command.

`--checks` (or the config's `select`, or the command's default set) minus `--skip-checks` and the
config's `ignore`, optionally at or above a severity floor; the KF-INPUT checks always run and
cannot be skipped, since unreadable input would otherwise pass silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kubefort.config import Config
from kubefort.model import Severity
from kubefort.registry import CheckMeta, Registry

# input checks of audit logs: they run with the audit checks (`kubefort audit`), never elsewhere
AUDIT_INPUT_CHECKS = frozenset({"KF-INPUT-006"})


class SelectionError(ValueError):
    """An unknown check ID, name or prefix, or an attempt to skip an input check."""


def select_checks(
    registry: Registry,
    select: Sequence[str] = (),
    skip: Sequence[str] = (),
    *,
    config: Config | None = None,
    default: Callable[[CheckMeta], bool] | None = None,
    min_severity: Severity | None = None,
    adjust: Callable[[list[CheckMeta]], list[CheckMeta]] | None = None,
    config_select: bool = True,
    family: Callable[[CheckMeta], bool] | None = None,
    family_hint: str = "",
    inputs: Callable[[CheckMeta], bool] | None = None,
    without: Sequence[str] = (),
) -> tuple[str, ...]:
    """The sorted check IDs to run. `default` picks the checks when neither `select` nor the
    config's `select` names any (all by default); `adjust` may rewrite the chosen list before
    skips apply (for example `--pss LEVEL` keeping one level's check). `config_select=False`
    ignores the config's `select` (a command whose checks are a different family, like `node`).
    `family` is what the command can run at all (scan: not the audit checks; audit: only them):
    checks outside it that `select` names are an error (`family_hint` says which command runs
    them); those of the config's `select` or the default are left out silently, since one config
    serves every command. `inputs` picks the KF-INPUT checks the command reports (default: all
    but those of audit logs, AUDIT_INPUT_CHECKS). `without` are ID prefixes ("KF-AUDIT-") of
    checks outside `family` whatever the selection: their deferred areas are not imported to
    list the default set (`Registry.defer`), only when `select` or the config names them."""
    try:
        if select:
            chosen = registry.select(select)
        elif config_select and config is not None and config.select:
            chosen = registry.select(config.select)
        else:
            chosen = [m for m in registry.iter_without(without) if default is None or default(m)]
        skipped = {m.id for m in registry.select(skip)} | set(config.ignore if config else [])
    except KeyError as exc:
        raise SelectionError(str(exc.args[0])) from None
    is_input = inputs if inputs is not None else (lambda m: m.id not in AUDIT_INPUT_CHECKS)
    # loader problems and objects the API server rejects (or unreadable audit events)
    input_ids = {m.id for m in registry.iter_without(without) if m.area == "INPUT" and is_input(m)}
    chosen = [m for m in chosen if m.area != "INPUT" or m.id in input_ids]
    if family is not None:
        foreign = sorted(m.id for m in chosen if not family(m) and m.area != "INPUT")
        if foreign and select:
            more = f" (and {len(foreign) - 3} more)" if len(foreign) > 3 else ""
            raise SelectionError(
                f"{', '.join(foreign[:3])}{more} cannot run here{': ' + family_hint if family_hint else ''}"
            )
        chosen = [m for m in chosen if family(m) or m.area == "INPUT"]
    if skipped & input_ids:
        raise SelectionError(
            f"{', '.join(sorted(skipped & input_ids))} cannot be skipped: unreadable input would then pass silently"
        )
    if min_severity is not None:
        # every chosen check is loaded by now
        sev_of = {m.id: (config.severity.get(m.id, m.severity) if config else m.severity) for m in registry.loaded()}
        chosen = [m for m in chosen if sev_of[m.id] >= min_severity or m.id in input_ids]
    if adjust is not None:
        chosen = adjust(chosen)
    return tuple(sorted({m.id for m in chosen if m.id not in skipped} | input_ids))
