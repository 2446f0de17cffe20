"""The node's files, read under a root directory (`/` on the node, or a copied tree).

Node paths (`/etc/kubernetes/...`) are resolved inside the root: symlinks are followed and absolute
link targets re-rooted, so a copied tree never reads the scanning machine's own files. Reads are
capped at MAX_READ bytes. Also here: user and group names from the root's /etc/passwd and
/etc/group, and manifests loaded with the ordinary manifest loader under their node path.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath

from kubefort.loaders.manifests import InputSpec, LoadedInput, load

MAX_READ = 8 * 1024 * 1024


class NodeFS:
    """Read-only access to the node's file system under `root`."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def host(self, p: str) -> str:
        """Where the node path `p` is on the machine that scans (no symlinks followed)."""
        return os.path.join(self.root, p.lstrip("/")) if self.root != "/" else p

    def resolve(self, p: str) -> str:
        """The node path `p` with symlinks followed inside the root (absolute targets are re-rooted)."""
        todo = [x for x in p.split("/") if x]
        cur, hops = "/", 0
        while todo:
            part = todo.pop(0)
            if part == ".":
                continue
            if part == "..":
                cur = posixpath.dirname(cur) or "/"
                continue
            cand = posixpath.join(cur, part)
            real = self.host(cand)
            if os.path.islink(real):
                hops += 1
                if hops > 40:
                    return cand
                target = os.readlink(real)
                if target.startswith("/"):
                    cur = "/"
                todo = [x for x in target.split("/") if x] + todo
                continue
            cur = cand
        return cur

    def exists(self, p: str) -> bool:
        return os.path.exists(self.host(self.resolve(p)))

    def isdir(self, p: str) -> bool:
        return os.path.isdir(self.host(self.resolve(p)))

    def islink(self, p: str) -> bool:
        """Whether `p` itself (not resolved) is a symlink."""
        return os.path.islink(self.host(p))

    def read(self, p: str) -> bytes:
        with open(self.host(self.resolve(p)), "rb") as fh:
            return fh.read(MAX_READ)

    def listdir(self, p: str) -> list[str]:
        """Sorted entry names of a directory; empty when it cannot be listed."""
        try:
            return sorted(os.listdir(self.host(self.resolve(p))))
        except OSError:
            return []

    def stat(self, p: str) -> os.stat_result:
        """stat() of the already-resolved node path `p`."""
        return os.stat(self.host(p))

    def account_names(self, p: str) -> dict[int, str]:
        """id -> name from an /etc/passwd or /etc/group style file (the first name of an id wins)."""
        out: dict[int, str] = {}
        try:
            text = self.read(p).decode("utf-8", "replace")
        except OSError:
            return out
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                out.setdefault(int(parts[2]), parts[0])
        return out

    def load_manifest(self, p: str) -> LoadedInput:
        """The manifest at node path `p`, loaded as ordinary input; sources and problems name `p`."""
        real = self.host(self.resolve(p))
        try:
            size = os.path.getsize(real)
        except OSError:
            size = 0
        return _renamed(load(InputSpec("file", real, size)), p)


def _renamed(li: LoadedInput, node_path: str) -> LoadedInput:
    """Sources and problems name the node path, not where the root is mounted."""
    host_path = li.record.path
    li.record.path = node_path
    for r in li.resources:
        r.source = dataclasses.replace(r.source, file=node_path)
    for p in li.problems:
        p.file = node_path
        if p.source is not None:
            p.source = dataclasses.replace(p.source, file=node_path)
        p.message = p.message.replace(host_path, node_path)
    return li
