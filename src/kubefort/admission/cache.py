"""What the webhook knows about the cluster: Namespaces (their labels set the admission levels;
KF-PSA-007 reads their Pod Security labels), ServiceAccounts when KF-WL-001 or KF-RBAC-019 runs,
and when KF-RBAC-019 runs the cluster's Roles, ClusterRoles, RoleBindings and ClusterRoleBindings
and its version (read once, as a ClusterInfo: the release whose defaults apply).

`WatchCache` lists each kind once, then follows a watch (the `kubernetes` client's
`watch.Watch`), as client-go's reflector does: a watch that ends is resumed from the last
resourceVersion seen (bookmarks included); one that expires (410 Gone) or fails is replaced by a
new list after a short back-off. Reviews read the maps the watch threads keep up to date; no
review sends a request to the API server, except when the request's namespace is not in the map
yet (created a moment ago, the watch event still on its way): that namespace is read once.
`ready()` (what /readyz answers) is True once every kind has been listed.

`StaticNamespaces` is the cache without a cluster (`--no-cluster-cache`): the labels given on the
command line, ready at once, no ServiceAccounts, no RBAC.

Permissions: list and watch on namespaces (and serviceaccounts when KF-WL-001 or KF-RBAC-019
runs; roles, clusterroles, rolebindings and clusterrolebindings when KF-RBAC-019 runs), get on
namespaces; nothing else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import orjson

log = logging.getLogger("kubefort.admission")

WATCH_SECONDS = 300  # a watch request's timeoutSeconds; it is then resumed from where it ended
MAX_BACKOFF = 30.0


class Namespaces(Protocol):
    """What the server asks the cache."""

    live: bool  # objects come from a cluster (the context checks can run)

    def ready(self) -> bool: ...

    def labels(self, namespace: str) -> Mapping[str, str] | None: ...

    def namespace(self, name: str) -> Any: ...

    def account(self, namespace: str, name: str) -> Any: ...

    def rbac(self) -> tuple[int, list[Any]]: ...

    def fetch_namespace(self, name: str) -> Any: ...


def labels_of(obj: Any) -> dict[str, str]:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): v for k, v in labels.items() if isinstance(v, str)}


class StaticNamespaces:
    """Namespace labels given by the user (`--namespace-labels`), for a webhook without cluster access."""

    live = False

    def __init__(self, labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._labels = {ns: dict(v) for ns, v in (labels or {}).items()}

    def ready(self) -> bool:
        return True

    def labels(self, namespace: str) -> Mapping[str, str] | None:
        return self._labels.get(namespace, {})

    def namespace(self, name: str) -> Any:
        return None

    def account(self, namespace: str, name: str) -> Any:
        return None

    def rbac(self) -> tuple[int, list[Any]]:
        return 0, []

    def fetch_namespace(self, name: str) -> Any:
        return None


def parse_namespace_labels(values: list[str]) -> dict[str, dict[str, str]]:
    """`--namespace-labels shop:kubefort.io/enforce=high,kubefort.io/warn=low` (repeatable)."""
    out: dict[str, dict[str, str]] = {}
    for v in values:
        ns, sep, rest = v.partition(":")
        if not sep or not ns.strip():
            raise ValueError(f"{v!r}: expected NAMESPACE:LABEL=VALUE[,LABEL=VALUE...]")
        labels = out.setdefault(ns.strip(), {})
        for item in rest.split(","):
            if not item.strip():
                continue
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ValueError(f"{v!r}: {item!r} is not LABEL=VALUE")
            labels[key.strip()] = value.strip()
    return out


class _Store:
    """One kind's objects by key, replaced whole on a list, updated by watch events; `changes`
    counts both."""

    def __init__(self, kind: str, key: Callable[[dict[str, Any]], tuple[str, ...]]) -> None:
        self.kind = kind
        self.key = key
        self.items: dict[tuple[str, ...], dict[str, Any]] = {}
        self.synced = False
        self.changes = 0

    def replace(self, items: list[dict[str, Any]]) -> None:
        self.items = {self.key(o): o for o in items}  # one assignment: readers see the old or the new map
        self.synced = True
        self.changes += 1

    def apply(self, event_type: str, obj: dict[str, Any]) -> None:
        k = self.key(obj)
        if event_type == "DELETED":
            self.items.pop(k, None)
        else:
            self.items[k] = obj
        self.changes += 1


RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _name_key(obj: dict[str, Any]) -> tuple[str, ...]:
    return (str(_meta(obj).get("name", "")),)


def _namespaced_key(obj: dict[str, Any]) -> tuple[str, ...]:
    m = _meta(obj)
    return str(m.get("namespace", "")), str(m.get("name", ""))


class WatchCache:
    """Namespaces (and ServiceAccounts) of a cluster, kept by list + watch in daemon threads."""

    live = True

    def __init__(
        self,
        api_client: Any,
        *,
        accounts: bool,
        rbac: bool = False,
        on_error: Callable[[str], None] = lambda _what: None,
        on_synced: Callable[[], None] = lambda: None,
    ) -> None:
        from kubernetes import client

        self.core = client.CoreV1Api(api_client)
        self.on_error = on_error
        self.on_synced = on_synced
        self.stores: dict[str, _Store] = {"Namespace": _Store("Namespace", _name_key)}
        self.lists: dict[str, Callable[..., Any]] = {"Namespace": self.core.list_namespace}
        if accounts or rbac:
            self.stores["ServiceAccount"] = _Store("ServiceAccount", _namespaced_key)
            self.lists["ServiceAccount"] = self.core.list_service_account_for_all_namespaces
        self.version_api = client.VersionApi(api_client) if rbac else None
        self.cluster_info: dict[str, Any] | None = None
        self._rbac: tuple[tuple[int, ...], int, list[Any]] = ((), 0, [])
        if rbac:
            api = client.RbacAuthorizationV1Api(api_client)
            self.stores["Role"] = _Store("Role", _namespaced_key)
            self.lists["Role"] = api.list_role_for_all_namespaces
            self.stores["ClusterRole"] = _Store("ClusterRole", _name_key)
            self.lists["ClusterRole"] = api.list_cluster_role
            self.stores["RoleBinding"] = _Store("RoleBinding", _namespaced_key)
            self.lists["RoleBinding"] = api.list_role_binding_for_all_namespaces
            self.stores["ClusterRoleBinding"] = _Store("ClusterRoleBinding", _name_key)
            self.lists["ClusterRoleBinding"] = api.list_cluster_role_binding
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []

    # -- what reviews read -----------------------------------------------------------------------
    def ready(self) -> bool:
        return all(s.synced for s in self.stores.values())

    def namespace(self, name: str) -> Any:
        return self.stores["Namespace"].items.get((name,))

    def labels(self, namespace: str) -> Mapping[str, str] | None:
        obj = self.namespace(namespace)
        return labels_of(obj) if obj is not None else None

    def account(self, namespace: str, name: str) -> Any:
        store = self.stores.get("ServiceAccount")
        return store.items.get((namespace, name)) if store is not None else None

    def rbac(self) -> tuple[int, list[Any]]:
        """Every cached Role, ClusterRole, RoleBinding and ClusterRoleBinding, and the ClusterInfo
        (the server's version), with a number that changes whenever one of them does."""
        stores = [self.stores[k] for k in RBAC_KINDS if k in self.stores]
        state = tuple(s.changes for s in stores) + (self.cluster_info is not None,)
        if state != self._rbac[0]:
            objects: list[Any] = [o for s in stores for o in list(s.items.values())]
            if self.cluster_info is not None:
                objects.append(self.cluster_info)
            self._rbac = (state, self._rbac[1] + 1, objects)
        return self._rbac[1], self._rbac[2]

    def fetch_namespace(self, name: str) -> Any:
        """Read one namespace the watch has not delivered yet (None when it does not exist)."""
        from kubernetes.client.exceptions import ApiException

        try:
            resp: Any = self.core.read_namespace(name, _preload_content=False, _request_timeout=5)
            obj = _with_kind(orjson.loads(resp.data), "Namespace")
        except ApiException as exc:
            if exc.status != 404:
                self.on_error("cache-get")
                log.warning("cannot read namespace %s: %s %s", name, exc.status, exc.reason)
            return None
        except Exception as exc:  # noqa: BLE001 - network errors of every kind: judge with the defaults
            self.on_error("cache-get")
            log.warning("cannot read namespace %s: %s", name, exc)
            return None
        self.stores["Namespace"].apply("ADDED", obj)
        return obj

    # -- keeping it up to date -------------------------------------------------------------------
    def start(self) -> None:
        for kind in self.stores:
            t = threading.Thread(target=self._run, args=(kind,), name=f"kubefort-watch-{kind}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopped.set()

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _run(self, kind: str) -> None:
        backoff = 0.5
        while not self.stopped.is_set():
            try:
                rv = self._list(kind)
                backoff = 0.5
                while not self.stopped.is_set():
                    rv = self._watch(kind, rv)
            except Exception as exc:  # noqa: BLE001 - any failure: list again after a back-off, never die
                if getattr(exc, "status", None) == 410:
                    log.info("%s watch expired (410 Gone): listing again", kind)
                    continue
                self.on_error(f"watch-{kind.lower()}")
                log.warning("%s cache: %s; listing again in %.1f s", kind, _short(exc), backoff)
                self.stopped.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _list(self, kind: str) -> str:
        if kind == "ClusterRole" and self.version_api is not None and self.cluster_info is None:
            self.cluster_info = self._cluster_info()
        resp = self.lists[kind](_preload_content=False, _request_timeout=60)
        doc = orjson.loads(resp.data)
        store = self.stores[kind]
        was_ready = self.ready()
        store.replace([_with_kind(o, kind) for o in doc.get("items") or []])
        if not was_ready and self.ready():
            log.info("cluster cache synced")
            self.on_synced()
        return str((doc.get("metadata") or {}).get("resourceVersion", ""))

    def _cluster_info(self) -> dict[str, Any] | None:
        """The API server's version as the scan's ClusterInfo (None when it cannot be read: the
        RBAC checks then use the newest release kubefort ships, or their kubernetes_version)."""
        try:
            resp: Any = self.version_api.get_code(_preload_content=False, _request_timeout=10)  # type: ignore[union-attr]
            version = orjson.loads(resp.data)
        except Exception as exc:  # noqa: BLE001 - network errors of every kind: the newest release's defaults
            self.on_error("cache-version")
            log.warning("cannot read the API server's version: %s", _short(exc))
            return None
        return {
            "apiVersion": "kubefort.io/v1alpha1",
            "kind": "ClusterInfo",
            "metadata": {"name": "admission"},
            "serverVersion": version if isinstance(version, dict) else {},
        }

    def _watch(self, kind: str, rv: str) -> str:
        for typ, obj in self._events(kind, rv):
            new_rv = _meta(obj).get("resourceVersion")
            if isinstance(new_rv, str) and new_rv:
                rv = new_rv
            if typ in ("ADDED", "MODIFIED", "DELETED"):
                self.stores[kind].apply(typ, _with_kind(obj, kind))
            if self.stopped.is_set():
                break
        return rv

    def _events(self, kind: str, rv: str) -> Iterator[tuple[str, dict[str, Any]]]:
        from kubernetes import watch

        w = watch.Watch()  # type: ignore[no-untyped-call]  # kubernetes.watch carries no annotations
        for ev in w.stream(  # type: ignore[no-untyped-call]
            self.lists[kind],
            resource_version=rv,
            timeout_seconds=WATCH_SECONDS,
            allow_watch_bookmarks=True,
            _request_timeout=WATCH_SECONDS + 30,
        ):
            obj = ev.get("raw_object")
            if isinstance(obj, dict):
                yield str(ev.get("type")), obj


def _with_kind(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """List items carry no apiVersion and kind: set them, as the engine needs them."""
    obj.setdefault("apiVersion", RBAC_API_VERSION if kind in RBAC_KINDS else "v1")
    obj.setdefault("kind", kind)
    return obj


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 300 else text[:300] + "..."
