"""kube-proxy's NodeComponent, from its process (`/proc/<pid>/cmdline`) and the `--config` file it
names, read through the process's own root (`/proc/<pid>/root`) since kube-proxy usually runs in a
pod, else from the node's file system.
"""

from __future__ import annotations

from typing import Any

from kubefort.kube.flags import NODE_API
from kubefort.loaders.node.documents import first_doc
from kubefort.loaders.node.state import NodeScan, flag_values
from kubefort.model import Location, Path_


def load_kube_proxy(scan: NodeScan) -> None:
    proc = scan.procs.get("kube-proxy")
    if proc is None:
        return
    pid, argv = proc
    obj: dict[str, Any] = {
        "apiVersion": NODE_API,
        "kind": "NodeComponent",
        "metadata": {"name": "kube-proxy"},
        "component": "kube-proxy",
        "origin": "process",
        "argv": ["kube-proxy", *argv[1:]],
    }
    flags = flag_values(obj["argv"], "kube-proxy")
    cfg = flags.get("config")
    if cfg:
        obj["configFile"] = cfg
        # a kube-proxy pod sees its config through its own mount namespace
        for candidate in (f"{pid}/root{cfg}", cfg):
            try:
                doc = first_doc(
                    scan.procs.read(candidate) if candidate.startswith(f"{pid}/") else scan.fs.read(candidate)
                )
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict):
                obj["config"] = doc
                break
        else:
            obj["configError"] = f"{cfg}: not readable from the node (it lives in the kube-proxy pod's file system)"
    if flags.get("kubeconfig") and scan.fs.exists(flags["kubeconfig"]):
        scan.files.add(flags["kubeconfig"], "kube-proxy-kubeconfig")
    source = f"/proc/{pid}/cmdline"
    obj["_source"] = source
    scan.components["kube-proxy"] = obj

    def relocate(path: Path_) -> Location | None:
        return Location(source)

    scan.emitter.emit(obj, source, relocate)
