"""The engine: run the selected checks on loaded resources and record one outcome per target.

Targets: (check, object) for object checks, (check, object, pod) for pod checks and
(check, object, container) for container checks. Each ends in exactly one outcome: passed,
failed, suppressed (annotation, config exception or baseline) or not-evaluated (with the
reason). Input problems (unreadable or unparsable files, failed renders, malformed objects)
become not-evaluated outcomes of the KF-INPUT checks, so nothing is ever skipped silently.

Large scans use a process pool over inputs; workers load, check and locate, and send back
compact outcomes. Exceptions from the config file and the baseline are applied afterwards.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import operator
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubefort import __version__
from kubefort.config import ANNOTATION, Config, InlineIgnore, inline_suppression, parse_ignore_annotation
from kubefort.kube.pods import PodView, find_pods
from kubefort.loaders.manifests import InputSpec, LoadedInput, LoadOptions, LoadProblem, load
from kubefort.locate import Locator
from kubefort.model import (
    InputRecord,
    Location,
    NotApplicable,
    NotEvaluated,
    Outcome,
    CheckContext,
    Path_,
    Resource,
    ResourceId,
    ScanResult,
    Severity,
    Source,
    Status,
    Suppression,
    Violation,
    fingerprint,
)
from kubefort.registry import REGISTRY, CheckMeta, Registry

INPUT_CHECKS = {"read": "KF-INPUT-001", "parse": "KF-INPUT-001", "render": "KF-INPUT-002", "invalid": "KF-INPUT-003"}
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
CLUSTER_SCHEME = "cluster://"
# what "@pods" needs to have been read completely
T = TypeVar("T")
POD_KINDS = ("Pod", "PodTemplate", "Deployment", "ReplicaSet", "ReplicationController", "StatefulSet", "DaemonSet", "Job", "CronJob")  # ordered: reports must not depend on hashing


@dataclass(frozen=True, slots=True)
class EngineSettings:
    check_ids: tuple[str, ...]
    load: LoadOptions = LoadOptions()
    pod_template_paths: dict[str, list[Path_]] = field(default_factory=dict)
    severity: dict[str, Severity] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # check ID -> options dataclass instance
    pss_level: str | None = None  # `--pss LEVEL`: add the admission verdict to every pod-bearing object
    pss_version: str = "latest"
    # False: per-object passes are counted, not kept (no report lists them); saves most of the
    # outcomes of a large scan. Cross-object checks always keep theirs.
    keep_passed: bool = True


@dataclass(slots=True)
class _Plan:
    obj: list[CheckMeta]
    pod: list[CheckMeta]
    cont: list[CheckMeta]
    cluster: list[CheckMeta]
    settings: EngineSettings
    severity: dict[str, Severity]
    ctx: dict[str, CheckContext[Any]]
    collect_kinds: frozenset[str]  # kinds the cluster checks need shipped back from workers
    collect_pods: bool  # ... and every object that carries a pod spec
    collect_ns_pods: bool  # ... or only those that name their namespace


def _plan(settings: EngineSettings, registry: Registry) -> _Plan:
    metas = [registry.get(i) for i in settings.check_ids]
    sev = {m.id: settings.severity.get(m.id, m.severity) for m in registry}
    ctx = {
        m.id: CheckContext(settings.options.get(m.id) or (m.options() if m.options is not None else None), settings.pod_template_paths)
        for m in metas
    }
    cluster = [m for m in metas if m.target == "cluster"]
    kinds: set[str] = set()
    for m in cluster:
        kinds |= set(m.kinds or ()) | set(m.needs)
    return _Plan(
        obj=[m for m in metas if m.target == "object"],
        pod=[m for m in metas if m.target == "pod"],
        cont=[m for m in metas if m.target == "container"],
        cluster=cluster,
        settings=settings,
        severity=sev,
        ctx=ctx,
        collect_kinds=frozenset(kinds - {"@pods", "@namespaced-pods"}),
        collect_pods="@pods" in kinds,
        collect_ns_pods="@namespaced-pods" in kinds,
    )


def _annotations(meta: Any) -> Any:
    if isinstance(meta, dict):
        ann = meta.get("annotations")
        if isinstance(ann, dict):
            return ann.get(ANNOTATION)
    return None


def inline_ignores(res: Resource, pods: Iterable[PodView], registry: Registry) -> list[InlineIgnore]:
    """Valid entries of kubefort.io/ignore on the object and on its pod templates."""
    entries: list[InlineIgnore] = []
    values = [_annotations(res.obj.get("metadata"))]
    values += [_annotations(p.meta.data) if p.meta is not None else None for p in pods]
    for v in values:
        if v is not None:
            entries.extend(parse_ignore_annotation(v, registry)[0])
    return entries


class _Recorder:
    """Turns check results into outcomes, locating only what is shown."""

    def __init__(self, plan: _Plan, locator_for: Callable[[Source], Locator | None], keep_passed: bool = True) -> None:
        self.plan = plan
        self.outcomes: list[Outcome] = []
        self.locator_for = locator_for
        self.keep_passed = keep_passed
        self.omitted = 0  # passes counted, not kept

    def run(self, meta: CheckMeta, res: Resource, args: tuple[Any, ...], container: str | None, base: Path_, ignores: list[InlineIgnore]) -> None:
        try:
            violations = list(meta.func(*args))  # type: ignore[misc]
        except NotEvaluated as exc:
            self.add(meta, res, Status.NOT_EVALUATED, container, exc.reason, exc.path)
            return
        except NotApplicable:
            return
        except Exception as exc:  # a bug in a check must not end the scan, nor pass silently
            self.add(meta, res, Status.NOT_EVALUATED, container, f"internal error in {meta.id}: {type(exc).__name__}: {exc}", base)
            return
        if not violations:
            self.add(meta, res, Status.PASSED, container, "", base)
            return
        v0: Violation = violations[0]
        message = v0.message if len(violations) == 1 else "; ".join(v.message for v in violations)
        supp = inline_suppression(ignores, meta.id, container) if ignores else None
        status = Status.SUPPRESSED if supp is not None else Status.FAILED
        self.add(meta, res, status, container or v0.container, message, v0.path or base, supp)

    def add(self, meta: CheckMeta, res: Resource, status: Status, container: str | None, message: str, path: Path_, supp: Suppression | None = None) -> None:
        if status is Status.PASSED and not self.keep_passed:
            self.omitted += 1
            return
        src = res.source
        o = Outcome(meta.id, status, res.id, src, container, message, path, None, "", supp, self.plan.severity[meta.id])
        if status is not Status.PASSED:
            o.location = self.locate(src, path)
            o.fingerprint = fingerprint(meta.id, res.id, container, path, src.file)
        self.outcomes.append(o)

    def locate(self, src: Source, path: Path_) -> Location:
        if src.rendered_by is not None or src.file.startswith(CLUSTER_SCHEME):
            return Location(src.file)  # lines of rendered output (or of a cluster's objects) do not exist in any file
        loc = self.locator_for(src)
        pos = loc.find(src.doc_index, src.item_path + tuple(path)) if loc is not None else None
        if pos is None:
            return Location(src.file, src.line)
        return Location(src.file, pos[0], pos[1])


def pss_summary(pods: list[PodView], level: str, version: str) -> dict[str, Any]:
    """The `pss` member of a JSON report object: would admission at LEVEL:VERSION accept it?"""
    from kubefort.checks.pss import field_path, verdict
    from kubefort.model import format_path

    out: dict[str, Any] = {"level": level, "version": version, "allowed": True, "violations": []}
    try:
        for pod in pods:
            for v in verdict(pod, level, version):
                out["allowed"] = False
                out["violations"].append({"control": v.control, "field": format_path(field_path(pod, v.field)), "value": v.value})
    except NotEvaluated as exc:
        out["allowed"] = None
        out["error"] = exc.reason
    return out


def evaluate(
    li: LoadedInput,
    plan: _Plan,
    registry: Registry = REGISTRY,
    collect: list[tuple[Resource, bool]] | None = None,
    extra: dict[tuple[ResourceId, Source], dict[str, Any]] | None = None,
    omitted: list[int] | None = None,
) -> list[Outcome]:
    """Run the per-object checks on one input. Objects the cluster checks need go to `collect`;
    per-object report additions (the `--pss` verdict) go to `extra`; passes not kept
    (`keep_passed=False`) are added up in `omitted[0]`."""
    locator = Locator(li.data, li.doc_lines) if li.data is not None else None
    rec = _Recorder(plan, lambda src: locator, plan.settings.keep_passed)
    ctx = plan.ctx
    for p in li.problems:
        o = problem_outcome(p, plan)
        if p.source is not None and p.path:
            o.location = rec.locate(p.source, p.path)
            o.path = p.path
        rec.outcomes.append(o)
    pss_level = plan.settings.pss_level
    need_pods = bool(plan.pod or plan.cont or plan.collect_pods or plan.collect_ns_pods or pss_level)
    for res in li.resources:
        pods: list[PodView] = []
        pod_error: NotEvaluated | None = None
        if need_pods:
            try:
                pods = find_pods(res, plan.settings.pod_template_paths)
            except NotEvaluated as exc:
                pod_error = exc
        carries = bool(pods or pod_error)
        if collect is not None and (
            res.id.kind in plan.collect_kinds
            or (carries and (plan.collect_pods or (plan.collect_ns_pods and res.id.namespace is not None)))
        ):
            collect.append((res, bool(pods or pod_error)))
        if pss_level and extra is not None and (pods or pod_error):
            if pod_error is not None:
                extra[(res.id, res.source)] = {"pss": {"level": pss_level, "version": plan.settings.pss_version, "allowed": None, "error": pod_error.reason, "violations": []}}
            else:
                extra[(res.id, res.source)] = {"pss": pss_summary(pods, pss_level, plan.settings.pss_version)}
        ignores = inline_ignores(res, pods, registry)
        for m in plan.obj:
            if m.kinds is None or res.id.kind in m.kinds:
                rec.run(m, res, (res, ctx[m.id]), None, (), ignores)
        if pod_error is not None:
            for m in plan.pod + plan.cont:
                rec.add(m, res, Status.NOT_EVALUATED, None, pod_error.reason, pod_error.path)
            continue
        for pod in pods:
            for m in plan.pod:
                rec.run(m, res, (pod, ctx[m.id]), None, pod.path, ignores)
            if not plan.cont:
                continue
            try:
                containers = list(pod.containers())
            except NotEvaluated as exc:
                for m in plan.cont:
                    rec.add(m, res, Status.NOT_EVALUATED, None, exc.reason, exc.path)
                continue
            for c in containers:
                for m in plan.cont:
                    rec.run(m, res, (pod, c, ctx[m.id]), c.name, c.path, ignores)
    if omitted is not None:
        omitted[0] += rec.omitted
    return rec.outcomes


def problem_outcome(p: LoadProblem, plan: _Plan | None = None) -> Outcome:
    cid = INPUT_CHECKS[p.kind]
    src = p.source or Source(p.file, p.doc_index or 0, p.line)
    sev = plan.severity[cid] if plan is not None else REGISTRY.get(cid).severity
    o = Outcome(cid, Status.NOT_EVALUATED, p.resource, src, None, p.message, (), Location(p.file, p.line, p.column), "", None, sev)
    o.fingerprint = fingerprint(cid, p.resource, None, (), p.file)
    return o


# ---------------------------------------------------------------------------------------------
# running over many inputs
# ---------------------------------------------------------------------------------------------
_worker_plan: _Plan | None = None


def _init_worker(settings: EngineSettings) -> None:
    global _worker_plan
    from kubefort.registry import load_builtin_checks

    load_builtin_checks()
    _worker_plan = _plan(settings, REGISTRY)


_Scanned = tuple[
    InputRecord,
    list[Outcome],
    list[tuple[ResourceId, Source]],
    list[tuple[Resource, bool]],
    dict[tuple[ResourceId, Source], dict[str, Any]],
    dict[str, list[int]],
    int,  # passes counted, not kept
]


def _scan_loaded(li: LoadedInput, plan: _Plan) -> _Scanned:
    collected: list[tuple[Resource, bool]] = []
    extra: dict[tuple[ResourceId, Source], dict[str, Any]] = {}
    omitted = [0]
    outs = evaluate(li, plan, collect=collected if plan.cluster else None, extra=extra, omitted=omitted)
    # document start lines let the main process locate cross-object findings without composing
    # whole files again
    doc_lines = {li.record.path: li.doc_lines} if collected and li.data is not None else {}
    return li.record, outs, [(r.id, r.source) for r in li.resources], collected, extra, doc_lines, omitted[0]


_OUTCOME_FIELDS = operator.attrgetter(*Outcome.__slots__)


def pack(outcomes: list[Outcome]) -> list[tuple[Any, ...]]:
    """Outcomes as plain tuples for the trip from a worker: pickling slotted dataclasses one by
    one costs as much as running the checks. Passes (most outcomes) travel as 6-tuples."""
    passed = Status.PASSED
    # a pass carries no message, location, fingerprint or suppression (_Recorder.add)
    return [
        (o.check_id, o.resource, o.source, o.container, o.path, o.severity) if o.status is passed and not o.message else _OUTCOME_FIELDS(o)
        for o in outcomes
    ]


def unpack(rows: list[tuple[Any, ...]]) -> list[Outcome]:
    passed = Status.PASSED
    return [Outcome(r[0], passed, r[1], r[2], r[3], "", r[4], None, "", None, r[5]) if len(r) == 6 else Outcome(*r) for r in rows]


def _scan_spec(spec: InputSpec) -> _Scanned:
    assert _worker_plan is not None
    r = _scan_loaded(load(spec, _worker_plan.settings.load), _worker_plan)
    return (r[0], pack(r[1]), *r[2:])  # type: ignore[return-value]


def run(
    specs: Sequence[InputSpec],
    settings: EngineSettings,
    *,
    jobs: int | None = None,
    stdin_data: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[
    list[InputRecord],
    list[Outcome],
    list[tuple[ResourceId, Source]],
    list[tuple[Resource, bool]],
    dict[tuple[ResourceId, Source], dict[str, Any]],
    dict[str, list[int]],
    int,
]:
    """Load and check every input; results keep the order of `specs`."""
    _init_worker(settings)
    records: list[InputRecord] = []
    outcomes: list[Outcome] = []
    resources: list[tuple[ResourceId, Source]] = []
    collected: list[tuple[Resource, bool]] = []
    extra: dict[tuple[ResourceId, Source], dict[str, Any]] = {}
    doc_lines: dict[str, list[int]] = {}
    omitted = 0
    total_bytes = sum(s.size for s in specs)
    ncpu = jobs if jobs and jobs > 0 else (os.cpu_count() or 1)
    parallel = ncpu > 1 and len(specs) > 1 and (total_bytes >= PARALLEL_MIN_BYTES or any(s.kind in ("helm", "kustomize") for s in specs) and len(specs) > 2)
    parallel = parallel and "fork" in multiprocessing.get_all_start_methods()
    done = 0
    if parallel:
        files = [s for s in specs if s.kind != "stdin"]
        # big files first so that no worker is left with the largest at the end
        order = sorted(range(len(files)), key=lambda i: -files[i].size)
        chunk = max(1, min(64, len(files) // (ncpu * 8) or 1))
        results: list[Any] = [None] * len(files)
        with ProcessPoolExecutor(max_workers=ncpu, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker, initargs=(settings,)) as ex:
            for i, r in zip(order, ex.map(_scan_spec, [files[i] for i in order], chunksize=chunk)):
                results[i] = (r[0], unpack(r[1]), *r[2:])
                done += 1
                if progress:
                    progress(done, len(specs))
        it = iter(results)
        merged = [next(it) if s.kind != "stdin" else None for s in specs]
    else:
        merged = [None] * len(specs)
    for i, s in enumerate(specs):
        r = merged[i]
        if r is None:
            li = load(s, settings.load, stdin_data if s.kind == "stdin" else None)
            assert _worker_plan is not None
            r = _scan_loaded(li, _worker_plan)
            done += 1
            if progress:
                progress(done, len(specs))
        records.append(r[0])
        outcomes.extend(r[1])
        resources.extend(r[2])
        collected.extend(r[3])
        extra.update(r[4])
        doc_lines.update(r[5])
        omitted += r[6]
    return records, outcomes, resources, collected, extra, doc_lines, omitted


class ClusterIndex:
    """Objects from every input, for cross-object checks (Namespaces, quotas, workloads ...).

    `gaps` says what could not be read from a cluster: kind -> {namespace or None (all): (reason,
    requested)}, `requested` when the user skipped the type. A check whose `needs` touch a gap is
    not evaluated for the targets the gap can affect.
    """

    def __init__(self, collected: list[tuple[Resource, bool]], gaps: dict[str, dict[str | None, tuple[str, bool]]] | None = None) -> None:
        self.gaps = gaps or {}
        self.ignores: dict[int, list[InlineIgnore]] = {}  # id(resource) -> its kubefort.io/ignore entries
        self.resources = [r for r, _ in collected]
        self.pod_bearing = [r for r, has in collected if has]
        self.by_kind: dict[str, list[Resource]] = {}
        for r in self.resources:
            self.by_kind.setdefault(r.id.kind, []).append(r)
        self._derived: dict[str, Any] = {}

    def derived(self, key: str, build: Callable[[], T]) -> T:
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]  # type: ignore[no-any-return]

    def kind(self, kind: str) -> list[Resource]:
        return self.by_kind.get(kind, [])

    def namespace(self, name: str | None) -> Resource | None:
        if name is None:
            return None
        return next((r for r in self.kind("Namespace") if r.id.name == name and r.id.api_version == "v1"), None)

    def in_namespace(self, kind: str, namespace: str) -> list[Resource]:
        return [r for r in self.kind(kind) if r.id.namespace == namespace]

    def gap_for(self, needs: Iterable[str], namespace: str | None) -> tuple[str, bool] | None:
        """Why objects a check needs may be missing for a target in `namespace` (None: none missing).

        A gap in one namespace affects targets in that namespace and cluster-scoped targets
        (which look across namespaces); a gap in every namespace affects all targets."""
        if not self.gaps:
            return None
        for kind in needs:
            kinds = POD_KINDS if kind in ("@pods", "@namespaced-pods") else (kind,)
            for k in kinds:
                g = self.gaps.get(k)
                if not g:
                    continue
                if None in g:
                    return g[None]
                if namespace is None:
                    return next(iter(g.values()))
                if namespace in g:
                    return g[namespace]
        return None


_cluster_state: tuple[Any, ...] | None = None


def run_cluster_checks(
    plan: _Plan,
    collected: list[tuple[Resource, bool]],
    stdin_data: bytes | None,
    registry: Registry = REGISTRY,
    doc_lines: dict[str, list[int]] | None = None,
    jobs: int = 1,
    gaps: dict[str, dict[str | None, tuple[str, bool]]] | None = None,
) -> list[Outcome]:
    """Cross-object checks, after every input was loaded. Files are re-read only to locate failures.

    Independent checks run in forked workers (which inherit the collected objects) when it pays;
    results are concatenated in check order either way, so reports do not depend on it.
    """
    global _cluster_state
    if not plan.cluster:
        return []
    ids = [m.id for m in plan.cluster]
    # one index for all checks (checks may cache derived data per index, e.g. the RBAC policy), and
    # one cache of locators per process, so a document is composed once whichever checks need it
    _cluster_state = (plan, ClusterIndex(collected, gaps), stdin_data, registry, doc_lines or {}, {})
    try:
        if jobs > 1 and len(ids) > 1 and len(collected) > 200 and "fork" in multiprocessing.get_all_start_methods():
            with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as ex:
                parts = list(ex.map(_run_cluster_check, ids))
        else:
            parts = [_run_cluster_check(i) for i in ids]
    finally:
        _cluster_state = None
    return [o for part in parts for o in part]


def _run_cluster_check(check_id: str) -> list[Outcome]:
    assert _cluster_state is not None
    plan, index, stdin_data, registry, doc_lines, locators = _cluster_state

    def locator_for(src: Source) -> Locator | None:
        if src.file not in locators:
            data: bytes | None = None
            if src.file.startswith(CLUSTER_SCHEME):
                pass
            elif src.file == "-":
                data = stdin_data
            else:
                try:
                    with open(src.file, "rb") as fh:
                        data = fh.read()
                except OSError:
                    data = None
            locators[src.file] = Locator(data, doc_lines.get(src.file)) if data is not None else None
        return locators[src.file]

    rec = _Recorder(plan, locator_for)
    m = registry.get(check_id)
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
        missing = index.gap_for(needs, res.id.name if res.id.kind == "Namespace" and res.id.api_version == "v1" else res.id.namespace)
        if missing is not None:
            reason, requested = missing
            if requested:
                supp = Suppression("request", reason, None, "--skip-resources")
                rec.add(m, res, Status.NOT_EVALUATED, None, f"objects this check needs were not read: {reason}", (), supp)
            else:
                rec.add(m, res, Status.NOT_EVALUATED, None, f"objects this check needs could not be read: {reason}", ())
            continue
        ignores = index.ignores.get(id(res))
        if ignores is None:  # once per object, whichever checks target it
            try:
                pods = find_pods(res, plan.settings.pod_template_paths)
            except NotEvaluated:
                pods = []
            ignores = index.ignores[id(res)] = inline_ignores(res, pods, registry)
        rec.run(m, res, (res, index, plan.ctx[m.id]), None, (), ignores)
    return rec.outcomes


def apply_exceptions(outcomes: list[Outcome], config: Config | None, baseline: set[str] | None, today: dt.date | None = None) -> tuple[list[str], list[str]]:
    """Config exceptions and the baseline turn failures into suppressions. Returns (unused, expired)."""
    today = today or dt.date.today()
    rules = config.exceptions if config else []
    live = [r for r in rules if not r.expired(today)]
    expired = [r for r in rules if r.expired(today)]
    expired_hits: set[int] = set()
    for o in outcomes:
        if o.status is not Status.FAILED:
            continue
        for r in live:
            if r.matches(o):
                r.used += 1
                o.status = Status.SUPPRESSED
                o.suppression = Suppression("config", r.reason, r.expires.isoformat() if r.expires else None, r.where)
                break
        else:
            for j, r in enumerate(expired):
                if r.matches(o):
                    expired_hits.add(j)
            if baseline and o.fingerprint in baseline:
                o.status = Status.SUPPRESSED
                o.suppression = Suppression("baseline", "present in the baseline", None, "--baseline")
    unused = [r.describe() for r in live if r.used == 0]
    expired_msgs = [
        f"{r.describe()} expired on {r.expires.isoformat() if r.expires else '?'}" + (" and no longer suppresses matching findings" if j in expired_hits else "")
        for j, r in enumerate(expired)
    ]
    return unused, expired_msgs


def scan(
    specs: Sequence[InputSpec],
    settings: EngineSettings,
    *,
    config: Config | None = None,
    baseline: set[str] | None = None,
    jobs: int | None = None,
    stdin_data: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    t0 = time.perf_counter()
    records, outcomes, resources, collected, extra, doc_lines, omitted = run(specs, settings, jobs=jobs, stdin_data=stdin_data, progress=progress)
    assert _worker_plan is not None
    ncpu = jobs if jobs and jobs > 0 else (os.cpu_count() or 1)
    outcomes.extend(run_cluster_checks(_worker_plan, collected, stdin_data, doc_lines=doc_lines, jobs=ncpu))
    unused, expired = apply_exceptions(outcomes, config, baseline)
    return ScanResult(
        tool_version=__version__,
        outcomes=outcomes,
        inputs=records,
        resources=resources,
        checks_run=list(settings.check_ids),
        unused_exceptions=unused,
        expired_exceptions=expired,
        duration_s=time.perf_counter() - t0,
        finished_at=time.time(),
        passed_omitted=omitted,
        object_extra=extra,
    )
