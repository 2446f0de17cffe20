"""A node's real configuration, read from a root directory (`/` on the node, or a copied tree).

`load_node(root)` discovers what the components actually run with and returns ordinary loaded
inputs for the engine:

* `NodeComponent` objects (apiVersion node.kubefort.io/v1alpha1), one per component found:
  kube-apiserver, kube-controller-manager, kube-scheduler and etcd from their static-pod manifests
  (the kubelet's staticPodPath, /etc/kubernetes/manifests, RKE2's pod-manifests) or from
  `/proc/<pid>/cmdline`; the kubelet from `/proc` or from its systemd unit and drop-ins (with
  Environment=/EnvironmentFile= expansion: kubeadm's 10-kubeadm.conf, kubeadm-flags.env,
  /etc/default/kubelet), plus the file its `--config` names (YAML or JSON) and the `--config-dir`
  drop-ins; kube-proxy from `/proc`; k3s/RKE2 from /etc/rancher/<dist>/config.yaml.
* `NodeFile` objects for the files the CIS benchmark protects (manifests, kubeconfigs, PKI,
  the kubelet's units and config, the etcd data directory, CNI config): type, mode, uid/gid and
  the names /etc/passwd and /etc/group under the root give them, and for certificates and
  kubeconfigs the validity of every certificate inside.
* The encryption provider config and the audit policy named by the API server's flags, loaded
  as ordinary manifests (their own kinds, exact line numbers).

A file that a flag names but that cannot be read becomes a KF-INPUT not-evaluated outcome (or the
reason a setting cannot be judged); a component that is not on the node yields nothing.

Each NodeComponent's violations point at `argv[i]`, `config...` or `env...`; `relocate` turns those
paths back into the file and line the setting came from (the manifest line, the drop-in line, the
kubeadm-flags.env line, the config file line).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import os
import posixpath
import re
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.flags import CONTROL_PLANE, NODE_API, ComponentView, _find_in_argv, _pod_views, parse_args
from kubefort.loaders.manifests import InputSpec, LoadedInput, LoadProblem, load
from kubefort.loaders.yamlparse import parse_stream
from kubefort.locate import Locator
from kubefort.model import InputRecord, Location, Path_, Resource, ResourceId, Source

MAX_READ = 8 * 1024 * 1024
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
MANIFEST_DIRS = ("/etc/kubernetes/manifests", "/var/lib/rancher/rke2/agent/pod-manifests", "/var/lib/rancher/k3s/agent/pod-manifests")
CERT_FLAG = re.compile(r"(cert-file|certfile|certificate|ca-file|cafile|client-ca-file|root-ca-file|trusted-ca-file)$")
DISTROS = ("k3s", "rke2")
EMBED_ARG_KEYS = {"kube-apiserver": "kube-apiserver-arg", "kube-controller-manager": "kube-controller-manager-arg",
                  "kube-scheduler": "kube-scheduler-arg", "etcd": "etcd-arg", "kubelet": "kubelet-arg", "kube-proxy": "kube-proxy-arg"}

Relocator = Callable[[Path_], Location | None]


@dataclass(slots=True)
class NodeLoad:
    root: str
    inputs: list[LoadedInput] = field(default_factory=list)
    relocators: dict[tuple[ResourceId, str], Relocator] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def relocate(self, rid: ResourceId | None, file: str | None, path: Path_) -> Location | None:
        """Where a NodeComponent setting came from (file:line), when known."""
        if rid is None or file is None:
            return None
        fn = self.relocators.get((rid, file))
        return fn(path) if fn is not None else None

    def resources(self) -> list[Resource]:
        return [r for li in self.inputs for r in li.resources]


# ---------------------------------------------------------------------------------------------
# certificates: the validity of X.509 certificates, from DER, without a crypto library
# ---------------------------------------------------------------------------------------------
def _tlv(b: bytes, i: int) -> tuple[int, int, int]:
    tag = b[i]
    ln = b[i + 1]
    i += 2
    if ln & 0x80:
        n = ln & 0x7F
        if n == 0 or n > 4:
            raise ValueError("unsupported DER length")
        ln = int.from_bytes(b[i : i + n], "big")
        i += n
    if i + ln > len(b):
        raise ValueError("truncated DER")
    return tag, i, i + ln


def _der_time(tag: int, raw: bytes) -> dt.datetime:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
        yy = int(text[:2])
        text = ("19" if yy >= 50 else "20") + text
    elif tag != 0x18:
        raise ValueError("not a time")
    return dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)


def _der_cn(b: bytes, start: int, end: int) -> str | None:
    i = start
    while i < end:  # RDN SETs
        _, s, e = _tlv(b, i)
        j = s
        while j < e:  # AttributeTypeAndValue SEQUENCEs
            _, s2, e2 = _tlv(b, j)
            _, os_, oe = _tlv(b, s2)
            if b[os_:oe] == b"\x55\x04\x03":
                _, vs, ve = _tlv(b, oe)
                return b[vs:ve].decode("utf-8", "replace")
            j = e2
        i = e
    return None


def cert_info(der: bytes) -> dict[str, Any]:
    """{notBefore, notAfter, subject} of one DER certificate; raises ValueError when it is not one."""
    try:
        _, s, _ = _tlv(der, 0)  # Certificate
        _, s, _ = _tlv(der, s)  # TBSCertificate
        tag, _, e = _tlv(der, s)
        if tag == 0xA0:  # [0] version
            tag, _, e = _tlv(der, e)  # serialNumber
        _, _, e = _tlv(der, e)  # signature algorithm
        _, _, e = _tlv(der, e)  # issuer
        _, vs, ve = _tlv(der, e)  # validity
        t1, a1, b1 = _tlv(der, vs)
        t2, a2, b2 = _tlv(der, b1)
        _, ss, se = _tlv(der, ve)  # subject
        cn = _der_cn(der, ss, se)
        return {"notBefore": _der_time(t1, der[a1:b1]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "notAfter": _der_time(t2, der[a2:b2]).strftime("%Y-%m-%dT%H:%M:%SZ"), "subject": f"CN={cn}" if cn else ""}
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a parsable X.509 certificate ({exc})") from None


_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.S)


def pem_certs(data: bytes, source: str) -> list[dict[str, Any]]:
    """Every certificate in a PEM text (a bundle gives several); unparsable ones carry an error."""
    out: list[dict[str, Any]] = []
    for k, m in enumerate(_PEM.finditer(data)):
        label = source + (f" #{k + 1}" if k else "")
        try:
            out.append({"source": label, **cert_info(base64.b64decode(m.group(1), validate=False))})
        except (ValueError, binascii.Error) as exc:
            out.append({"source": label, "error": str(exc)})
    return out


# ---------------------------------------------------------------------------------------------
# systemd units and environment files
# ---------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Arg:
    text: str
    file: str
    line: int | None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with backslash continuations joined and comments dropped."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith(("#", ";"))):
            continue
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append((start, buf + line))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def _unquote_words(value: str) -> list[str]:
    try:
        return shlex.split(value, posix=True)
    except ValueError:
        return value.split()


def parse_env_file(text: str) -> dict[str, tuple[str, int]]:
    """systemd EnvironmentFile=: KEY=VALUE lines, quotes removed; {key: (value, line)}."""
    env: dict[str, tuple[str, int]] = {}
    for n, line in _logical_lines(text):
        key, eq, value = line.strip().partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[7:].strip()
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        env[key] = (" ".join(_unquote_words(value.strip())) if value.strip() else "", n)
    return env


# ---------------------------------------------------------------------------------------------
# the loader
# ---------------------------------------------------------------------------------------------
class _Node:
    def __init__(self, root: str, proc: str | None = None) -> None:
        self.root = os.path.abspath(root)
        self.proc = os.path.abspath(proc) if proc else os.path.join(self.root, "proc")
        self.required: set[str] = set()  # files a flag names: missing ones are reported, not skipped
        self.out = NodeLoad(self.root)
        self.users = self._names("/etc/passwd")
        self.groups = self._names("/etc/group")
        self.files: dict[str, set[str]] = {}  # node path -> roles
        self.components: dict[str, dict[str, Any]] = {}  # component -> NodeComponent object
        self.procs: dict[str, tuple[int, list[str]]] = {}
        self.distro: str | None = None
        self.dist_config: dict[str, Any] = {}
        self.dist_config_file: str | None = None
        self.dist_config_data: bytes | None = None
        self.pending: list[tuple[dict[str, Any], str, Relocator]] = []

    # -- paths ---------------------------------------------------------------------------------
    def host(self, p: str) -> str:
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

    def read(self, p: str) -> bytes:
        with open(self.host(self.resolve(p)), "rb") as fh:
            return fh.read(MAX_READ)

    def read_proc(self, rel: str) -> bytes:
        with open(os.path.join(self.proc, rel), "rb") as fh:
            return fh.read(MAX_READ)

    def listdir(self, p: str) -> list[str]:
        try:
            return sorted(os.listdir(self.host(self.resolve(p))))
        except OSError:
            return []

    def _names(self, p: str) -> dict[int, str]:
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

    def add_file(self, p: str | None, *roles: str, required: bool = False) -> None:
        if not p:
            return
        p = posixpath.normpath(p if p.startswith("/") else "/" + p)
        self.files.setdefault(p, set()).update(roles)
        if required:
            self.required.add(p)

    # -- discovery -----------------------------------------------------------------------------
    def run(self) -> NodeLoad:
        self.scan_proc()
        self.detect_distro()
        kubelet_manifest_dir = self.load_kubelet()
        self.load_static_pods(kubelet_manifest_dir)
        self.load_embedded_control_plane()
        self.load_kube_proxy()
        for comp in CONTROL_PLANE:
            if comp in self.components:
                self.referenced_files(comp)
        self.default_files()
        self.emit_components()
        self.emit_files()
        self.out.info.update({
            "root": self.root,
            "distribution": self.distro or ("kubeadm" if self.exists("/etc/kubernetes") else None),
            "components": {k: {"origin": v.get("origin"), "source": v.get("_source")} for k, v in sorted(self.components.items())},
        })
        return self.out

    def scan_proc(self) -> None:
        try:
            pids = sorted((p for p in os.listdir(self.proc) if p.isdigit()), key=int)
        except OSError:
            pids = []
        for pid in pids:
            try:
                raw = self.read_proc(f"{pid}/cmdline")
            except OSError:
                continue
            argv = [a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")] if raw.strip(b"\0") else []
            if len(argv) == 1 and " " in argv[0]:  # a process that rewrote its title (k3s)
                argv = argv[0].split()
            if not argv:
                continue
            base = posixpath.basename(argv[0])
            if base in DISTROS and len(argv) > 1 and argv[1] in ("server", "agent"):
                self.procs.setdefault(f"{base}-{argv[1]}", (int(pid), argv))
                continue
            found = _find_in_argv(argv)
            if found is None:
                continue
            comp = found[0]
            if comp in self.procs:
                self.out.warnings.append(f"several {comp} processes; using pid {self.procs[comp][0]}")
                continue
            self.procs[comp] = (int(pid), argv[found[1]:])

    def proc_env(self, pid: int) -> dict[str, str] | None:
        try:
            raw = self.read_proc(f"{pid}/environ")
        except OSError:
            return None
        env: dict[str, str] = {}
        for item in raw.split(b"\0"):
            k, eq, v = item.decode("utf-8", "replace").partition("=")
            if eq:
                env[k] = v
        return env

    def detect_distro(self) -> None:
        for d in DISTROS:
            if f"{d}-server" in self.procs or f"{d}-agent" in self.procs or self.exists(f"/etc/rancher/{d}/config.yaml") or self.isdir(f"/var/lib/rancher/{d}"):
                self.distro = d
                break
        if self.distro is None:
            return
        d = self.distro
        cfg_file = f"/etc/rancher/{d}/config.yaml"
        merged: dict[str, Any] = {}
        for p in [cfg_file] + [f"/etc/rancher/{d}/config.yaml.d/{n}" for n in self.listdir(f"/etc/rancher/{d}/config.yaml.d") if n.endswith((".yaml", ".yml"))]:
            if not self.exists(p):
                continue
            try:
                data = self.read(p)
            except OSError as exc:
                self.out.warnings.append(f"cannot read {p}: {exc.strerror}")
                continue
            doc = _first_doc(data)
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
                self.dist_config_file, self.dist_config_data = p, data
        self.dist_config = merged
        self.out.info["distribution_config"] = self.dist_config_file

    def dist_args(self, comp: str) -> list[str]:
        v = self.dist_config.get(EMBED_ARG_KEYS[comp])
        items = v if isinstance(v, list) else ([v] if isinstance(v, str) else [])
        return [a if a.startswith("-") else f"--{a}" for a in items if isinstance(a, str)]

    # -- the kubelet ---------------------------------------------------------------------------
    def systemd_kubelet(self) -> tuple[list[_Arg] | None, list[str]]:
        """The kubelet's argv from its unit and drop-ins, with where each argument came from."""
        names = ["kubelet.service", "k3s.service", "k3s-agent.service", "rke2-server.service", "rke2-agent.service"]
        unit, unit_name = None, None
        for name in names:
            for d in UNIT_DIRS:
                if self.exists(f"{d}/{name}"):
                    unit, unit_name = f"{d}/{name}", name
                    break
            if unit:
                break
        if unit is None or unit_name is None:
            return None, []
        dropins: dict[str, str] = {}
        for d in reversed(UNIT_DIRS):  # later (higher precedence) directories replace same-named drop-ins
            for n in self.listdir(f"{d}/{unit_name}.d"):
                if n.endswith(".conf"):
                    dropins[n] = f"{d}/{unit_name}.d/{n}"
        files = [unit] + [dropins[n] for n in sorted(dropins)]
        for f in files:
            self.add_file(f, "kubelet-service")
        if unit_name != "kubelet.service":
            return None, files  # k3s/RKE2 start the kubelet themselves: their units carry no kubelet flags
        env: dict[str, tuple[str, str, int]] = {}
        env_files: list[tuple[str, bool]] = []
        exec_start: tuple[str, str, int] | None = None
        for f in files:
            try:
                text = self.read(f).decode("utf-8", "replace")
            except OSError as exc:
                self.out.warnings.append(f"cannot read {f}: {exc.strerror}")
                continue
            section = None
            for n, line in _logical_lines(text):
                s = line.strip()
                if s.startswith("[") and s.endswith("]"):
                    section = s[1:-1]
                    continue
                if section != "Service":
                    continue
                key, _, value = s.partition("=")
                key, value = key.strip(), value.strip().replace("%%", "%")
                if key == "ExecStart":
                    exec_start = (value, f, n) if value else None
                elif key == "Environment":
                    for w in _unquote_words(value):
                        k, eq, v = w.partition("=")
                        if eq:
                            env[k] = (v, f, n)
                elif key == "EnvironmentFile":
                    if not value:
                        env_files = []
                    else:
                        for w in _unquote_words(value):
                            env_files.append((w.lstrip("-"), w.startswith("-")))
        for path, optional in env_files:  # EnvironmentFile= overrides Environment=
            if not self.exists(path):
                if not optional:
                    self.out.warnings.append(f"the kubelet unit needs {path}, which is missing under the root")
                continue
            self.add_file(path, "kubelet-env")
            try:
                for k, (v, n) in parse_env_file(self.read(path).decode("utf-8", "replace")).items():
                    env[k] = (v, path, n)
            except OSError as exc:
                self.out.warnings.append(f"cannot read {path}: {exc.strerror}")
        if exec_start is None:
            return None, files
        value, f, n = exec_start
        value = value.lstrip("-@+!:")
        out: list[_Arg] = []
        for w in _unquote_words(value):
            m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
            if m:
                v = env.get(m.group(1))
                if v is not None:
                    out.extend(_Arg(x, v[1], v[2]) for x in v[0].split())
                continue
            refs = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", w)
            text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda mm: env.get(mm.group(1), ("", "", 0))[0], w)
            src = env.get(refs[-1]) if refs else None
            out.append(_Arg(text, src[1], src[2]) if src else _Arg(text, f, n))
        return out, files

    def load_kubelet(self) -> str | None:
        """Build the kubelet NodeComponent; returns its static-pod directory when it names one."""
        from_units, unit_files = self.systemd_kubelet()
        proc = self.procs.get("kubelet")
        obj: dict[str, Any] = {"apiVersion": NODE_API, "kind": "NodeComponent", "metadata": {"name": "kubelet"}, "component": "kubelet"}
        args: list[_Arg]
        if proc is not None:
            pid, argv = proc
            pool = list(from_units or [])
            args = []
            for a in argv:  # provenance: the unit line that put the same argument there
                hit = next((u for u in pool if u.text == a), None)
                if hit is not None:
                    pool.remove(hit)
                args.append(_Arg(a, hit.file, hit.line) if hit else _Arg(a, f"/proc/{pid}/cmdline", None))
            obj["origin"], source = "process", f"/proc/{pid}/cmdline"
            if from_units is not None and [a.text for a in from_units[1:]] != argv[1:]:
                self.out.warnings.append("the running kubelet's flags differ from its systemd unit (restart pending?); kubefort judged the running ones")
        elif from_units is not None:
            args, source = from_units, unit_files[-1] if unit_files else "kubelet.service"
            obj["origin"] = "systemd"
            source = next((a.file for a in from_units if a.file), source)
        elif self.distro is not None and (self.isdir(f"/var/lib/rancher/{self.distro}/agent") or self.dist_config_file):
            d = self.distro
            cdir = f"/var/lib/rancher/{d}/agent/etc/kubelet.conf.d"
            extra = self.dist_args("kubelet")
            argv = ["kubelet"] + ([f"--config-dir={cdir}"] if self.isdir(cdir) else []) + extra
            args = [_Arg(argv[0], self.dist_config_file or "", None)]
            args += [_Arg(a, cdir, None) for a in argv[1:len(argv) - len(extra)]]
            args += [_Arg(a, self.dist_config_file or "", self._dist_line("kubelet", k)) for k, a in enumerate(extra)]
            obj["origin"] = d
            obj["flagsIncomplete"] = (f"{d} starts the kubelet itself with built-in flags that are not on disk; kubefort sees "
                                      f"{cdir} and kubelet-arg from /etc/rancher/{d}/config.yaml")
            source = self.dist_config_file or cdir
        elif self.exists("/var/lib/kubelet/config.yaml") or self.exists("/var/lib/kubelet/kubeadm-flags.env"):
            # copied files without the unit: kubeadm's drop-in is the documented default
            argv = ["kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--kubeconfig=/etc/kubernetes/kubelet.conf",
                    "--config=/var/lib/kubelet/config.yaml"]
            args = [_Arg(a, "/var/lib/kubelet/config.yaml", None) for a in argv]
            for envf in ("/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet", "/etc/sysconfig/kubelet"):
                if self.exists(envf):
                    self.add_file(envf, "kubelet-env")
                    try:
                        for _, (v, n) in parse_env_file(self.read(envf).decode("utf-8", "replace")).items():
                            args.extend(_Arg(x, envf, n) for x in v.split())
                    except OSError as exc:
                        self.out.warnings.append(f"cannot read {envf}: {exc.strerror}")
            obj["origin"] = "assumed-kubeadm"
            self.out.warnings.append("no kubelet process or unit found; assumed kubeadm's kubelet drop-in (10-kubeadm.conf) with the files present")
            source = "/var/lib/kubelet/config.yaml"
        else:
            return None
        obj["argv"] = [a.text for a in args]
        parsed = parse_args(obj["argv"], "kubelet", 1)
        flags = {f.name: (f.value or "") for f in parsed.flags}
        layers: list[tuple[str, bytes, Any]] = []
        cfg_path = flags.get("config")
        config: dict[str, Any] | None = None
        if cfg_path:
            obj["configFile"] = cfg_path
            self.add_file(cfg_path, "kubelet-config", required=True)
            try:
                data = self.read(cfg_path)
                doc = _first_doc(data)
                if not isinstance(doc, dict):
                    raise ValueError("it is not a KubeletConfiguration mapping")
                layers.append((cfg_path, data, doc))
                config = _deepcopy(doc)
            except (OSError, ValueError) as exc:
                obj["configError"] = f"{cfg_path}: {getattr(exc, 'strerror', None) or exc}"
        cdir = flags.get("config-dir")
        if cdir and "configError" not in obj:
            for n in self.listdir(cdir):
                if not n.endswith(".conf"):
                    continue
                p = posixpath.join(cdir, n)
                self.add_file(p, "kubelet-config")
                try:
                    data = self.read(p)
                    doc = _first_doc(data)
                    if not isinstance(doc, dict):
                        raise ValueError("it is not a KubeletConfiguration mapping")
                except (OSError, ValueError) as exc:
                    obj["configError"] = f"{p}: {getattr(exc, 'strerror', None) or exc}"
                    config = None
                    break
                layers.append((p, data, doc))
                config = _merge(config or {}, doc)
        if config is not None and "configError" not in obj:
            obj["config"] = config
        obj["_source"] = source
        self.add_file(flags.get("kubeconfig") or ("/etc/kubernetes/kubelet.conf" if self.distro is None else None), "kubelet-kubeconfig",
                      required=bool(flags.get("kubeconfig")))
        ca = flags.get("client-ca-file") or _dig(config, "authentication", "x509", "clientCAFile")
        if isinstance(ca, str) and ca:
            self.add_file(_rel(ca, cfg_path), "kubelet-client-ca", "certificate", required=True)
        for key in ("tlsCertFile",):
            v = flags.get("tls-cert-file") or _dig(config, key)
            if isinstance(v, str) and v:
                self.add_file(_rel(v, cfg_path), "certificate")
        if flags.get("cni-conf-dir"):
            for n in self.listdir(flags["cni-conf-dir"]):
                self.add_file(posixpath.join(flags["cni-conf-dir"], n), "cni-config")
        self.components["kubelet"] = obj
        self.emit_component(obj, source, args, layers)
        static = flags.get("pod-manifest-path") or _dig(config, "staticPodPath")
        return static if isinstance(static, str) and static else None

    def _dist_line(self, comp: str, k: int) -> int | None:
        if self.dist_config_data is None:
            return None
        pos = Locator(self.dist_config_data).find(0, (EMBED_ARG_KEYS[comp], k))
        return pos[0] if pos else None

    # -- control plane -------------------------------------------------------------------------
    def load_static_pods(self, kubelet_dir: str | None) -> None:
        dirs = ([kubelet_dir] if kubelet_dir else []) + [d for d in MANIFEST_DIRS if d != kubelet_dir]
        for d in dirs:
            for n in self.listdir(d):
                if not n.endswith((".yaml", ".yml", ".json")) or n.startswith("."):
                    continue
                p = posixpath.join(d, n)
                li = self.load_manifest(p)
                if li is None:
                    continue
                found = False
                for res in li.resources:
                    if res.id.kind != "Pod":
                        continue
                    for view in _pod_views(res):
                        if view.component not in CONTROL_PLANE or view.component in self.components:
                            continue
                        found = True
                        self.add_file(p, f"{view.component}-manifest")
                        self.static_component(view, res, p, li)
                if li.problems:
                    li.resources = []
                    self.out.inputs.append(li)
                    self.add_file(p, "manifest")
                elif not found:
                    self.add_file(p, "manifest")

    def load_manifest(self, p: str) -> LoadedInput | None:
        try:
            size = os.path.getsize(self.host(self.resolve(p)))
        except OSError:
            size = 0
        li = load(InputSpec("file", self.host(self.resolve(p)), size))
        return _renamed(li, p)

    def static_component(self, view: ComponentView, res: Resource, p: str, li: LoadedInput) -> None:
        comp = view.component
        obj: dict[str, Any] = {"apiVersion": NODE_API, "kind": "NodeComponent", "metadata": {"name": comp}, "component": comp,
                               "origin": "static-pod", "manifest": p, "argv": [comp] + list(view.args)}
        if view.image:
            obj["image"] = view.image
        if view.env:
            obj["env"] = {k: v for k, (v, _) in view.env.items() if k.startswith("ETCD_")}
        proc = self.procs.get(comp)
        locator = Locator(li.data, li.doc_lines) if li.data is not None else None
        doc, item = res.source.doc_index, res.source.item_path

        def where(pod_path: Path_) -> Location | None:
            if locator is None:
                return None
            pos = locator.find(doc, item + pod_path)
            return Location(p, pos[0], pos[1]) if pos else Location(p, res.source.line)

        source = p
        arg_paths: list[Path_ | None] = [None] + list(view.paths)
        if proc is not None and proc[1][1:] != list(view.args):
            obj["argv"] = [comp] + proc[1][1:]
            obj["origin"] = "process"
            source = f"/proc/{proc[0]}/cmdline"
            arg_paths = []
            self.out.warnings.append(f"the running {comp} (pid {proc[0]}) has other flags than {p}; kubefort judged the running ones")
            if comp == "etcd":
                env = self.proc_env(proc[0])
                if env is None:
                    obj["envUnreadable"] = True
                obj["env"] = {k: v for k, v in (env or {}).items() if k.startswith("ETCD_")}
        obj["_source"] = source

        def relocate(path: Path_) -> Location | None:
            if path and path[0] == "argv":
                if len(path) > 1 and isinstance(path[1], int) and path[1] < len(arg_paths) and arg_paths[path[1]] is not None:
                    return where(arg_paths[path[1]])  # type: ignore[arg-type]
                return where(view.missing) if source == p else Location(source)
            if path and path[0] == "env" and len(path) > 1 and view.env.get(str(path[1])) and source == p:
                return where(view.env[str(path[1])][1])
            if path and path[0] == "config":
                return self._config_location(obj, path)
            return where(view.missing) if source == p else Location(source)

        self.components[comp] = obj
        self.finish_component(obj)
        self._emit(obj, source, relocate)

    def load_embedded_control_plane(self) -> None:
        """Components that run without a manifest: a plain process, or inside k3s."""
        for comp in CONTROL_PLANE:
            if comp in self.components:
                continue
            proc = self.procs.get(comp)
            if proc is not None:
                pid, argv = proc
                obj: dict[str, Any] = {"apiVersion": NODE_API, "kind": "NodeComponent", "metadata": {"name": comp}, "component": comp,
                                       "origin": "process", "argv": [comp] + argv[1:]}
                if comp == "etcd":
                    env = self.proc_env(pid)
                    if env is None:
                        obj["envUnreadable"] = True
                    obj["env"] = {k: v for k, v in (env or {}).items() if k.startswith("ETCD_")}
                self.components[comp] = obj
                obj["_source"] = f"/proc/{pid}/cmdline"
                self.finish_component(obj)
                self._emit(obj, obj["_source"], lambda path, s=obj["_source"], o=obj: self._config_location(o, path) if path[:1] == ("config",) else Location(s))
                continue
            if self.distro == "k3s" and (("k3s-server" in self.procs) or self.isdir("/var/lib/rancher/k3s/server")):
                if comp == "etcd" and not self.isdir("/var/lib/rancher/k3s/server/db/etcd"):
                    continue  # k3s on kine/SQLite: no etcd on this node
                extra = self.dist_args(comp)
                obj = {"apiVersion": NODE_API, "kind": "NodeComponent", "metadata": {"name": comp}, "component": comp, "origin": "k3s",
                       "argv": [comp] + extra,
                       "flagsIncomplete": (f"k3s runs {comp} inside the k3s process with built-in flags that are not on disk; kubefort sees "
                                           f"only {EMBED_ARG_KEYS[comp]} from /etc/rancher/k3s/config.yaml")}
                src = self.dist_config_file or "/var/lib/rancher/k3s/server"
                obj["_source"] = src
                if comp == "etcd":
                    obj["argv"].append("--data-dir=/var/lib/rancher/k3s/server/db/etcd")
                self.components[comp] = obj
                self.finish_component(obj)

                def reloc(path: Path_, c: str = comp, s: str = src, n: int = len(extra)) -> Location | None:
                    if len(path) > 1 and path[0] == "argv" and isinstance(path[1], int) and 1 <= path[1] <= n:
                        return Location(s, self._dist_line(c, path[1] - 1))
                    return Location(s)

                self._emit(obj, src, reloc)

    def finish_component(self, obj: dict[str, Any]) -> None:
        """Files a control-plane component's flags name: config files, data dir, kubeconfigs, certificates."""
        comp = obj["component"]
        parsed = parse_args(obj["argv"], comp, 1)
        flags = {f.name: (f.value or "") for f in parsed.flags}
        if comp == "etcd":
            cfg = flags.get("config-file") or (obj.get("env") or {}).get("ETCD_CONFIG_FILE")
            if cfg:
                obj["configFile"] = cfg
                try:
                    doc = _first_doc(self.read(cfg))
                    if not isinstance(doc, dict):
                        raise ValueError("it is not a mapping")
                    obj["config"] = doc
                except (OSError, ValueError) as exc:
                    obj["configError"] = f"{cfg}: {getattr(exc, 'strerror', None) or exc}"
            data_dir = (obj.get("config") or {}).get("data-dir") if cfg else flags.get("data-dir") or (obj.get("env") or {}).get("ETCD_DATA_DIR")
            if isinstance(data_dir, str) and data_dir:
                self.add_file(data_dir, "etcd-data-dir", required=True)
        if comp == "kube-scheduler":
            self.add_file(flags.get("kubeconfig") or "/etc/kubernetes/scheduler.conf", "scheduler-kubeconfig", required=bool(flags.get("kubeconfig")))
        if comp == "kube-controller-manager":
            self.add_file(flags.get("kubeconfig") or "/etc/kubernetes/controller-manager.conf", "controller-manager-kubeconfig",
                          required=bool(flags.get("kubeconfig")))
        for name, value in flags.items():
            if value and CERT_FLAG.search(name) and value.startswith("/"):
                self.add_file(value, "certificate")

    def referenced_files(self, comp: str) -> None:
        """Files whose content the checks need: for the API server, the encryption config, the audit
        policy (both loaded as manifests) and the structured authn/authz configs (into `files`)."""
        obj = self.components[comp]
        if comp != "kube-apiserver":
            return
        flags = {f.name: (f.value or "") for f in parse_args(obj["argv"], comp, 1).flags}
        for flag in ("encryption-provider-config", "audit-policy-file"):
            p = flags.get(flag)
            if p:
                li = self.load_manifest(p)
                if li is not None:
                    self.out.inputs.append(li)
                self.add_file(p, flag)
        files: dict[str, Any] = {}
        for flag in ("authorization-config", "authentication-config"):
            p = flags.get(flag)
            if not p:
                continue
            try:
                doc = _first_doc(self.read(p))
                files[flag] = {"path": p, "content": doc}
            except (OSError, ValueError) as exc:
                files[flag] = {"path": p, "error": f"cannot read {p}: {getattr(exc, 'strerror', None) or exc}"}
        if files:
            obj["files"] = files

    def load_kube_proxy(self) -> None:
        proc = self.procs.get("kube-proxy")
        if proc is None:
            return
        pid, argv = proc
        obj: dict[str, Any] = {"apiVersion": NODE_API, "kind": "NodeComponent", "metadata": {"name": "kube-proxy"}, "component": "kube-proxy",
                               "origin": "process", "argv": ["kube-proxy"] + argv[1:]}
        flags = {f.name: (f.value or "") for f in parse_args(obj["argv"], "kube-proxy", 1).flags}
        cfg = flags.get("config")
        if cfg:
            obj["configFile"] = cfg
            # a kube-proxy pod sees its config through its own mount namespace
            for candidate in (f"{pid}/root{cfg}", cfg):
                try:
                    doc = _first_doc(self.read_proc(candidate) if candidate.startswith(f"{pid}/") else self.read(candidate))
                except (OSError, ValueError):
                    continue
                if isinstance(doc, dict):
                    obj["config"] = doc
                    break
            else:
                obj["configError"] = f"{cfg}: not readable from the node (it lives in the kube-proxy pod's file system)"
        if flags.get("kubeconfig") and self.exists(flags["kubeconfig"]):
            self.add_file(flags["kubeconfig"], "kube-proxy-kubeconfig")
        obj["_source"] = f"/proc/{pid}/cmdline"
        self.components["kube-proxy"] = obj
        self._emit(obj, obj["_source"], lambda path, s=obj["_source"]: Location(s))

    # -- files ---------------------------------------------------------------------------------
    def default_files(self) -> None:
        if self.exists("/etc/kubernetes"):
            for n in ("admin.conf", "super-admin.conf"):
                self.add_file(f"/etc/kubernetes/{n}", "admin-kubeconfig")
            if "kube-scheduler" in self.components:
                self.add_file("/etc/kubernetes/scheduler.conf", "scheduler-kubeconfig")
            if "kube-controller-manager" in self.components:
                self.add_file("/etc/kubernetes/controller-manager.conf", "controller-manager-kubeconfig")
            self.add_file("/etc/kubernetes/proxy.conf", "kube-proxy-kubeconfig")
            self.pki("/etc/kubernetes/pki")
        if self.distro is not None:
            d = f"/var/lib/rancher/{self.distro}"
            self.add_file(f"{d}/server/cred/admin.kubeconfig", "admin-kubeconfig")
            self.add_file(f"{d}/server/cred/scheduler.kubeconfig", "scheduler-kubeconfig")
            self.add_file(f"{d}/server/cred/controller.kubeconfig", "controller-manager-kubeconfig")
            self.add_file(f"{d}/agent/kubelet.kubeconfig", "kubelet-kubeconfig")
            self.add_file(f"{d}/agent/kubeproxy.kubeconfig", "kube-proxy-kubeconfig")
            self.add_file(f"{d}/agent/client-ca.crt", "kubelet-client-ca", "certificate")
            self.pki(f"{d}/server/tls")
            if self.isdir(f"{d}/server/db/etcd"):
                self.add_file(f"{d}/server/db/etcd", "etcd-data-dir")
        for n in self.listdir("/etc/cni/net.d"):
            self.add_file(f"/etc/cni/net.d/{n}", "cni-config")

    def pki(self, top: str) -> None:
        if not self.isdir(top):
            return
        stack = [top]
        while stack:
            d = stack.pop()
            self.add_file(d, "pki")
            for n in self.listdir(d):
                p = posixpath.join(d, n)
                if self.isdir(p) and not os.path.islink(self.host(p)):
                    stack.append(p)
                    continue
                roles = ["pki"]
                if n.endswith(".crt"):
                    roles += ["pki-cert", "certificate"]
                elif n.endswith(".key"):
                    roles.append("pki-key")
                elif n.endswith(".pem"):
                    roles.append("certificate")
                self.add_file(p, *roles)

    def emit_files(self) -> None:
        for p in sorted(self.files):
            obj = self.file_object(p, self.files[p])
            if obj is None:
                continue
            res = Resource(ResourceId(NODE_API, "NodeFile", None, p), obj, Source(p, 0, None))
            rec = InputRecord(p, "node", 1, 1)
            self.out.inputs.append(LoadedInput(rec, [res]))

    def file_object(self, p: str, roles: set[str]) -> dict[str, Any] | None:
        real = self.resolve(p)
        obj: dict[str, Any] = {"apiVersion": NODE_API, "kind": "NodeFile", "metadata": {"name": p}, "path": p, "roles": sorted(roles)}
        if real != p:
            obj["resolved"] = real
        try:
            st = os.stat(self.host(real))
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
                data = self.read(p)
            except OSError as exc:
                obj["certificateError"] = f"cannot read {p}: {exc.strerror}"
                return obj
            certs = kubeconfig_certs(data) if kubeconfig else pem_certs(data, posixpath.basename(p))
            if certs:
                obj["certificates"] = certs
        return obj

    # -- emitting --------------------------------------------------------------------------------
    def emit_component(self, obj: dict[str, Any], source: str, args: list[_Arg], layers: list[tuple[str, bytes, Any]]) -> None:
        obj["_layers"] = layers

        def relocate(path: Path_) -> Location | None:
            if len(path) > 1 and path[0] == "argv" and isinstance(path[1], int) and path[1] < len(args):
                a = args[path[1]]
                return Location(a.file, a.line) if a.file else None
            if path and path[0] == "config":
                return self._config_location(obj, path)
            if args and args[0].file:  # an absent flag: the line that starts the kubelet (ExecStart=)
                return Location(args[0].file, args[0].line)
            return Location(source)

        self._emit(obj, source, relocate)

    def _config_location(self, obj: dict[str, Any], path: Path_) -> Location | None:
        layers: list[tuple[str, bytes, Any]] = obj.get("_layers") or []
        inner = tuple(path[1:])
        for file, data, doc in reversed(layers):
            if _has(doc, inner):
                pos = Locator(data).find(0, inner)
                return Location(file, pos[0], pos[1]) if pos else Location(file)
        if layers:
            file, data, _ = layers[0]
            pos = Locator(data).find(0, inner)
            return Location(file, pos[0], pos[1]) if pos else Location(file)
        cfg = obj.get("configFile")
        return Location(cfg) if isinstance(cfg, str) else None

    def _emit(self, obj: dict[str, Any], source: str, relocate: Relocator) -> None:
        self.pending.append((obj, source, relocate))  # emitted at the end: referenced files are added later

    def emit_components(self) -> None:
        for obj, source, relocate in self.pending:
            if source.startswith("/proc/"):
                # pids change with every restart: name the binary, so that fingerprints (baselines) stay stable
                argv = obj.get("argv") or [obj["component"]]
                source = argv[0] if argv[0].startswith("/") else f"{obj['component']} (process)"
            clean = {k: v for k, v in obj.items() if not k.startswith("_")}
            res = Resource(ResourceId(NODE_API, "NodeComponent", None, obj["component"]), clean, Source(source, 0, None))
            self.out.inputs.append(LoadedInput(InputRecord(source, "node", 1, 1), [res]))
            self.out.relocators[(res.id, source)] = relocate


def kubeconfig_certs(data: bytes) -> list[dict[str, Any]]:
    """Certificates embedded in a kubeconfig (client-certificate-data, certificate-authority-data)."""
    doc = _first_doc(data)
    out: list[dict[str, Any]] = []
    if not isinstance(doc, dict):
        return out
    for section, inner, key in (("users", "user", "client-certificate-data"), ("clusters", "cluster", "certificate-authority-data")):
        items = doc.get(section)
        if not isinstance(items, list):
            continue
        for it in items:
            if not isinstance(it, dict) or not isinstance(it.get(inner), dict):
                continue
            b64 = it[inner].get(key)
            if not isinstance(b64, str):
                continue
            label = f"{section}[{it.get('name')}].{key}"
            try:
                pem = base64.b64decode(b64)
            except (binascii.Error, ValueError):
                out.append({"source": label, "error": "not base64"})
                continue
            out.extend(pem_certs(pem, label))
    return out


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _first_doc(data: bytes) -> Any:
    parsed = parse_stream(data)
    if parsed.error is not None:
        raise ValueError(f"not valid YAML/JSON: {parsed.error.message}")
    if parsed.doc_errors:
        raise ValueError(f"not valid YAML/JSON: {next(iter(parsed.doc_errors.values())).message}")
    docs = [d for d in parsed.docs if d is not None]
    return docs[0] if docs else None


def _dig(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _has(d: Any, keys: tuple[Any, ...]) -> bool:
    for k in keys:
        if isinstance(d, dict) and k in d:
            d = d[k]
        elif isinstance(d, list) and isinstance(k, int) and 0 <= k < len(d):
            d = d[k]
        else:
            return False
    return True


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Kubelet drop-in merging: mappings merge field by field, lists and scalars replace."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _deepcopy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deepcopy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deepcopy(v) for v in d]
    return d


def _rel(p: str, config_file: str | None) -> str:
    """The kubelet resolves relative paths of its config file against the file's directory."""
    if p.startswith("/") or not config_file:
        return p
    return posixpath.normpath(posixpath.join(posixpath.dirname(config_file), p))


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


def load_node(root: str = "/", proc: str | None = None) -> NodeLoad:
    """Everything `kubefort node` judges, read from the node mounted at `root`.

    `proc` is where the node's process table is (default `<root>/proc`); in a pod with
    hostPID it is the pod's own `/proc`.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--root {root!r} is not a directory")
    return _Node(root, proc).run()


__all__ = ["NodeLoad", "load_node", "cert_info", "pem_certs", "kubeconfig_certs", "parse_env_file", "LoadProblem"]
