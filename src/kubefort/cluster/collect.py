"""List everything a scan needs from a cluster, in parallel, as a bounded stream of pages.

* Every listable type from discovery, minus `--skip-resources` (by default events, which are
  numerous and read by no check, and the deprecated componentstatuses).
* Paginated (`limit`/`continue`). A 410 Expired continue token restarts that list; the pages of
  the abandoned attempt are dropped by the consumer (`Page.attempt`), so no object is counted twice.
* Secrets are listed as a metadata Table (`includeObject=Metadata`): names, labels, annotations
  and the type column, never a value. The `last-applied-configuration` annotation, which holds
  the whole object including its data, is removed before anything else sees it.
* A 403 on a cluster-wide list of a namespaced type falls back to one list per known namespace.
  What stays forbidden is returned as gaps: the engine turns each into a not-evaluated outcome,
  and checks that would need the missing objects say so instead of passing.
* `managedFields` are dropped as pages are read: they are often half of an object's size and no
  check reads them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubefort.cluster.client import Cluster, ClusterError
from kubefort.cluster.discovery import Discovery, ResourceType

# events: many, short-lived, read by no check; componentstatuses: deprecated since 1.19
DEFAULT_SKIP = ("events", "events.events.k8s.io", "componentstatuses")
SECRET_TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"  # noqa: S105 - a media type
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(slots=True)
class Page:
    list_index: int  # the list's position in the plan (reports keep this order)
    rtype: ResourceType
    namespace: str | None  # None: all namespaces (or a cluster-scoped type)
    attempt: int  # > 0 after a 410 restart; earlier attempts of the same list are superseded
    number: int  # page number inside the attempt
    data: bytes  # the JSON list (or Table) as served, or a normalized snapshot page
    table: bool = False  # a meta.k8s.io Table with metadata objects (Secrets)
    normalized: bool = False  # items already carry apiVersion/kind and no managedFields (snapshots)


@dataclass(slots=True)
class ListStatus:
    """How one list ended: `ok`, `forbidden` (401/403), `error` (anything else), or `skipped` by request."""

    rtype: ResourceType
    namespace: str | None
    status: str
    objects: int = 0
    message: str = ""
    fallback: bool = False  # forbidden cluster-wide, so each known namespace was listed one by one
    covered_by: list[str] = field(default_factory=list)  # ... and these namespaces could be listed

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.rtype.as_dict(),
            "namespace": self.namespace,
            "status": self.status,
            "objects": self.objects,
            "message": self.message,
            "fallback": self.fallback,
            "coveredBy": self.covered_by,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ListStatus:
        return cls(
            ResourceType.from_dict(d["type"]),
            d.get("namespace"),
            d["status"],
            d.get("objects", 0),
            d.get("message", ""),
            bool(d.get("fallback")),
            list(d.get("coveredBy") or []),
        )


@dataclass(slots=True)
class Gap:
    """Objects kubefort could not read: a type, in one namespace or (None) in all of them."""

    kind: str
    api_version: str
    path: str  # the list's API path, e.g. /apis/apps/v1/namespaces/shop/deployments
    namespace: str | None
    reason: str
    requested: bool = False  # skipped by --skip-resources / -n, not refused by the server


# Lists run in three phases so that an object's controller is always read before it: pods last,
# ReplicaSets and Jobs (owned by Deployments and CronJobs) before them, everything else first.
PHASES = {("apps", "replicasets"): 1, ("batch", "jobs"): 1, ("", "pods"): 2}


def phase_of(t: ResourceType) -> int:
    return PHASES.get((t.group, t.resource), 0)


def normalize(page: Page) -> list[dict[str, Any]]:
    """The objects of a page, each with apiVersion and kind, without managedFields or secret data."""
    body: object = orjson.loads(page.data)
    if not isinstance(body, dict):
        raise ValueError(f"list answer is {type(body).__name__}, not an object")
    rt = page.rtype
    if page.normalized:
        items = body.get("items") or []
    elif page.table:
        items = _table_objects(body, rt)
    else:
        items = body.get("items") or []
        for it in items:
            if isinstance(it, dict):
                it.setdefault("apiVersion", rt.api_version)
                it.setdefault("kind", rt.kind)
    if not isinstance(items, list):
        raise ValueError(f"items is {type(items).__name__}, not a list")
    for it in items:
        meta = it.get("metadata") if isinstance(it, dict) else None
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
            if rt.kind == "Secret" and rt.group == "":
                _strip_secret(it)
    return items


def _table_objects(body: dict[str, Any], rt: ResourceType) -> list[dict[str, Any]]:
    cols = [c.get("name", "").lower() for c in body.get("columnDefinitions") or []]
    type_col = cols.index("type") if "type" in cols else None
    out: list[dict[str, Any]] = []
    for row in body.get("rows") or []:
        meta = (row.get("object") or {}).get("metadata") or {}
        obj: dict[str, Any] = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": meta}
        cells = row.get("cells") or []
        if type_col is not None and type_col < len(cells) and isinstance(cells[type_col], str):
            obj["type"] = cells[type_col]
        out.append(obj)
    return out


def _strip_secret(obj: dict[str, Any]) -> None:
    # whatever the server sent, keep nothing that can hold a value
    for key in ("data", "stringData"):
        obj.pop(key, None)
    ann = obj["metadata"].get("annotations")
    if isinstance(ann, dict):
        ann.pop(LAST_APPLIED, None)


class Collector:
    """Lists a cluster into a queue of pages; `pages()` yields them as they arrive."""

    def __init__(
        self,
        cluster: Cluster,
        discovery: Discovery,
        *,
        namespaces: list[str] | None = None,
        skip: tuple[str, ...] = DEFAULT_SKIP,
        page_size: int = 500,
        workers: int = 8,
        max_queued: int = 32,
    ) -> None:
        self.cluster = cluster
        self.discovery = discovery
        self.namespaces = namespaces  # None: all namespaces
        self.skip = {s.lower() for s in skip}
        self.page_size = page_size
        self.workers = workers
        self.q: queue.Queue[Page | BaseException | None] = queue.Queue(max_queued)  # bounded: memory stays flat
        self.statuses: list[ListStatus] = []
        self.known_namespaces: list[str] = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()

    # -- plan ------------------------------------------------------------------------------------
    def _skipped(self, t: ResourceType) -> bool:
        return t.key.lower() in self.skip or (t.resource.lower() in self.skip and not t.group)

    def pages(self) -> Iterator[Page]:
        th = threading.Thread(target=self._run, name="kubefort-list", daemon=True)
        th.start()
        try:
            while True:
                item = self.q.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._cancel.set()
            while th.is_alive():  # unblock producers waiting on a full queue
                try:
                    self.q.get_nowait()
                except queue.Empty:
                    th.join(0.05)

    def _run(self) -> None:
        try:
            self._list_all()
            self.q.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread, which re-raises it
            self.q.put(exc)

    def _list_all(self) -> None:
        types = list(self.discovery.types)
        order = {id(t): i for i, t in enumerate(types)}
        ns_type = next((t for t in types if t.group == "" and t.resource == "namespaces"), None)
        # namespaces first: the per-namespace fallback after a 403 needs their names
        if ns_type is not None and not self._skipped(ns_type):
            if self.namespaces is None:
                st = self._list(order[id(ns_type)], ns_type, None, names=self.known_namespaces)
            else:
                st = self._get_namespaces(order[id(ns_type)], ns_type)
            self._record(st)
        if self.namespaces is not None:
            self.known_namespaces = list(self.namespaces)
        elif not self.known_namespaces and self.cluster.default_namespace:
            self.known_namespaces = [self.cluster.default_namespace]
        jobs: list[tuple[int, ResourceType, str | None]] = []
        for t in types:
            if t is ns_type:
                continue
            if self._skipped(t):
                self._record(ListStatus(t, None, "skipped", message="--skip-resources"))
                continue
            if t.namespaced and self.namespaces is not None:
                jobs += [(order[id(t)], t, ns) for ns in self.namespaces]
            else:
                jobs.append((order[id(t)], t, None))
        with ThreadPoolExecutor(self.workers, thread_name_prefix="kubefort-list") as ex:
            for phase in sorted({phase_of(t) for _, t, _ in jobs}):
                todo = [j for j in jobs if phase_of(j[1]) == phase]
                for st in ex.map(lambda j: self._list_with_fallback(*j), todo):
                    self._record(st)

    def _record(self, st: ListStatus) -> None:
        with self._lock:
            self.statuses.append(st)

    def _list_with_fallback(self, idx: int, t: ResourceType, ns: str | None) -> ListStatus:
        st = self._list(idx, t, ns)
        if st.status == "forbidden" and t.namespaced and ns is None and self.known_namespaces:
            # namespace-scoped credentials: try each namespace we know of
            st.fallback = True
            for n in self.known_namespaces:
                sub = self._list(idx, t, n)
                if sub.status == "ok":
                    st.covered_by.append(n)
                else:
                    self._record(sub)
        return st

    def _get_namespaces(self, idx: int, t: ResourceType) -> ListStatus:
        """With -n: read just the named Namespace objects (their labels carry the PSA levels)."""
        st = ListStatus(t, None, "ok")
        items: list[object] = []
        for n in self.namespaces or []:
            r = self.cluster.get(t.path() + "/" + n)
            if r.status == 200:
                items.append(r.json())
            elif r.status == 404:
                raise ClusterError(f"namespace {n!r} does not exist")
            else:
                st.status = "forbidden" if r.status in (401, 403) else "error"
                st.message = f"{r.status}: {r.message()}"
        if items:
            self._put(Page(idx, t, None, 0, 0, orjson.dumps({"items": items})))
        return st

    def _put(self, page: Page) -> None:
        while not self._cancel.is_set():
            try:
                self.q.put(page, timeout=0.2)
                return
            except queue.Full:
                continue

    def _list(self, idx: int, t: ResourceType, ns: str | None, names: list[str] | None = None) -> ListStatus:
        table = t.group == "" and t.resource == "secrets"
        accept = SECRET_TABLE_ACCEPT if table else "application/json"
        path = t.path(ns)
        attempt, number, cont = 0, 0, None
        while not self._cancel.is_set():
            params: dict[str, str | int] = {"limit": self.page_size}
            if table:
                params["includeObject"] = "Metadata"
            if cont:
                params["continue"] = cont
            r = self.cluster.get(path, params, accept)
            if r.status == 410 and cont:
                # the continue token expired: list again from the start, as a new attempt
                attempt, number, cont = attempt + 1, 0, None
                if names is not None:
                    names.clear()
                continue
            if r.status in (401, 403):
                return ListStatus(t, ns, "forbidden", 0, f"{r.status}: {r.message()}")
            if r.status != 200:
                return ListStatus(t, ns, "error", 0, f"{r.status}: {r.message()}")
            meta = _list_meta(r.data, names)
            self._put(Page(idx, t, ns, attempt, number, r.data, table))
            number += 1
            cont = meta.get("continue")
            if not cont:
                break
        return ListStatus(t, ns, "ok")


def _list_meta(data: bytes, names: list[str] | None) -> dict[str, Any]:
    """The list's metadata (for `continue`) without parsing its items: the API server writes
    kind, apiVersion and metadata before the items. Falls back to a full parse."""
    if names is None:
        i = data.find(b'"metadata":', 0, 4096)
        if i >= 0:
            for marker in (b',"items":', b',"columnDefinitions":'):
                j = data.find(marker, i)
                if j > 0:
                    try:
                        meta = orjson.loads(data[i + 11 : j])
                        if isinstance(meta, dict):
                            return meta
                    except orjson.JSONDecodeError:
                        break
    body = orjson.loads(data)
    if names is not None:
        names.extend(((it.get("metadata") or {}).get("name") or "") for it in body.get("items") or [])
    return body.get("metadata") or {}


def gaps(statuses: list[ListStatus], namespaces_known: bool) -> list[Gap]:
    """What could not be read, from the list statuses."""
    out: list[Gap] = []
    for st in statuses:
        t = st.rtype
        if st.status == "ok":
            continue
        if st.status == "skipped":
            out.append(Gap(t.kind, t.api_version, t.path(), None, f"not listed: {t.key} is in --skip-resources", True))
            continue
        if st.namespace is None and st.fallback:
            if namespaces_known:
                continue  # every namespace was tried one by one; failures are their own statuses
            listed = ", ".join(st.covered_by) or "no namespace"
            reason = f"cannot list {t.key} in all namespaces ({st.message}); listed in {listed} only"
        else:
            where = f" in namespace {st.namespace}" if st.namespace else (" in all namespaces" if t.namespaced else "")
            reason = f"cannot list {t.key}{where}: {st.message}"
        out.append(Gap(t.kind, t.api_version, t.path(st.namespace), st.namespace, reason))
    return out
