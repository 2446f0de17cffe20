"""k3s and RKE2 layouts: which distribution a node runs, its configuration, and what it implies.

Reads /etc/rancher/<dist>/config.yaml and its config.yaml.d/ drop-ins (plain keys replace, `key+`
lists append), the `<component>-arg` lists that add flags to the components the distribution
starts itself, and knows the distribution's paths under /var/lib/rancher/<dist> (kubeconfigs,
server TLS, the embedded etcd, the kubelet's config directory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.flags import NODE_API
from kubefort.loaders.node.documents import first_doc
from kubefort.loaders.node.files import NodeFiles
from kubefort.loaders.node.fs import NodeFS
from kubefort.loaders.node.proc import DISTROS, ProcessTable
from kubefort.loaders.node.result import Relocator
from kubefort.loaders.node.systemd import Arg
from kubefort.locate import Locator
from kubefort.model import Location, Path_

EMBED_ARG_KEYS = {
    "kube-apiserver": "kube-apiserver-arg",
    "kube-controller-manager": "kube-controller-manager-arg",
    "kube-scheduler": "kube-scheduler-arg",
    "etcd": "etcd-arg",
    "kubelet": "kubelet-arg",
    "kube-proxy": "kube-proxy-arg",
}


@dataclass(slots=True)
class EmbeddedKubelet:
    """The kubelet as k3s/RKE2 start it: only the flags on disk are known."""

    args: list[Arg]
    incomplete: str  # why absent flags cannot be judged
    source: str


@dataclass(slots=True)
class EmbeddedComponent:
    """A control-plane component that runs inside the k3s process."""

    obj: dict[str, Any]
    source: str
    relocate: Relocator


@dataclass(slots=True)
class Distribution:
    """A k3s or RKE2 node and its merged /etc/rancher/<name>/config.yaml."""

    name: str
    config: dict[str, Any] = field(default_factory=dict)
    config_file: str | None = None  # /etc/rancher/<name>/config.yaml when it exists
    config_data: bytes | None = None  # its text, for line numbers

    @classmethod
    def detect(cls, fs: NodeFS, procs: ProcessTable, warnings: list[str]) -> Distribution | None:
        """The distribution of the node, from its processes or files; None for other nodes."""
        for d in DISTROS:
            if (
                f"{d}-server" in procs
                or f"{d}-agent" in procs
                or fs.exists(f"/etc/rancher/{d}/config.yaml")
                or fs.isdir(f"/var/lib/rancher/{d}")
            ):
                dist = cls(d)
                dist.read_config(fs, warnings)
                return dist
        return None

    def read_config(self, fs: NodeFS, warnings: list[str]) -> None:
        d = self.name
        cfg_file = f"/etc/rancher/{d}/config.yaml"
        dropins = [
            f"/etc/rancher/{d}/config.yaml.d/{n}"
            for n in fs.listdir(f"/etc/rancher/{d}/config.yaml.d")
            if n.endswith((".yaml", ".yml"))
        ]
        merged: dict[str, Any] = {}
        for p in [cfg_file, *dropins]:
            if not fs.exists(p):
                continue
            try:
                data = fs.read(p)
            except OSError as exc:
                warnings.append(f"cannot read {p}: {exc.strerror}")
                continue
            try:
                doc = first_doc(data)
            except ValueError as exc:
                warnings.append(f"cannot read {p}: {exc}")
                continue
            if isinstance(doc, dict):
                for k, v in doc.items():
                    # list-valued keys append across drop-ins ("key+" appends in k3s; plain keys replace)
                    if k.endswith("+") and isinstance(v, list):
                        merged.setdefault(k[:-1], [])
                        if isinstance(merged[k[:-1]], list):
                            merged[k[:-1]] = merged[k[:-1]] + v
                    else:
                        merged[k] = v
            if p == cfg_file:
                self.config_file, self.config_data = p, data
        self.config = merged

    def args(self, comp: str) -> list[str]:
        """The flags `<comp>-arg` adds (`key=value` items become `--key=value`)."""
        v = self.config.get(EMBED_ARG_KEYS[comp])
        items = v if isinstance(v, list) else ([v] if isinstance(v, str) else [])
        return [a if a.startswith("-") else f"--{a}" for a in items if isinstance(a, str)]

    def line(self, comp: str, k: int) -> int | None:
        """The config.yaml line of the k-th `<comp>-arg` item."""
        if self.config_data is None:
            return None
        pos = Locator(self.config_data).find(0, (EMBED_ARG_KEYS[comp], k))
        return pos[0] if pos else None

    def kubelet(self, fs: NodeFS) -> EmbeddedKubelet | None:
        """The kubelet the distribution starts itself: its --config-dir and kubelet-arg."""
        d = self.name
        if not (fs.isdir(f"/var/lib/rancher/{d}/agent") or self.config_file):
            return None
        cdir = f"/var/lib/rancher/{d}/agent/etc/kubelet.conf.d"
        extra = self.args("kubelet")
        argv = ["kubelet"] + ([f"--config-dir={cdir}"] if fs.isdir(cdir) else []) + extra
        args = [Arg(argv[0], self.config_file or "", None)]
        args += [Arg(a, cdir, None) for a in argv[1 : len(argv) - len(extra)]]
        args += [Arg(a, self.config_file or "", self.line("kubelet", k)) for k, a in enumerate(extra)]
        incomplete = (
            f"{d} starts the kubelet itself with built-in flags that are not on disk; kubefort sees "
            f"{cdir} and kubelet-arg from /etc/rancher/{d}/config.yaml"
        )
        return EmbeddedKubelet(args, incomplete, self.config_file or cdir)

    def embedded_component(self, comp: str, fs: NodeFS, procs: ProcessTable) -> EmbeddedComponent | None:
        """A control-plane component inside the k3s server process (RKE2 runs static pods instead)."""
        if self.name != "k3s" or not ("k3s-server" in procs or fs.isdir("/var/lib/rancher/k3s/server")):
            return None
        if comp == "etcd" and not fs.isdir("/var/lib/rancher/k3s/server/db/etcd"):
            return None  # k3s on kine/SQLite: no etcd on this node
        extra = self.args(comp)
        obj: dict[str, Any] = {
            "apiVersion": NODE_API,
            "kind": "NodeComponent",
            "metadata": {"name": comp},
            "component": comp,
            "origin": "k3s",
            "argv": [comp, *extra],
            "flagsIncomplete": (
                f"k3s runs {comp} inside the k3s process with built-in flags that are not on disk; kubefort "
                f"sees only {EMBED_ARG_KEYS[comp]} from /etc/rancher/k3s/config.yaml"
            ),
        }
        src = self.config_file or "/var/lib/rancher/k3s/server"
        obj["_source"] = src
        if comp == "etcd":
            obj["argv"].append("--data-dir=/var/lib/rancher/k3s/server/db/etcd")
        n = len(extra)

        def relocate(path: Path_) -> Location | None:
            if len(path) > 1 and path[0] == "argv" and isinstance(path[1], int) and 1 <= path[1] <= n:
                return Location(src, self.line(comp, path[1] - 1))
            return Location(src)

        return EmbeddedComponent(obj, src, relocate)

    def add_default_files(self, files: NodeFiles) -> None:
        """The distribution's kubeconfigs, client CA, server TLS and embedded etcd directory."""
        d = f"/var/lib/rancher/{self.name}"
        files.add(f"{d}/server/cred/admin.kubeconfig", "admin-kubeconfig")
        files.add(f"{d}/server/cred/scheduler.kubeconfig", "scheduler-kubeconfig")
        files.add(f"{d}/server/cred/controller.kubeconfig", "controller-manager-kubeconfig")
        files.add(f"{d}/agent/kubelet.kubeconfig", "kubelet-kubeconfig")
        files.add(f"{d}/agent/kubeproxy.kubeconfig", "kube-proxy-kubeconfig")
        files.add(f"{d}/agent/client-ca.crt", "kubelet-client-ca", "certificate")
        files.add_pki(f"{d}/server/tls")
        if files.fs.isdir(f"{d}/server/db/etcd"):
            files.add(f"{d}/server/db/etcd", "etcd-data-dir")
