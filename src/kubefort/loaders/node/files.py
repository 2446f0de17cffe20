"""NodeFile objects: the files the CIS benchmark protects and the checks read.

Collects node paths with their roles (manifests, kubeconfigs, PKI, the kubelet's units and config,
the etcd data directory, CNI config) as the loaders find them, then describes each one: type,
mode, uid/gid and the names the root's /etc/passwd and /etc/group give them, and for certificates
and kubeconfigs the validity of every certificate inside. A file that a component's flag names but
that is missing is reported with an `error`; other missing files are left out.
"""

from __future__ import annotations

import posixpath
import stat
from typing import Any

from kubefort.kube.flags import NODE_API
from kubefort.loaders.manifests import LoadedInput
from kubefort.loaders.node.fs import NodeFS
from kubefort.loaders.node.x509 import kubeconfig_certs, pem_certs
from kubefort.model import InputRecord, Resource, ResourceId, Source


class NodeFiles:
    """The node paths found so far, with their roles; `emit` turns them into NodeFile inputs."""

    def __init__(self, fs: NodeFS) -> None:
        self.fs = fs
        self.roles: dict[str, set[str]] = {}  # node path -> roles
        self.required: set[str] = set()  # files a flag names: missing ones are reported, not skipped
        self.users = fs.account_names("/etc/passwd")
        self.groups = fs.account_names("/etc/group")

    def add(self, p: str | None, *roles: str, required: bool = False) -> None:
        if not p:
            return
        p = posixpath.normpath(p if p.startswith("/") else "/" + p)
        self.roles.setdefault(p, set()).update(roles)
        if required:
            self.required.add(p)

    def add_kubeadm_defaults(self, components: set[str]) -> None:
        """kubeadm's kubeconfigs and PKI under /etc/kubernetes."""
        if not self.fs.exists("/etc/kubernetes"):
            return
        for n in ("admin.conf", "super-admin.conf"):
            self.add(f"/etc/kubernetes/{n}", "admin-kubeconfig")
        if "kube-scheduler" in components:
            self.add("/etc/kubernetes/scheduler.conf", "scheduler-kubeconfig")
        if "kube-controller-manager" in components:
            self.add("/etc/kubernetes/controller-manager.conf", "controller-manager-kubeconfig")
        self.add("/etc/kubernetes/proxy.conf", "kube-proxy-kubeconfig")
        self.add_pki("/etc/kubernetes/pki")

    def add_cni_config(self, directory: str = "/etc/cni/net.d") -> None:
        for n in self.fs.listdir(directory):
            self.add(f"{directory}/{n}", "cni-config")

    def add_pki(self, top: str) -> None:
        """A PKI directory tree: certificates (*.crt, *.pem) and keys (*.key)."""
        if not self.fs.isdir(top):
            return
        stack = [top]
        while stack:
            d = stack.pop()
            self.add(d, "pki")
            for n in self.fs.listdir(d):
                p = posixpath.join(d, n)
                if self.fs.isdir(p) and not self.fs.islink(p):
                    stack.append(p)
                    continue
                roles = ["pki"]
                if n.endswith(".crt"):
                    roles += ["pki-cert", "certificate"]
                elif n.endswith(".key"):
                    roles.append("pki-key")
                elif n.endswith(".pem"):
                    roles.append("certificate")
                self.add(p, *roles)

    def emit(self) -> list[LoadedInput]:
        out: list[LoadedInput] = []
        for p in sorted(self.roles):
            obj = self.file_object(p, self.roles[p])
            if obj is None:
                continue
            res = Resource(ResourceId(NODE_API, "NodeFile", None, p), obj, Source(p, 0, None))
            out.append(LoadedInput(InputRecord(p, "node", 1, 1), [res]))
        return out

    def file_object(self, p: str, roles: set[str]) -> dict[str, Any] | None:
        """The NodeFile object of `p`; None when it is not on the node and nothing names it."""
        real = self.fs.resolve(p)
        obj: dict[str, Any] = {
            "apiVersion": NODE_API,
            "kind": "NodeFile",
            "metadata": {"name": p},
            "path": p,
            "roles": sorted(roles),
        }
        if real != p:
            obj["resolved"] = real
        try:
            st = self.fs.stat(real)
        except FileNotFoundError:
            if p not in self.required:
                return None  # not on this node: nothing to judge
            obj["error"] = f"{p} is named by a component's flags but does not exist under the root"
            return obj
        except OSError as exc:
            obj["error"] = f"cannot stat {p}: {exc.strerror}"
            return obj
        obj["type"] = "directory" if stat.S_ISDIR(st.st_mode) else ("file" if stat.S_ISREG(st.st_mode) else "other")
        obj["mode"] = f"{stat.S_IMODE(st.st_mode):04o}"
        obj["uid"], obj["gid"] = st.st_uid, st.st_gid
        if st.st_uid in self.users:
            obj["user"] = self.users[st.st_uid]
        if st.st_gid in self.groups:
            obj["group"] = self.groups[st.st_gid]
        if obj["type"] != "file":
            return obj
        kubeconfig = any(r.endswith("kubeconfig") for r in roles)
        if "certificate" in roles or kubeconfig:
            try:
                data = self.fs.read(p)
            except OSError as exc:
                obj["certificateError"] = f"cannot read {p}: {exc.strerror}"
                return obj
            certs = kubeconfig_certs(data) if kubeconfig else pem_certs(data, posixpath.basename(p))
            if certs:
                obj["certificates"] = certs
        return obj
