"""Scan a cluster source (live or snapshot) with the same engine as manifests.

Pages stream from the source into a pool of forked worker processes (parse, per-object checks);
the main process keeps only compact outcomes and the objects the cross-object checks need, so
memory stays flat whatever the cluster's size. Results are put back in discovery order at the
end, so the report does not depend on which page arrived first.

Controlled objects are folded into their controller (unless `fold=False`, `--scan-owned`): a
ReplicaSet whose Deployment was read, or a Pod whose ReplicaSet, Job, StatefulSet or DaemonSet
was read, is reported as covered by it instead of repeating its findings, provided it runs the
same containers (same names and images) as the controller's template. A pod that differs (a
sidecar injected by an admission webhook, a rewritten image) is checked itself. So is every
object whose controller was not read; ReplicaSets a Deployment keeps at 0 replicas (earlier
revisions, for rollbacks) are covered by it whatever they run. Controllers are listed before
what they control (collect.PHASES), so the decision is made as pages arrive.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

import orjson

from kubefort.checks.cluster import ANONYMOUS_PROBE
from kubefort.cluster.collect import DEFAULT_SKIP, Gap, ListStatus, Page, gaps, normalize, phase_of
from kubefort.cluster.discovery import Discovery, ResourceType
from kubefort.config import Config
from kubefort.engine import CLUSTER_SCHEME, Engine, EngineSettings, Gaps, Partial
from kubefort.engine.progress import ProgressCallback
from kubefort.kube.pods import find_pods
from kubefort.loaders.manifests import LoadedInput, LoadProblem, add_object
from kubefort.model import (
    InputRecord,
    Location,
    NotEvaluated,
    Outcome,
    Resource,
    ResourceId,
    ScanResult,
    Source,
    Status,
    fingerprint,
)
from kubefort.registry import Registry

Progress = Callable[[int, str], None]  # (objects so far, what is being read)


class ClusterSource(Protocol):
    name: str
    server: str
    info: dict[str, Any]
    discovery: Discovery
    scope: dict[str, Any]

    def pages(self) -> Any: ...

    @property
    def statuses(self) -> list[ListStatus]: ...

    @property
    def namespaces_known(self) -> bool: ...


def base(name: str) -> str:
    return f"{CLUSTER_SCHEME}{name}"


def object_path(page: Page, obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    ns = meta.get("namespace") if page.rtype.namespaced else None
    name = meta.get("name")
    return page.rtype.path(ns if isinstance(ns, str) else None) + "/" + (name if isinstance(name, str) else "?")


# a page's Partial, how many objects it listed, and the controllers it holds (uid -> (name, containers))
_PageResult = tuple[Partial, int, dict[str, tuple[str, "Signature"]]]
_engine: Engine | None = None  # the engine forked workers inherit


Signature = tuple[tuple[str, str, str], ...]
# mkdtemp makes a private 0700 directory; /dev/shm keeps the fold files in memory where it exists
_SHM = "/dev/shm"  # noqa: S108
_fold_cache: dict[str, dict[str, tuple[str, Signature]]] = {}


def signature(res: Resource) -> Signature | None:
    """The containers an object runs: (list, name, image) of every container of its pod specs."""
    try:
        pods = find_pods(res)
    except NotEvaluated:
        return None
    sig = []
    for pod in pods:
        for key in ("initContainers", "containers"):
            items = pod.spec.data.get(key)
            if isinstance(items, list):
                sig += [(key, str(c.get("name")), str(c.get("image"))) for c in items if isinstance(c, dict)]
    return tuple(sorted(sig)) if pods else None


def controller_uid(obj: dict[str, Any]) -> str | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences")
    if isinstance(refs, list):
        for r in refs:
            uid = r.get("uid") if isinstance(r, dict) else None
            if isinstance(r, dict) and r.get("controller") is True and isinstance(uid, str):
                return uid
    return None


def _scaled_to_zero(res: Resource) -> bool:
    """A ReplicaSet a Deployment keeps for rollbacks: it runs nothing."""
    spec = res.obj.get("spec")
    return res.id.kind == "ReplicaSet" and isinstance(spec, dict) and spec.get("replicas") == 0


def _fold_map(path: str | None) -> dict[str, tuple[str, Signature]]:
    if path is None:
        return {}
    if path not in _fold_cache:
        _fold_cache.clear()
        with open(path, "rb") as fh:
            _fold_cache[path] = pickle.load(fh)  # noqa: S301 - written by this scan's own main process into its private 0700 directory
    return _fold_cache[path]


def _scan_page(page: Page, cluster: str, fold_path: str | None = None) -> _PageResult:
    """In a worker: one page -> (its Partial, object count, controllers seen)."""
    if _engine is None:
        raise RuntimeError("worker used before _init_worker")
    listing = base(cluster) + page.rtype.path(page.namespace)
    li = LoadedInput(InputRecord(listing, "cluster"))
    try:
        items = normalize(page)
    except (ValueError, orjson.JSONDecodeError) as exc:
        li.problems.append(LoadProblem("read", listing, f"unreadable list answer: {exc}"))
        items = []
    for obj in items:
        file = base(cluster) + ("/version" if page.list_index < 0 else object_path(page, obj))
        add_object(li, obj, Source(file), file)
    fold = _fold_map(fold_path)
    order = [(r.id, r.source) for r in li.resources]
    folded: dict[tuple[ResourceId, Source], dict[str, Any]] = {}
    controllers: dict[str, tuple[str, Signature]] = {}
    kept = []
    for res in li.resources:
        sig = signature(res)
        if sig is None:
            kept.append(res)
            continue
        uid = (res.obj.get("metadata") or {}).get("uid")
        owner = fold.get(controller_uid(res.obj) or "")
        if owner is not None and owner[1] == sig:
            folded[(res.id, res.source)] = {"coveredBy": owner[0]}
        elif owner is not None and _scaled_to_zero(res):
            folded[(res.id, res.source)] = {"coveredBy": f"{owner[0]} (an earlier revision, scaled to 0)"}
        else:
            kept.append(res)
        if isinstance(uid, str):
            controllers[uid] = (str(res.id), sig)
    li.resources = kept
    part = _engine.evaluate(li)
    part.resources = order  # folded objects were read too
    part.object_extra.update(folded)
    return part, len(items), controllers


def scan_source(
    source: ClusterSource,
    settings: EngineSettings,
    *,
    config: Config | None = None,
    baseline: set[str] | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    fold: bool = True,
    phases: ProgressCallback | None = None,
) -> ScanResult:
    global _engine
    t0 = time.perf_counter()
    if source.scope.get("anonymousProbe") is False:
        skipped = ("the unauthenticated probe was not run", "--no-anonymous-probe")
        settings = dataclasses.replace(settings, skipped_facts={**settings.skipped_facts, ANONYMOUS_PROBE: skipped})
    engine = _engine = Engine(settings)
    ncpu = jobs if jobs and jobs > 0 else (os.cpu_count() or 1)
    results: dict[tuple[int, str, int, int], _PageResult] = {}
    objects = 0

    # the ClusterInfo facts are one more object, checked like the others
    info_page = Page(-1, _INFO_TYPE, None, 0, 0, orjson.dumps({"items": [source.info]}), normalized=True)

    pool: ProcessPoolExecutor | None = None
    if ncpu > 1 and "fork" in multiprocessing.get_all_start_methods():
        # fork the workers now, before the listing threads start
        pool = ProcessPoolExecutor(max_workers=ncpu, mp_context=multiprocessing.get_context("fork"))
        pool.submit(int).result()
    inflight: dict[Future[_PageResult], tuple[int, str, int, int]] = {}

    controllers: dict[str, tuple[str, Signature]] = {}
    fold_dir = tempfile.mkdtemp(prefix="kubefort-fold-", dir=_SHM if os.path.isdir(_SHM) else None) if fold else None
    fold_path: str | None = None
    phase = 0

    def done(key: tuple[int, str, int, int], r: _PageResult) -> None:
        nonlocal objects
        results[key] = r
        objects += r[1]
        controllers.update(r[2])
        if progress:
            progress(objects, "")

    try:
        results[(-1, "", 0, 0)] = _scan_page(info_page, source.name)
        for page in source.pages():
            key = (page.list_index, page.namespace or "", page.attempt, page.number)
            if progress:
                progress(objects, page.rtype.key)
            if fold_dir is not None and phase_of(page.rtype) != phase:
                # every controller of this phase's objects has been read: hand their map to the workers
                for f in wait(inflight).done:
                    done(inflight.pop(f), f.result())
                phase = phase_of(page.rtype)
                fold_path = os.path.join(fold_dir, f"phase-{phase}.pickle")
                with open(fold_path, "wb") as fh:
                    pickle.dump(controllers, fh, protocol=pickle.HIGHEST_PROTOCOL)
            if pool is None:
                done(key, _scan_page(page, source.name, fold_path))
                continue
            inflight[pool.submit(_scan_page, page, source.name, fold_path)] = key
            # a few pages queued per worker, whichever finish first: a slow page (a list of big
            # Deployments) must not leave the other worker idle behind it
            while len(inflight) > 3 * ncpu:
                for f in wait(inflight, return_when=FIRST_COMPLETED).done:
                    done(inflight.pop(f), f.result())
        for f in wait(inflight).done:
            done(inflight.pop(f), f.result())
    finally:
        _engine = None
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if fold_dir is not None:
            shutil.rmtree(fold_dir, ignore_errors=True)

    # a list restarted after 410 Expired: only its last attempt counts
    last: dict[tuple[int, str], int] = {}
    for li, ns, attempt, _n in results:
        last[(li, ns)] = max(attempt, last.get((li, ns), 0))
    merged = Partial()
    counts: dict[tuple[int, str], int] = {}
    for key in sorted(results):
        li, ns, attempt, _n = key
        part, n, _ = results.pop(key)
        if attempt != last[(li, ns)]:
            continue
        merged.merge(part)
        counts[(li, ns)] = counts.get((li, ns), 0) + n

    # in discovery order, whichever list finished first
    type_index = {(t.group, t.resource): i for i, t in enumerate(source.discovery.types)}
    statuses = sorted(
        source.statuses, key=lambda st: (type_index.get((st.rtype.group, st.rtype.resource), -1), st.namespace or "")
    )
    found = gaps(statuses, source.namespaces_known)
    records = _records(source.name, statuses, counts, type_index)
    gap_map: Gaps = {}
    for g in found:
        gap_map.setdefault(g.kind, {})[g.namespace] = (g.reason, g.requested)

    version = (
        (source.info.get("serverVersion") or {}).get("gitVersion")
        if isinstance(source.info.get("serverVersion"), dict)
        else None
    )
    covered = sum(1 for e in merged.object_extra.values() if "coveredBy" in e)
    collected = merged.collected
    warnings = _unknown_skips(source)
    from kubefort.images.summary import image_extras

    live = getattr(source, "cluster", None)
    if live is not None:  # image_verification.pull_secrets: the pods' pull secrets as registry credentials
        from kubefort.images.verification import add_pull_secrets

        warnings += add_pull_secrets(engine.ctx, live, (r for r, _ in collected))
    # cross-object checks serially: forking a process that holds a whole cluster costs more than it saves
    result = engine.finish(
        merged,
        extra_outcomes=_gap_outcomes(source.name, found, engine.severity["KF-INPUT-004"]),
        gaps=gap_map,
        jobs=1,
        config=config,
        baseline=baseline,
        started=t0,
        progress=phases,
        warnings=warnings,
        records=records,
        extras={
            **(image_extras(engine.ctx, collected) or {}),
            "cluster": {
                "name": source.name,
                "server": source.server,
                "version": version,
                "objects": objects,
                "discovery": source.discovery.method,
                "scope": source.scope,
                "coveredByController": covered,
            },
        },
    )
    result.extras["cluster"]["namespaces"] = namespace_posture(result.outcomes, collected, engine.registry)
    result.duration_s = time.perf_counter() - t0
    return result


PSA_ENFORCE = "pod-security.kubernetes.io/enforce"


def namespace_posture(
    outcomes: list[Outcome], collected: list[tuple[Resource, bool]], registry: Registry
) -> dict[str, dict[str, Any]]:
    """Per namespace: its Pod Security enforce level, and the outcome of every check that declares
    a `posture` column (default-deny ingress and egress policies, a ResourceQuota, a LimitRange):
    true (passed), false (failed or suppressed), null (not evaluated: objects were missing), "n/a"
    (outside the check's scope, such as kube-system for quotas, or the check was not run)."""
    posture = {m.id: m.posture for m in registry if m.posture is not None}  # in ID order
    status: dict[tuple[str, str], Status] = {}
    for o in outcomes:
        if o.check_id in posture and o.resource is not None and o.resource.kind == "Namespace":
            status[(o.check_id, o.resource.name)] = o.status
    out: dict[str, dict[str, Any]] = {}
    for res, _ in sorted(collected, key=lambda rc: rc[0].id.name):
        if res.id.kind != "Namespace" or res.id.api_version != "v1":
            continue
        labels = (res.obj.get("metadata") or {}).get("labels")
        level = labels.get(PSA_ENFORCE) if isinstance(labels, dict) else None
        row: dict[str, Any] = {"podSecurityEnforce": level if isinstance(level, str) else None}
        for cid, key in posture.items():
            st = status.get((cid, res.id.name))
            row[key] = "n/a" if st is None else None if st is Status.NOT_EVALUATED else st is Status.PASSED
        out[res.id.name] = row
    return out


# the ClusterInfo object is checked like a listed one; its file is the server's /version
_INFO_TYPE = ResourceType("kubefort.io", "v1alpha1", "clusterinfo", "ClusterInfo", False)


def _records(
    name: str, statuses: list[ListStatus], counts: dict[tuple[int, str], int], type_index: dict[tuple[str, str], int]
) -> list[InputRecord]:
    out = []
    for st in statuses:
        rec = InputRecord(base(name) + st.rtype.path(st.namespace), "cluster")
        i = type_index.get((st.rtype.group, st.rtype.resource), -1)
        rec.objects = counts.get((i, st.namespace or ""), 0)
        if st.fallback:
            rec.objects += sum(counts.get((i, n), 0) for n in st.covered_by)
        if st.status == "skipped":
            rec.skipped.append(f"not listed: {st.message}")
        elif st.status != "ok":
            rec.error = st.message + (
                f" (listed namespace by namespace instead: {', '.join(st.covered_by) or 'none could be'})"
                if st.fallback
                else ""
            )
        out.append(rec)
    return out


def _unknown_skips(source: ClusterSource) -> list[str]:
    """A --skip-resources name that matches no served type (a typo such as `secret`) skips nothing."""
    served = {t.key.lower() for t in source.discovery.types} | {
        t.resource for t in source.discovery.types if not t.group
    }
    skip = [s for s in source.scope.get("skip") or [] if s.lower() not in served and s not in DEFAULT_SKIP]
    return [
        f"--skip-resources {s!r} matches no resource type the server serves (use plural names, name.group for other groups)"
        for s in skip
    ]


def _gap_outcomes(name: str, found: list[Gap], severity: Any) -> list[Outcome]:
    out = []
    for g in found:
        if g.requested:
            continue
        rid = ResourceId(g.api_version, g.kind, g.namespace, "*")
        file = base(name) + g.path
        o = Outcome(
            "KF-INPUT-004",
            Status.NOT_EVALUATED,
            rid,
            Source(file),
            None,
            g.reason,
            (),
            Location(file),
            "",
            None,
            severity,
        )
        o.fingerprint = fingerprint("KF-INPUT-004", rid, None, (), file)
        out.append(o)
    return out
