"""Control-plane NodeComponents: kube-apiserver, kube-controller-manager, kube-scheduler and etcd.

Read from static-pod manifests (the kubelet's staticPodPath, /etc/kubernetes/manifests, RKE2's and
k3s's pod-manifests), from `/proc/<pid>/cmdline` when the running process has other flags than its
manifest or has no manifest at all (with etcd's ETCD_* environment), or from the k3s
configuration when k3s runs them in its own process. Also registers the files their flags name
(etcd's config file and data directory, kubeconfigs, certificates) and reads the files whose
content the checks need (the API server's encryption config and audit policy, loaded as manifests,
and its structured authentication/authorization configs).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from kubefort.kube.flags import CONTROL_PLANE, NODE_API, ComponentView, pod_views
from kubefort.loaders.manifests import LoadedInput
from kubefort.loaders.node.documents import first_doc
from kubefort.loaders.node.result import Relocator
from kubefort.loaders.node.state import NodeScan, flag_values
from kubefort.locate import Locator
from kubefort.model import Location, Path_, Resource

MANIFEST_DIRS = (
    "/etc/kubernetes/manifests",
    "/var/lib/rancher/rke2/agent/pod-manifests",
    "/var/lib/rancher/k3s/agent/pod-manifests",
)
CERT_FLAG = re.compile(r"(cert-file|certfile|certificate|ca-file|cafile|client-ca-file|root-ca-file|trusted-ca-file)$")


class ControlPlaneLoader:
    """Finds the control-plane components of one node."""

    def __init__(self, scan: NodeScan) -> None:
        self.scan = scan

    # -- static pods ---------------------------------------------------------------------------
    def load_static_pods(self, kubelet_dir: str | None) -> None:
        scan = self.scan
        dirs = ([kubelet_dir] if kubelet_dir else []) + [d for d in MANIFEST_DIRS if d != kubelet_dir]
        for d in dirs:
            for n in scan.fs.listdir(d):
                if not n.endswith((".yaml", ".yml", ".json")) or n.startswith("."):
                    continue
                p = posixpath.join(d, n)
                li = scan.fs.load_manifest(p)
                found = False
                for res in li.resources:
                    if res.id.kind != "Pod":
                        continue
                    for view in pod_views(res):
                        if view.component not in CONTROL_PLANE or view.component in scan.components:
                            continue
                        found = True
                        scan.files.add(p, f"{view.component}-manifest")
                        self.static_component(view, res, p, li)
                if li.problems:
                    li.resources = []
                    scan.out.inputs.append(li)
                    scan.files.add(p, "manifest")
                elif not found:
                    scan.files.add(p, "manifest")

    def static_component(self, view: ComponentView, res: Resource, p: str, li: LoadedInput) -> None:
        scan = self.scan
        comp = view.component
        obj: dict[str, Any] = {
            "apiVersion": NODE_API,
            "kind": "NodeComponent",
            "metadata": {"name": comp},
            "component": comp,
            "origin": "static-pod",
            "manifest": p,
            "argv": [comp, *view.args],
        }
        if view.image:
            obj["image"] = view.image
        if view.env:
            obj["env"] = {k: v for k, (v, _) in view.env.items() if k.startswith("ETCD_")}
        proc = scan.procs.get(comp)
        locator = Locator(li.data, li.doc_lines) if li.data is not None else None
        doc, item = res.source.doc_index, res.source.item_path

        def where(pod_path: Path_) -> Location | None:
            if locator is None:
                return None
            pos = locator.find(doc, item + pod_path)
            return Location(p, pos[0], pos[1]) if pos else Location(p, res.source.line)

        source = p
        arg_paths: list[Path_ | None] = [None, *view.paths]
        if proc is not None and proc.argv[1:] != list(view.args):
            obj["argv"] = [comp, *proc.argv[1:]]
            obj["origin"] = "process"
            source = f"/proc/{proc.pid}/cmdline"
            arg_paths = []
            scan.warn(f"the running {comp} (pid {proc.pid}) has other flags than {p}; kubefort judged the running ones")
            if comp == "etcd":
                env, readable = scan.procs.etcd_env(proc.pid)
                if not readable:
                    obj["envUnreadable"] = True
                obj["env"] = env
        obj["_source"] = source

        def relocate(path: Path_) -> Location | None:
            if path and path[0] == "argv":
                if len(path) > 1 and isinstance(path[1], int) and path[1] < len(arg_paths):
                    arg_path = arg_paths[path[1]]
                    if arg_path is not None:
                        return where(arg_path)
                return where(view.missing) if source == p else Location(source)
            if path and path[0] == "env" and len(path) > 1 and view.env.get(str(path[1])) and source == p:
                return where(view.env[str(path[1])][1])
            if path and path[0] == "config":
                return scan.emitter.config_location(obj, path)
            return where(view.missing) if source == p else Location(source)

        scan.components[comp] = obj
        self.finish_component(obj)
        scan.emitter.emit(obj, source, relocate)

    # -- processes and k3s ---------------------------------------------------------------------
    def load_embedded(self) -> None:
        """Components that run without a manifest: a plain process, or inside k3s."""
        scan = self.scan
        for comp in CONTROL_PLANE:
            if comp in scan.components:
                continue
            proc = scan.procs.get(comp)
            if proc is not None:
                obj: dict[str, Any] = {
                    "apiVersion": NODE_API,
                    "kind": "NodeComponent",
                    "metadata": {"name": comp},
                    "component": comp,
                    "origin": "process",
                    "argv": [comp, *proc.argv[1:]],
                }
                if comp == "etcd":
                    env, readable = scan.procs.etcd_env(proc.pid)
                    if not readable:
                        obj["envUnreadable"] = True
                    obj["env"] = env
                scan.components[comp] = obj
                source = f"/proc/{proc.pid}/cmdline"
                obj["_source"] = source
                self.finish_component(obj)
                scan.emitter.emit(obj, source, self._process_relocator(obj, source))
                continue
            embedded = scan.distro.embedded_component(comp, scan.fs, scan.procs) if scan.distro is not None else None
            if embedded is not None:
                scan.components[comp] = embedded.obj
                self.finish_component(embedded.obj)
                scan.emitter.emit(embedded.obj, embedded.source, embedded.relocate)

    def _process_relocator(self, obj: dict[str, Any], source: str) -> Relocator:
        def relocate(path: Path_) -> Location | None:
            if path[:1] == ("config",):
                return self.scan.emitter.config_location(obj, path)
            return Location(source)

        return relocate

    # -- the files the flags name --------------------------------------------------------------
    def finish_component(self, obj: dict[str, Any]) -> None:
        """Files a control-plane component's flags name: config files, data dir, kubeconfigs, certificates."""
        scan = self.scan
        comp = obj["component"]
        flags = flag_values(obj["argv"], comp)
        if comp == "etcd":
            cfg = flags.get("config-file") or (obj.get("env") or {}).get("ETCD_CONFIG_FILE")
            if cfg:
                obj["configFile"] = cfg
                try:
                    doc = first_doc(scan.fs.read(cfg))
                    if not isinstance(doc, dict):
                        raise ValueError("it is not a mapping")
                    obj["config"] = doc
                except (OSError, ValueError) as exc:
                    obj["configError"] = f"{cfg}: {getattr(exc, 'strerror', None) or exc}"
            data_dir = (
                (obj.get("config") or {}).get("data-dir")
                if cfg
                else flags.get("data-dir") or (obj.get("env") or {}).get("ETCD_DATA_DIR")
            )
            if isinstance(data_dir, str) and data_dir:
                scan.files.add(data_dir, "etcd-data-dir", required=True)
        if comp == "kube-scheduler":
            scan.files.add(
                flags.get("kubeconfig") or "/etc/kubernetes/scheduler.conf",
                "scheduler-kubeconfig",
                required=bool(flags.get("kubeconfig")),
            )
        if comp == "kube-controller-manager":
            scan.files.add(
                flags.get("kubeconfig") or "/etc/kubernetes/controller-manager.conf",
                "controller-manager-kubeconfig",
                required=bool(flags.get("kubeconfig")),
            )
        for name, value in flags.items():
            if value and CERT_FLAG.search(name) and value.startswith("/"):
                scan.files.add(value, "certificate")

    def referenced_files(self, comp: str) -> None:
        """Files whose content the checks need: for the API server, the encryption config, the audit
        policy (both loaded as manifests) and the structured authn/authz configs (into `files`)."""
        scan = self.scan
        obj = scan.components[comp]
        if comp != "kube-apiserver":
            return
        flags = flag_values(obj["argv"], comp)
        for flag in ("encryption-provider-config", "audit-policy-file"):
            p = flags.get(flag)
            if p:
                scan.out.inputs.append(scan.fs.load_manifest(p))
                scan.files.add(p, flag)
        files: dict[str, Any] = {}
        for flag in ("authorization-config", "authentication-config"):
            p = flags.get(flag)
            if not p:
                continue
            try:
                doc = first_doc(scan.fs.read(p))
                files[flag] = {"path": p, "content": doc}
            except (OSError, ValueError) as exc:
                files[flag] = {"path": p, "error": f"cannot read {p}: {getattr(exc, 'strerror', None) or exc}"}
        if files:
            obj["files"] = files
