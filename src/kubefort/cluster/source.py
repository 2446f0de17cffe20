"""Where cluster objects come from: a live API server, or a snapshot file written earlier.

Both give the same things to the scanner (cluster name and server, the ClusterInfo facts,
discovery, a stream of pages, and how each list ended), so scanning a snapshot offline gives the
same report as scanning the cluster it was taken from.

Snapshot format (`.json.gz`): one gzip-compressed JSON document, written one page per line so
that it can be written and read as a stream with flat memory:

    {"kind": "KubefortClusterSnapshot", "version": 1, ..., "pages": [
    {"list": 12, "namespace": null, "attempt": 0, "number": 0, "items": [...]}
    ,{"list": 12, ...}
    ], "statuses": [...]}

Items are stored as kubefort reads them: no managedFields, and Secrets as metadata only.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
from collections.abc import Iterator
from typing import IO, Any

import orjson

from kubefort import __version__
from kubefort.cluster.client import Cluster
from kubefort.cluster.collect import DEFAULT_SKIP, Collector, ListStatus, Page, normalize
from kubefort.cluster.discovery import Discovery, discover
from kubefort.fileio import AtomicFile

SNAPSHOT_KIND = "KubefortClusterSnapshot"
SNAPSHOT_VERSION = 1
MAX_LINE = 512 * 1024 * 1024  # one page of a snapshot; larger means a hostile or broken file


class SnapshotError(Exception):
    pass


def cluster_info(name: str, server: str, version: Any, anonymous: Any) -> dict[str, Any]:
    """The synthetic object that carries cluster-level facts to the checks (KF-CLU-*)."""
    return {
        "apiVersion": "kubefort.io/v1alpha1",
        "kind": "ClusterInfo",
        "metadata": {"name": name},
        "server": server,
        "serverVersion": version,
        "anonymous": anonymous,
    }


def namespaces_known(scope: dict[str, Any], statuses: list[ListStatus]) -> bool:
    """Whether every namespace's name is known: given with -n, or listed."""
    if scope.get("namespaces") is not None:
        return True
    return any(s.rtype.group == "" and s.rtype.resource == "namespaces" and s.status == "ok" for s in statuses)


class LiveSource:
    def __init__(
        self,
        cluster: Cluster,
        *,
        namespaces: list[str] | None = None,
        skip: tuple[str, ...] = DEFAULT_SKIP,
        page_size: int = 500,
        probe: bool = True,
        workers: int = 8,
    ) -> None:
        self.cluster = cluster
        self.name = cluster.name
        self.server = cluster.server
        self.scope = {"namespaces": namespaces, "skip": list(skip), "anonymousProbe": probe}
        v = cluster.get("/version")
        version = v.json() if v.status == 200 else None
        anonymous = cluster.probe_anonymous() if probe else None
        self.info = cluster_info(self.name, self.server, version, anonymous)
        self.discovery: Discovery = discover(cluster)
        self._collector = Collector(
            cluster, self.discovery, namespaces=namespaces, skip=skip, page_size=page_size, workers=workers
        )

    def pages(self) -> Iterator[Page]:
        return self._collector.pages()

    @property
    def statuses(self) -> list[ListStatus]:
        return self._collector.statuses

    @property
    def namespaces_known(self) -> bool:
        return namespaces_known(self.scope, self.statuses)

    def header(self) -> dict[str, Any]:
        return {
            "kind": SNAPSHOT_KIND,
            "version": SNAPSHOT_VERSION,
            "kubefortVersion": __version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cluster": {"name": self.name, "server": self.server},
            "info": self.info,
            "discovery": self.discovery.as_dict(),
            "scope": self.scope,
        }


class SnapshotSource:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fh: IO[bytes] = _open(path)
        head = _readline(self._fh, path)
        if not head.endswith(b'"pages":['):
            raise SnapshotError(f"{path}: not a kubefort cluster snapshot (first line has no page list)")
        try:
            h = orjson.loads(head + b"]}")
        except orjson.JSONDecodeError as exc:
            raise SnapshotError(f"{path}: unreadable snapshot header: {exc}") from None
        if not isinstance(h, dict) or h.get("kind") != SNAPSHOT_KIND:
            raise SnapshotError(f"{path}: not a kubefort cluster snapshot")
        if h.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(
                f"{path}: snapshot format version {h.get('version')!r} is not supported (this kubefort reads {SNAPSHOT_VERSION})"
            )
        try:
            self.name = str(h["cluster"]["name"])
            self.server = str(h["cluster"].get("server", ""))
            self.discovery = Discovery.from_dict(h["discovery"])
            self.info = h["info"]
            self.scope = h.get("scope") or {}
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"{path}: snapshot header is incomplete ({exc})") from None
        self.created = h.get("created")
        self.statuses: list[ListStatus] = []

    @property
    def namespaces_known(self) -> bool:
        return namespaces_known(self.scope, self.statuses)

    def pages(self) -> Iterator[Page]:
        types = self.discovery.types
        n = 0
        try:
            while True:
                line = _readline(self._fh, self.path)
                if not line:
                    raise SnapshotError(f"{self.path}: snapshot is truncated (no list statuses at the end)")
                if line.startswith(b"]"):
                    self._trailer(line)
                    return
                if line.startswith(b","):
                    line = line[1:]
                try:
                    head = _page_head(line)
                    idx = head["list"]
                    rtype = types[idx]
                    page = Page(
                        idx,
                        rtype,
                        head.get("namespace"),
                        int(head.get("attempt", 0)),
                        int(head.get("number", n)),
                        line,
                        normalized=True,
                    )
                except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as exc:
                    raise SnapshotError(
                        f"{self.path}: page {n + 1} is malformed ({type(exc).__name__}: {exc})"
                    ) from None
                n += 1
                yield page
        finally:
            self._fh.close()

    def _trailer(self, line: bytes) -> None:
        try:
            tail = orjson.loads(b'{"pages":[' + line)
            self.statuses = [ListStatus.from_dict(d) for d in tail["statuses"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"{self.path}: unreadable list statuses at the end ({exc})") from None


def _page_head(line: bytes) -> dict[str, Any]:
    """The page's own fields, without parsing its items (the worker does that): the writer puts
    them before "items"."""
    i = line.find(b',"items":')
    if 0 < i < 400:
        try:
            head = orjson.loads(line[:i] + b"}")
            if isinstance(head, dict):
                return head
        except orjson.JSONDecodeError:
            pass
    head = orjson.loads(line)
    if not isinstance(head, dict):
        raise TypeError("a page is not a JSON object")
    return head


def _open(path: str) -> IO[bytes]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        magic = fh.read(2)
        fh.seek(0)
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    return gzip.GzipFile(fileobj=fh, mode="rb") if magic == b"\x1f\x8b" else fh  # type: ignore[return-value]


def _readline(fh: IO[bytes], path: str) -> bytes:
    try:
        line = fh.readline(MAX_LINE + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SnapshotError(f"{path}: snapshot is damaged: {exc}") from None
    if len(line) > MAX_LINE:
        raise SnapshotError(f"{path}: a line is over {MAX_LINE:,} bytes: not a snapshot kubefort wrote")
    return line.rstrip(b"\r\n")


def is_snapshot(path: str) -> bool:
    """A (gzipped) JSON file that starts as kubefort writes snapshots: {"kind":"KubefortClusterSnapshot"."""
    try:
        with _open(path) as fh:
            return fh.read(64).lstrip().startswith(b'{"kind":"' + SNAPSHOT_KIND.encode() + b'"')
    except (SnapshotError, OSError, EOFError, gzip.BadGzipFile):
        return False


class SnapshotWriter:
    """Writes a source's pages as they stream past (`kubefort cluster snapshot`)."""

    def __init__(self, path: str, header: dict[str, Any]) -> None:
        self.path = path
        # written under a temporary name, renamed over `path` only once complete
        self._out = AtomicFile(path, prefix=f"{os.path.basename(path)}.tmp-{os.getpid()}-")
        self.tmp = self._out.tmp
        raw = self._out.file
        self._fh = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) if path.endswith(".gz") else raw
        self._raw = raw
        head = orjson.dumps(header)
        self._fh.write(head[:-1] + b',"pages":[\n')
        self._first = True
        self.objects = 0

    def page(self, page: Page) -> None:
        items = normalize(page)
        self.objects += len(items)
        line = orjson.dumps(
            {
                "list": page.list_index,
                "namespace": page.namespace,
                "attempt": page.attempt,
                "number": page.number,
                "items": items,
            }
        )
        self._fh.write((b"" if self._first else b",") + line + b"\n")
        self._first = False

    def close(self, statuses: list[ListStatus]) -> None:
        self._fh.write(b'],"statuses":' + orjson.dumps([s.as_dict() for s in statuses]) + b"}\n")
        try:
            self._fh.close()  # the gzip trailer; AtomicFile closes the file under it
        except BaseException:
            self._out.abort()
            raise
        self._out.commit()

    def abort(self) -> None:
        try:
            self._fh.close()
        finally:
            self._out.abort()
