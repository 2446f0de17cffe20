"""The engine: run the selected checks and record exactly one outcome per target.

Targets: (check, object) for object checks, (check, object, pod) for pod checks and
(check, object, container) for container checks, and (check, object) for cross-object checks
once every input is in. Each ends as passed, failed, suppressed (annotation, config exception
or baseline) or not-evaluated (with the reason). Input problems (unreadable or unparsable
files, failed renders, malformed objects) become not-evaluated outcomes of the KF-INPUT
checks, so nothing is ever skipped silently.

The engine does no I/O of its own except reading a file back to locate a cross-object finding;
drivers (manifest scans, cluster scans, node scans, admission) feed it loaded inputs:

    engine = Engine(settings)
    part = engine.evaluate(loaded_input)      # per-object checks: a Partial (mergeable, picklable)
    part.merge(engine.evaluate(other_input))  # ... from this process or from workers
    result = engine.finish(part, config=config, baseline=fingerprints, started=t0)
    outcomes = engine.check_object(obj)       # one object, per-object checks only (admission)
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubefort import __version__
from kubefort.config import Config
from kubefort.engine.exceptions import apply_exceptions, inline_ignores
from kubefort.engine.index import (
    Gaps,
    Index,
    duplicate_report,
    duplicate_warnings,
    duplicates,
    effective,
    split_units,
)
from kubefort.engine.progress import ProgressCallback, ProgressEvent
from kubefort.engine.recorder import CLUSTER_SCHEME, CheckRun, Recorder
from kubefort.kube.pods import PodView, find_pods
from kubefort.loaders.manifests import LoadedInput, LoadOptions, LoadProblem, add_object
from kubefort.locate import Locator
from kubefort.model import (
    CheckContext,
    InputRecord,
    Location,
    NotEvaluated,
    Outcome,
    Path_,
    Resource,
    ResourceId,
    ScanResult,
    Severity,
    Source,
    Status,
    Suppression,
    fingerprint,
    options_off,
)
from kubefort.registry import CheckMeta, Registry, load_builtin_checks

INPUT_CHECKS = {"read": "KF-INPUT-001", "parse": "KF-INPUT-001", "render": "KF-INPUT-002", "invalid": "KF-INPUT-003"}

ObjectKey = tuple[ResourceId, Source]
ObjectReport = Callable[[list[PodView], NotEvaluated | None], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    check_ids: tuple[str, ...]
    load: LoadOptions = field(default_factory=LoadOptions)
    pod_template_paths: dict[str, list[Path_]] = field(default_factory=dict)
    severity: dict[str, Severity] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # check ID -> options dataclass instance
    # adds members to every pod-bearing object of the JSON report (`--pss LEVEL`: the admission
    # verdict); called with the object's pod views, or the reason they cannot be read
    object_report: ObjectReport | None = None
    # False: per-object passes are counted, not kept (no report lists them); saves most of the
    # outcomes of a large scan. Cross-object checks always keep theirs.
    keep_passed: bool = True
    # facts the driver left out on request: name -> (reason, the option that asked); the checks
    # that declare one in `facts` are then "not evaluated by request" when they cannot judge
    skipped_facts: dict[str, tuple[str, str]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# partial results
# ---------------------------------------------------------------------------------------------
_OUTCOME_FIELDS = operator.attrgetter(*Outcome.__slots__)
PackedOutcome = tuple[Any, ...]


def pack(outcomes: list[Outcome]) -> list[PackedOutcome]:
    """Outcomes as plain tuples for the trip between processes: pickling slotted dataclasses one
    by one costs as much as running the checks. Passes (most outcomes) travel as 6-tuples."""
    passed = Status.PASSED
    # a pass carries no message, location, fingerprint or suppression (Recorder.add)
    return [
        (o.check_id, o.resource, o.source, o.container, o.path, o.severity)
        if o.status is passed and not o.message
        else _OUTCOME_FIELDS(o)
        for o in outcomes
    ]


def unpack(rows: list[PackedOutcome]) -> list[Outcome]:
    passed = Status.PASSED
    return [
        Outcome(r[0], passed, r[1], r[2], r[3], "", r[4], None, "", None, r[5]) if len(r) == 6 else Outcome(*r)
        for r in rows
    ]


@dataclass
class Partial:
    """What per-object evaluation of some inputs produced. Partials merge (in input order) and
    pickle compactly, so workers, streams and single objects all feed the same `finish`."""

    records: list[InputRecord] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    resources: list[ObjectKey] = field(default_factory=list)  # every object read, in order
    collected: list[tuple[Resource, bool]] = field(
        default_factory=list
    )  # for cross-object checks (object, carries pods)
    object_extra: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)  # per-object report additions
    doc_lines: dict[str, list[int]] = field(default_factory=dict)  # file -> document start lines (to locate later)
    passed_omitted: int = 0  # passes counted, not kept
    passed_by_check: dict[str, int] = field(default_factory=dict)  # the same, per check ID

    def merge(self, other: Partial) -> Partial:
        self.records.extend(other.records)
        self.outcomes.extend(other.outcomes)
        self.resources.extend(other.resources)
        self.collected.extend(other.collected)
        self.object_extra.update(other.object_extra)
        self.doc_lines.update(other.doc_lines)
        self.passed_omitted += other.passed_omitted
        mine = self.passed_by_check
        for cid, n in other.passed_by_check.items():
            mine[cid] = mine.get(cid, 0) + n
        return self

    def __reduce__(self) -> tuple[Callable[..., Partial], tuple[Any, ...]]:
        return _unpickle_partial, (
            self.records,
            pack(self.outcomes),
            self.resources,
            self.collected,
            self.object_extra,
            self.doc_lines,
            self.passed_omitted,
            self.passed_by_check,
        )


def _unpickle_partial(records: list[InputRecord], packed: list[PackedOutcome], *rest: Any) -> Partial:
    return Partial(records, unpack(packed), *rest)


def _read_for_locator(file: str, stdin_data: bytes | None) -> bytes | None:
    """The text of a file to locate findings in (None: a cluster's object, or unreadable now)."""
    if file == "-":
        return stdin_data
    if file.startswith(CLUSTER_SCHEME):
        return None
    try:
        with open(file, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _locate_in_files(outcomes: list[Outcome], stdin_data: bytes | None, doc_lines: dict[str, list[int]]) -> None:
    """Lines for cross-object findings, file by file: each file is read and parsed once, whatever
    checks failed in it, and dropped before the next (the checks left their document's line)."""
    by_file: dict[str, list[tuple[Outcome, Source]]] = {}
    for o in outcomes:
        src = o.source
        if o.status is not Status.PASSED and src is not None and src.rendered_by is None:
            by_file.setdefault(src.file, []).append((o, src))
    for file, found in by_file.items():
        data = _read_for_locator(file, stdin_data)
        if data is None:
            continue
        loc = Locator(data, doc_lines.get(file))
        for o, src in found:
            pos = loc.find(src.doc_index, src.item_path + tuple(o.path))
            if pos is not None:
                o.location = Location(src.file, pos[0], pos[1])


# cross-object checks run in forked workers share this state (set by the parent before forking)
_cross_state: tuple[Engine, list[Index]] | None = None


class Engine:
    """Runs a selection of checks (`settings.check_ids`) from a registry; the one API every
    driver uses. Building one costs a few milliseconds; it holds no per-scan state."""

    def __init__(self, settings: EngineSettings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else load_builtin_checks()
        metas = [self.registry.get(i) for i in settings.check_ids]
        # every check loaded (the selected ones are: `get` loads a deferred area), for the outcomes
        # of checks run besides the selection (KF-INPUT)
        self.severity = {m.id: settings.severity.get(m.id, m.severity) for m in self.registry.loaded()}
        self.ctx: dict[str, CheckContext[Any]] = {
            m.id: CheckContext(
                settings.options.get(m.id) or (m.options() if m.options is not None else None),
                settings.pod_template_paths,
            )
            for m in metas
        }
        self.object_checks = [m for m in metas if m.target == "object"]
        self.pod_checks = [m for m in metas if m.target == "pod"]
        self.container_checks = [m for m in metas if m.target == "container"]
        self.cross_checks = [m for m in metas if m.target == "cluster"]
        self._object_checks: dict[str, list[CheckRun]] = {}  # kind -> the object checks that target it
        self._pod_runs = self._runs(self.pod_checks)
        self._container_runs = self._runs(self.container_checks)
        kinds: set[str] = set()
        for m in self.cross_checks:
            kinds |= set(m.kinds or ()) | set(m.needs)
        # what the cross-object checks need collected from per-object evaluation
        self.collect_kinds = frozenset(kinds - {"@pods", "@namespaced-pods"})
        self.collect_pods = "@pods" in kinds
        self.collect_ns_pods = "@namespaced-pods" in kinds
        self.by_request = {
            m.id: Suppression("request", settings.skipped_facts[f][0], None, settings.skipped_facts[f][1])
            for m in metas
            for f in sorted(m.facts)
            if f in settings.skipped_facts
        }
        self.need_pods = bool(
            self.pod_checks
            or self.container_checks
            or self.collect_pods
            or self.collect_ns_pods
            or settings.object_report is not None
        )

    def _runs(self, metas: list[CheckMeta]) -> list[CheckRun]:
        """The checks to call on each target, as the per-object loop calls them. A check whose
        options say it is `off` (a bound or list left unset, so it raises NotApplicable on every
        target before reading it) is not called: it gives no outcome either way. It still gets
        the not-evaluated outcome of an object whose pod spec cannot be read, as every check does."""
        return [(m, m.func, self.ctx[m.id]) for m in metas if not options_off(self.ctx[m.id].options)]

    # -- per object -------------------------------------------------------------------------
    def evaluate(self, li: LoadedInput, *, collect: bool = True) -> Partial:
        """Run the per-object checks on one loaded input (a file, a rendered chart, a page of a
        cluster list). The objects cross-object checks need are collected unless `collect=False`."""
        locator = Locator(li.data, li.doc_lines, tree=li.parse_tree) if li.data is not None else None
        li.parse_tree = None  # the locator holds it while this input is evaluated
        rec = Recorder(self.severity, lambda src: locator, self.settings.keep_passed, self.by_request)
        part = Partial(records=[li.record], resources=[(r.id, r.source) for r in li.resources])
        for p in li.problems:
            o = self.problem_outcome(p)
            if p.source is not None and p.path:
                o.location = rec.locate(p.source, p.path)
                o.path = p.path
            rec.outcomes.append(o)
        collect = collect and bool(self.cross_checks)
        for res in li.resources:
            self._evaluate_resource(res, rec, part if collect else None, part.object_extra)
        part.outcomes = rec.outcomes
        part.passed_omitted = rec.omitted
        part.passed_by_check = rec.omitted_by_check()
        # document start lines let the main process locate cross-object findings without
        # composing whole files again
        if part.collected and li.data is not None:
            part.doc_lines[li.record.path] = li.doc_lines
        return part

    def check_object(self, obj: Any, source: Source | None = None) -> list[Outcome]:
        """The per-object checks on one decoded object, in this process (admission control):
        a malformed object gives a KF-INPUT-003 outcome, never an exception. Cross-object checks
        are not run: they need the other objects of a scan."""
        src = source or Source("-")
        li = LoadedInput(InputRecord(src.file, "object"))
        add_object(li, obj, src, src.file)
        rec = Recorder(self.severity, lambda s: None, self.settings.keep_passed, self.by_request)
        rec.outcomes.extend(self.problem_outcome(p) for p in li.problems)
        for res in li.resources:
            self._evaluate_resource(res, rec, None, None)
        return rec.outcomes

    def _evaluate_resource(
        self, res: Resource, rec: Recorder, collect: Partial | None, extra: dict[ObjectKey, dict[str, Any]] | None
    ) -> None:
        settings = self.settings
        pods: list[PodView] = []
        pod_error: NotEvaluated | None = None
        if self.need_pods:
            try:
                pods = find_pods(res, settings.pod_template_paths)
            except NotEvaluated as exc:
                pod_error = exc
        carries = bool(pods or pod_error)
        if collect is not None and (
            res.id.kind in self.collect_kinds
            or (carries and (self.collect_pods or (self.collect_ns_pods and res.id.namespace is not None)))
        ):
            collect.collected.append((res, carries))
        if settings.object_report is not None and extra is not None and carries:
            extra[(res.id, res.source)] = settings.object_report(pods, pod_error)
        ignores = inline_ignores(res, pods, self.registry)
        object_checks = self._object_checks.get(res.id.kind)
        if object_checks is None:
            kind = res.id.kind
            object_checks = self._object_checks[kind] = self._runs(
                [m for m in self.object_checks if m.kinds is None or kind in m.kinds]
            )
        run_all = rec.run_all
        if object_checks:
            run_all(object_checks, res, (res,), None, (), ignores)
        if pod_error is not None:
            for m in self.pod_checks + self.container_checks:
                rec.add(m, res, Status.NOT_EVALUATED, None, pod_error.reason, pod_error.path)
            return
        container_runs = self._container_runs
        for pod in pods:
            run_all(self._pod_runs, res, (pod,), None, pod.path, ignores)
            if not self.container_checks:  # every selected one, those that are off included: each is
                continue  # not evaluated when the containers cannot be read
            try:
                containers = list(pod.containers())
            except NotEvaluated as exc:
                for m in self.container_checks:
                    rec.add(m, res, Status.NOT_EVALUATED, None, exc.reason, exc.path)
                continue
            for c in containers:
                run_all(container_runs, res, (pod, c), c.name, c.path, ignores)

    def problem_outcome(self, p: LoadProblem) -> Outcome:
        """A loader's problem as the not-evaluated outcome of its KF-INPUT check."""
        cid = INPUT_CHECKS[p.kind]
        src = p.source or Source(p.file, p.doc_index or 0, p.line)
        o = Outcome(
            cid,
            Status.NOT_EVALUATED,
            p.resource,
            src,
            None,
            p.message,
            (),
            Location(p.file, p.line, p.column),
            "",
            None,
            self.severity[cid],
        )
        o.fingerprint = fingerprint(cid, p.resource, None, (), p.source.fingerprint_file if p.source else p.file)
        return o

    # -- across objects ---------------------------------------------------------------------
    def cross_object(
        self,
        collected: list[tuple[Resource, bool]],
        *,
        gaps: Gaps | None = None,
        stdin_data: bytes | None = None,
        doc_lines: dict[str, list[int]] | None = None,
        jobs: int = 1,
        progress: ProgressCallback | None = None,
        seeds: Mapping[str, Callable[[Index], Any]] | None = None,
    ) -> list[Outcome]:
        """Cross-object checks, after every input was loaded. Files are re-read only to locate failures.

        Each analysis unit (`Source.unit`: a PATH given, a Helm chart, a kustomization; a
        cluster is one) gets its own index, so checks never judge one unit's objects by another
        unit's; inside a unit the last definition of an object wins (`index.effective`).
        Independent checks run in forked workers (which inherit the collected objects) when it
        pays; results are concatenated in check order, then unit order, either way, so reports
        do not depend on it. `progress` hears of each check as it completes (phase "cross-object").
        `seeds` build some of each index's derived data another way (`Index`).
        """
        global _cross_state
        # a check whose options leave it off (OffUntilSet) is not called, as in the per-object loop
        ids = [m.id for m in self.cross_checks if not options_off(self.ctx[m.id].options)]
        if not ids:
            return []
        if progress is not None:
            progress(ProgressEvent("cross-object", 0, len(ids)))
        parts: list[list[Outcome]] = [[] for _ in ids]

        def completed(k: int, outcomes: list[Outcome], n: int) -> None:
            parts[k] = outcomes
            if progress is not None:
                progress(ProgressEvent("cross-object", n, len(ids), current=ids[k]))

        # one index per unit for all checks (checks derive data once per index, e.g. the RBAC
        # policy), and one cache of locators per process, so a document is composed once
        # whichever checks need it
        indexes = [Index(effective(unit), gaps, seeds) for unit in split_units(collected)] or [Index([], gaps, seeds)]
        _cross_state = (self, indexes)
        try:
            if jobs > 1 and len(ids) > 1 and len(collected) > 200 and _fork_available():
                # imported here: a scan small enough to stay in one process never loads them
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor, as_completed

                with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as ex:
                    futures = {ex.submit(_run_cross_check, i): k for k, i in enumerate(ids)}
                    for n, fut in enumerate(as_completed(futures), 1):  # progress as checks complete
                        completed(futures[fut], fut.result(), n)
            else:
                for k, i in enumerate(ids):
                    completed(k, _run_cross_check(i), k + 1)
        finally:
            _cross_state = None
        outcomes = [o for part in parts for o in part]
        _locate_in_files(outcomes, stdin_data, doc_lines or {})
        return outcomes

    def _cross_check(self, check_id: str, index: Index) -> list[Outcome]:
        # findings get their document's line here, their field's once every check has run
        # (`_locate_in_files`: each file parsed once, not once per check and worker)
        rec = Recorder(self.severity, lambda src: None, by_request=self.by_request)
        m = self.registry.get(check_id)
        kinds = m.kinds or frozenset()
        if "@pods" in kinds:
            targets = index.pod_bearing
        elif "@namespaced-pods" in kinds:
            targets = [r for r in index.pod_bearing if r.id.namespace is not None]
        else:
            targets = [r for r in index.resources if r.id.kind in kinds]
        needs = tuple(sorted(kinds)) + tuple(m.needs)  # sorted: the reason given must not depend on hashing
        for res in targets:
            # a Namespace object is judged on what is inside it
            missing = index.gap_for(
                needs, res.id.name if res.id.kind == "Namespace" and res.id.api_version == "v1" else res.id.namespace
            )
            if missing is not None:
                reason, requested = missing
                if requested:
                    supp = Suppression("request", reason, None, "--skip-resources")
                    rec.add(
                        m,
                        res,
                        Status.NOT_EVALUATED,
                        None,
                        f"objects this check needs were not read: {reason}",
                        (),
                        supp,
                    )
                else:
                    rec.add(
                        m, res, Status.NOT_EVALUATED, None, f"objects this check needs could not be read: {reason}", ()
                    )
                continue
            ignores = index.ignores.get(id(res))
            if ignores is None:  # once per object, whichever checks target it
                try:
                    pods = find_pods(res, self.settings.pod_template_paths)
                except NotEvaluated:
                    pods = []
                ignores = index.ignores[id(res)] = inline_ignores(res, pods, self.registry)
            rec.run(m, res, (res, index, self.ctx[m.id]), None, (), ignores)
        return rec.outcomes

    # -- the end ----------------------------------------------------------------------------
    def finish(
        self,
        part: Partial,
        *,
        extra_outcomes: Iterable[Outcome] = (),
        gaps: Gaps | None = None,
        stdin_data: bytes | None = None,
        jobs: int = 1,
        config: Config | None = None,
        baseline: set[str] | None = None,
        started: float | None = None,
        extras: dict[str, Any] | None = None,
        warnings: Sequence[str] = (),
        records: list[InputRecord] | None = None,
        progress: ProgressCallback | None = None,
    ) -> ScanResult:
        """Cross-object checks on everything collected, then exceptions and the baseline: the
        finished result. `extra_outcomes` (a driver's own, such as unlisted cluster types) come
        after the per-object outcomes; `records` replace the partial's input records; `progress`
        hears of the cross-object checks as they complete. An object defined more than once in
        one analysis unit is a warning listing every definition (and `extras["duplicates"]`, the
        same as data); each definition keeps its own per-object outcomes."""
        outcomes = part.outcomes
        outcomes.extend(extra_outcomes)
        outcomes.extend(
            self.cross_object(
                part.collected,
                gaps=gaps,
                stdin_data=stdin_data,
                doc_lines=part.doc_lines,
                jobs=jobs,
                progress=progress,
            )
        )
        unused, expired = apply_exceptions(outcomes, config, baseline)
        extras = dict(extras or {})
        warnings = list(warnings)
        if any(m.area == "NET" for m in self.cross_checks):
            from kubefort.kube.netpol.kinds import warning

            w = warning([rid for rid, _ in part.resources])
            if w is not None:
                warnings.append(w)
        dups = duplicates(part.resources)
        if dups:
            warnings += duplicate_warnings(dups)  # the first few by name, the rest counted
            extras["duplicates"] = [duplicate_report(g) for g in dups]
        return ScanResult(
            tool_version=__version__,
            outcomes=outcomes,
            inputs=records if records is not None else part.records,
            resources=part.resources,
            checks_run=list(self.settings.check_ids),
            warnings=warnings,
            unused_exceptions=unused,
            expired_exceptions=expired,
            duration_s=time.perf_counter() - started if started is not None else 0.0,
            finished_at=time.time(),
            passed_omitted=part.passed_omitted,
            passed_omitted_by_check=part.passed_by_check,
            extras=extras,
            object_extra=part.object_extra,
        )


def _fork_available() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _run_cross_check(check_id: str) -> list[Outcome]:
    if _cross_state is None:
        raise RuntimeError("cross-object worker used before its initializer")
    engine, indexes = _cross_state
    return [o for index in indexes for o in engine._cross_check(check_id, index)]
