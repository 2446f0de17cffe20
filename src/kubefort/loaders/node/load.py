"""`load_node`: discover what a node's components run with, in order, and collect the result.

Processes first (they win over files), then the k3s/RKE2 layout, the kubelet (which may name the
static-pod directory), static pods, components without a manifest, kube-proxy, the files the API
server's flags point at, the default files of the layout; components and files are emitted last.
"""

from __future__ import annotations

import os

from kubefort.kube.flags import CONTROL_PLANE
from kubefort.loaders.node.control_plane import ControlPlaneLoader
from kubefort.loaders.node.files import NodeFiles
from kubefort.loaders.node.fs import NodeFS
from kubefort.loaders.node.kube_proxy import load_kube_proxy
from kubefort.loaders.node.kubelet import KubeletLoader
from kubefort.loaders.node.layouts import Distribution
from kubefort.loaders.node.proc import ProcessTable
from kubefort.loaders.node.result import NodeLoad
from kubefort.loaders.node.state import NodeScan


def _discover(root: str, proc: str | None) -> NodeLoad:
    fs = NodeFS(root)
    out = NodeLoad(fs.root)
    files = NodeFiles(fs)
    procs = ProcessTable(os.path.abspath(proc) if proc else os.path.join(fs.root, "proc"))
    out.warnings.extend(procs.scan())
    distro = Distribution.detect(fs, procs, out.warnings)
    if distro is not None:
        out.info["distribution_config"] = distro.config_file
    scan = NodeScan(fs, procs, distro, out, files)
    kubelet_manifest_dir = KubeletLoader(scan).load()
    control_plane = ControlPlaneLoader(scan)
    control_plane.load_static_pods(kubelet_manifest_dir)
    control_plane.load_embedded()
    load_kube_proxy(scan)
    for comp in CONTROL_PLANE:
        if comp in scan.components:
            control_plane.referenced_files(comp)
    files.add_kubeadm_defaults(set(scan.components))
    if distro is not None:
        distro.add_default_files(files)
    files.add_cni_config()
    scan.emitter.flush(out)
    out.inputs.extend(files.emit())
    out.info.update(
        {
            "root": fs.root,
            "distribution": distro.name
            if distro is not None
            else ("kubeadm" if fs.exists("/etc/kubernetes") else None),
            "components": {
                k: {"origin": v.get("origin"), "source": v.get("_source")} for k, v in sorted(scan.components.items())
            },
        }
    )
    return out


def load_node(root: str = "/", proc: str | None = None) -> NodeLoad:
    """Everything `kubefort node` judges, read from the node mounted at `root`.

    `proc` is where the node's process table is (default `<root>/proc`); in a pod with
    hostPID it is the pod's own `/proc`.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--root {root!r} is not a directory")
    return _discover(root, proc)
