"""The kubelet's NodeComponent: its command line and its effective configuration.

The command line comes from the running process (each argument traced back to the unit line that
put it there), else from the systemd unit, else from k3s/RKE2's on-disk settings, else from
kubeadm's documented drop-in with the files present. The configuration is the `--config` file
(YAML or JSON) merged with the `--config-dir` drop-ins; flags take precedence over it in the checks.
Files the kubelet names (kubeconfig, client CA, serving certificate, CNI config) are registered.
"""

from __future__ import annotations

import posixpath
from typing import Any

from kubefort.kube.flags import NODE_API
from kubefort.loaders.node.documents import copy_tree, dig, first_doc, merge
from kubefort.loaders.node.emit import Layer
from kubefort.loaders.node.state import NodeScan, flag_values
from kubefort.loaders.node.systemd import Arg, parse_env_file, read_kubelet_unit

KUBEADM_DEFAULT_ARGV = (
    "kubelet",
    "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
    "--kubeconfig=/etc/kubernetes/kubelet.conf",
    "--config=/var/lib/kubelet/config.yaml",
)
KUBEADM_ENV_FILES = ("/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet", "/etc/sysconfig/kubelet")


def relative_to_config(p: str, config_file: str | None) -> str:
    """The kubelet resolves relative paths of its config file against the file's directory."""
    if p.startswith("/") or not config_file:
        return p
    return posixpath.normpath(posixpath.join(posixpath.dirname(config_file), p))


class KubeletLoader:
    """Builds the kubelet NodeComponent of one node."""

    def __init__(self, scan: NodeScan) -> None:
        self.scan = scan

    def load(self) -> str | None:
        """Build the kubelet NodeComponent; returns its static-pod directory when it names one."""
        scan, fs = self.scan, self.scan.fs
        unit = read_kubelet_unit(fs)
        for f in unit.unit_files:
            scan.files.add(f, "kubelet-service")
        for f in unit.env_files:
            scan.files.add(f, "kubelet-env")
        for w in unit.warnings:
            scan.warn(w)
        from_units, unit_files = unit.args, unit.unit_files
        proc = scan.procs.get("kubelet")
        obj: dict[str, Any] = {
            "apiVersion": NODE_API,
            "kind": "NodeComponent",
            "metadata": {"name": "kubelet"},
            "component": "kubelet",
        }
        args: list[Arg]
        if proc is not None:
            pid, argv = proc
            pool = list(from_units or [])
            args = []
            for a in argv:  # provenance: the unit line that put the same argument there
                hit = next((u for u in pool if u.text == a), None)
                if hit is not None:
                    pool.remove(hit)
                args.append(Arg(a, hit.file, hit.line) if hit else Arg(a, f"/proc/{pid}/cmdline", None))
            obj["origin"], source = "process", f"/proc/{pid}/cmdline"
            if from_units is not None and [a.text for a in from_units[1:]] != argv[1:]:
                scan.warn(
                    "the running kubelet's flags differ from its systemd unit (restart pending?); "
                    "kubefort judged the running ones"
                )
        elif from_units is not None:
            args, source = from_units, unit_files[-1] if unit_files else "kubelet.service"
            obj["origin"] = "systemd"
            source = next((a.file for a in from_units if a.file), source)
        elif scan.distro is not None and (embedded := scan.distro.kubelet(fs)) is not None:
            args = embedded.args
            obj["origin"] = scan.distro.name
            obj["flagsIncomplete"] = embedded.incomplete
            source = embedded.source
        elif fs.exists("/var/lib/kubelet/config.yaml") or fs.exists("/var/lib/kubelet/kubeadm-flags.env"):
            # copied files without the unit: kubeadm's drop-in is the documented default
            args = [Arg(a, "/var/lib/kubelet/config.yaml", None) for a in KUBEADM_DEFAULT_ARGV]
            for envf in KUBEADM_ENV_FILES:
                if fs.exists(envf):
                    scan.files.add(envf, "kubelet-env")
                    try:
                        for v, n in parse_env_file(fs.read(envf).decode("utf-8", "replace")).values():
                            args.extend(Arg(x, envf, n) for x in v.split())
                    except OSError as exc:
                        scan.warn(f"cannot read {envf}: {exc.strerror}")
            obj["origin"] = "assumed-kubeadm"
            scan.warn(
                "no kubelet process or unit found; assumed kubeadm's kubelet drop-in (10-kubeadm.conf) "
                "with the files present"
            )
            source = "/var/lib/kubelet/config.yaml"
        else:
            return None
        obj["argv"] = [a.text for a in args]
        flags = flag_values(obj["argv"], "kubelet")
        cfg_path = flags.get("config")
        layers, config = self.load_config(obj, cfg_path, flags.get("config-dir"))
        if config is not None and "configError" not in obj:
            obj["config"] = config
        obj["_source"] = source
        scan.files.add(
            flags.get("kubeconfig") or ("/etc/kubernetes/kubelet.conf" if scan.distro is None else None),
            "kubelet-kubeconfig",
            required=bool(flags.get("kubeconfig")),
        )
        ca = flags.get("client-ca-file") or dig(config, "authentication", "x509", "clientCAFile")
        if isinstance(ca, str) and ca:
            scan.files.add(relative_to_config(ca, cfg_path), "kubelet-client-ca", "certificate", required=True)
        cert = flags.get("tls-cert-file") or dig(config, "tlsCertFile")
        if isinstance(cert, str) and cert:
            scan.files.add(relative_to_config(cert, cfg_path), "certificate")
        if flags.get("cni-conf-dir"):
            for entry in fs.listdir(flags["cni-conf-dir"]):
                scan.files.add(posixpath.join(flags["cni-conf-dir"], entry), "cni-config")
        scan.components["kubelet"] = obj
        scan.emitter.emit_with_args(obj, source, args, layers)
        static = flags.get("pod-manifest-path") or dig(config, "staticPodPath")
        return static if isinstance(static, str) and static else None

    def load_config(
        self, obj: dict[str, Any], cfg_path: str | None, cdir: str | None
    ) -> tuple[list[Layer], dict[str, Any] | None]:
        """The --config file merged with the --config-dir drop-ins (`*.conf`, in name order).

        Sets `configFile` and, when a file cannot be read or is not a mapping, `configError` on `obj`.
        """
        scan = self.scan
        layers: list[Layer] = []
        config: dict[str, Any] | None = None
        if cfg_path:
            obj["configFile"] = cfg_path
            scan.files.add(cfg_path, "kubelet-config", required=True)
            try:
                data = scan.fs.read(cfg_path)
                doc = first_doc(data)
                if not isinstance(doc, dict):
                    raise ValueError("it is not a KubeletConfiguration mapping")
                layers.append(Layer(cfg_path, data, doc))
                config = copy_tree(doc)
            except (OSError, ValueError) as exc:
                obj["configError"] = f"{cfg_path}: {getattr(exc, 'strerror', None) or exc}"
        if cdir and "configError" not in obj:
            for n in scan.fs.listdir(cdir):
                if not n.endswith(".conf"):
                    continue
                p = posixpath.join(cdir, n)
                scan.files.add(p, "kubelet-config")
                try:
                    data = scan.fs.read(p)
                    doc = first_doc(data)
                    if not isinstance(doc, dict):
                        raise ValueError("it is not a KubeletConfiguration mapping")
                except (OSError, ValueError) as exc:
                    obj["configError"] = f"{p}: {getattr(exc, 'strerror', None) or exc}"
                    config = None
                    break
                layers.append(Layer(p, data, doc))
                config = merge(config or {}, doc)
        return layers, config
