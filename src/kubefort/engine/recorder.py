"""Recording outcomes: `Recorder` turns what a check did on one target (its violations, a
NotEvaluated, NotApplicable, an unexpected exception) into exactly one outcome, and locates only
what is shown. Every per-object and cross-object check of the engine (`engine/core.py`) goes
through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubefort.config import InlineIgnore, inline_suppression
from kubefort.loaders.origin import OriginFiles
from kubefort.locate import Locator
from kubefort.model import (
    CheckContext,
    Location,
    NotApplicable,
    NotEvaluated,
    Outcome,
    Path_,
    Resource,
    Severity,
    Source,
    Status,
    Suppression,
    Violation,
    fingerprint,
)
from kubefort.registry import CheckMeta

CLUSTER_SCHEME = "cluster://"
# a selected check as the per-object loop calls it: (its metadata, its function, its context);
# the function is `Any` as `CheckMeta.func` is a union of the signatures of every target
CheckRun = tuple[CheckMeta, Any, CheckContext[Any]]

# Status members as plain globals for the hot path (`Status.PASSED` is an enum class attribute
# lookup, several times slower than a global, and runs ~100 times per object)
_PASSED, _FAILED, _SUPPRESSED, _NOT_EVALUATED = Status.PASSED, Status.FAILED, Status.SUPPRESSED, Status.NOT_EVALUATED


class Recorder:
    """Turns check results into outcomes, locating only what is shown."""

    def __init__(
        self,
        severity: dict[str, Severity],
        locator_for: Callable[[Source], Locator | None],
        keep_passed: bool = True,
        by_request: dict[str, Suppression] | None = None,
        origins: OriginFiles | None = None,
    ) -> None:
        self.severity = severity
        self.by_request = by_request or {}  # check ID -> the suppression of its not-evaluated outcomes
        self.outcomes: list[Outcome] = []
        self.locator_for = locator_for
        self.keep_passed = keep_passed
        self.omitted = 0  # passes counted, not kept
        # per check, the passes counted but not kept (`omitted_by_check`), from three tallies
        # kept off the hot path: how often each `run_all` list ran (id -> [list, times]; the
        # list is held, so its id stays unique), the targets of each check that gave anything
        # but a pass there, and the passes `run`/`add` omitted one by one
        self._ran: dict[int, list[Any]] = {}
        self._handled: dict[str, int] = {}
        self._omitted_one: dict[str, int] = {}
        self.origins = origins  # resource files of rendered Kustomize objects, read back on demand

    def run(
        self,
        meta: CheckMeta,
        res: Resource,
        args: tuple[Any, ...],
        container: str | None,
        base: Path_,
        ignores: list[InlineIgnore],
    ) -> None:
        """Run one check on one target (`args`: what its function takes) and record its outcome."""
        try:
            violations = [*meta.func(*args)]  # type: ignore[misc]  # a registered check always has one
        except NotEvaluated as exc:
            self.add(meta, res, _NOT_EVALUATED, container, exc.reason, exc.path)
            return
        except NotApplicable:
            return
        except Exception as exc:  # noqa: BLE001 - a bug in a check must not end the scan, nor pass silently
            self.crashed(meta, res, container, exc, base)
            return
        if not violations:
            if self.keep_passed:
                self.add(meta, res, _PASSED, container, "", base)
            else:
                self.omitted += 1
                self._omitted_one[meta.id] = self._omitted_one.get(meta.id, 0) + 1
            return
        self.failed(meta, res, violations, container, base, ignores)

    def run_all(
        self,
        runs: list[CheckRun],
        res: Resource,
        target: tuple[Any, ...],
        container: str | None,
        base: Path_,
        ignores: list[InlineIgnore],
    ) -> None:
        """`run` for each check of `runs` on one target (`target`: what every check function
        takes before its context: one or two values), with exactly `run`'s outcomes.

        The per-object hot path (~136 checks per Deployment): one call per target instead of
        one per check, each check called with its arguments spelled out (not unpacked), its
        violations read by a loop that ends at once when there are none (most checks pass),
        and passes counted once at the end."""
        handled = 0  # targets with an outcome other than a pass, or none: the rest passed
        keep = self.keep_passed
        if not keep:
            times = self._ran.get(id(runs))
            if times is None:
                self._ran[id(runs)] = [runs, 1]
            else:
                times[1] += 1
        first = target[0]
        pair = len(target) == 2
        second = target[1] if pair else None
        for meta, func, ctx in runs:
            violations: list[Violation] | None = None
            try:
                for v in func(first, second, ctx) if pair else func(first, ctx):
                    if violations is None:
                        violations = [v]
                    else:
                        violations.append(v)
            except NotEvaluated as exc:
                self.add(meta, res, _NOT_EVALUATED, container, exc.reason, exc.path)
                handled += 1
                self._handled[meta.id] = self._handled.get(meta.id, 0) + 1
                continue
            except NotApplicable:
                handled += 1
                self._handled[meta.id] = self._handled.get(meta.id, 0) + 1
                continue
            except Exception as exc:  # noqa: BLE001 - a bug in a check must not end the scan, nor pass silently
                self.crashed(meta, res, container, exc, base)
                handled += 1
                self._handled[meta.id] = self._handled.get(meta.id, 0) + 1
                continue
            if violations is not None:
                self.failed(meta, res, violations, container, base, ignores)
                handled += 1
                self._handled[meta.id] = self._handled.get(meta.id, 0) + 1
            elif keep:
                self.add(meta, res, _PASSED, container, "", base)
        if not keep:
            self.omitted += len(runs) - handled

    def omitted_by_check(self) -> dict[str, int]:
        """Per check ID, the passes counted but not kept (they sum to `omitted`)."""
        out = dict(self._omitted_one)
        for runs, times in self._ran.values():
            for meta, _, _ in runs:
                out[meta.id] = out.get(meta.id, 0) + times
        for cid, n in self._handled.items():
            if cid in out:
                out[cid] -= n
        return {cid: n for cid, n in out.items() if n}

    def crashed(self, meta: CheckMeta, res: Resource, container: str | None, exc: Exception, base: Path_) -> None:
        """An unexpected exception in a check: not evaluated, naming it (a bug to fix, never a pass)."""
        self.add(
            meta, res, _NOT_EVALUATED, container, f"internal error in {meta.id}: {type(exc).__name__}: {exc}", base
        )

    def failed(
        self,
        meta: CheckMeta,
        res: Resource,
        violations: list[Violation],
        container: str | None,
        base: Path_,
        ignores: list[InlineIgnore],
    ) -> None:
        """One failed (or suppressed) outcome for a target's violations, their messages joined."""
        v0 = violations[0]
        message = v0.message if len(violations) == 1 else "; ".join(v.message for v in violations)
        supp = inline_suppression(ignores, meta.id, container) if ignores else None
        status = _SUPPRESSED if supp is not None else _FAILED
        self.add(meta, res, status, container or v0.container, message, v0.path or base, supp)

    def add(
        self,
        meta: CheckMeta,
        res: Resource,
        status: Status,
        container: str | None,
        message: str,
        path: Path_,
        supp: Suppression | None = None,
    ) -> None:
        if status is _PASSED and not self.keep_passed:
            self.omitted += 1
            self._omitted_one[meta.id] = self._omitted_one.get(meta.id, 0) + 1
            return
        src = res.source
        if status is _NOT_EVALUATED and supp is None and self.by_request:
            supp = self.by_request.get(meta.id)
        o = Outcome(meta.id, status, res.id, src, container, message, path, None, "", supp, self.severity[meta.id])
        if status is not _PASSED:
            o.location = self.locate(src, path, res.obj)
            o.fingerprint = fingerprint(meta.id, res.id, container, path, src.fingerprint_file)
        self.outcomes.append(o)

    def locate(self, src: Source, path: Path_, obj: Any = None) -> Location:
        if src.file.startswith(CLUSTER_SCHEME):
            return Location(src.file)  # a cluster's objects have no lines
        if src.rendered_by is not None:
            # lines of rendered output exist in no file: a line only where the resource file
            # kustomize named holds exactly this field (`obj`: the rendered object)
            if src.line is None or obj is None:
                return Location(src.file)
            if self.origins is None:
                self.origins = OriginFiles()
            return self.origins.locate(src, path, obj)
        loc = self.locator_for(src)
        pos = loc.find(src.doc_index, src.item_path + tuple(path)) if loc is not None else None
        if pos is None:
            return Location(src.file, src.line)
        return Location(src.file, pos[0], pos[1])
