"""Command lines of the Kubernetes components, read the way the components read them.

Two sources carry a component's command line:

* a Pod (a static-pod manifest in `kubefort scan` input): the container's `command` + `args`;
* a `NodeComponent` (synthetic, built by `kubefort node` from a static-pod manifest, `/proc`,
  systemd units or a distribution's config): its `argv`, plus the content of the files the
  flags name (kubelet `--config`, etcd `--config-file`, ...).

`component_view(res, name)` gives a `ComponentView` for either, or raises `NotApplicable` when the
object does not run that component. Its accessors apply the components' own parsing rules:

* Kubernetes components use spf13/pflag: `--flag=value` and `--flag value`; a boolean flag takes
  no separate value (`--anonymous-auth false` sets it to true and leaves a stray argument, the
  component then refuses to start); `_` in names is read as `-` (component-base's
  WordSepNormalizeFunc); a scalar flag given twice keeps its last value; list flags
  (`--enable-admission-plugins`, `--authorization-mode`, `--tls-cipher-suites`) split on commas
  and a repeated occurrence appends; `--feature-gates` merges key=value pairs, last wins.
* etcd uses Go's `flag` package: `-flag` and `--flag` are the same, parsing stops at the first
  argument that is not a flag, every flag can also come from an `ETCD_<NAME>` environment
  variable (a flag on the command line wins) and `--config-file` replaces both.
* Booleans follow Go's strconv.ParseBool (`1 t T true TRUE True`, `0 f F false FALSE False`).

When a flag is absent the caller applies the component's compiled-in default, unless the view
says its flags are only partly visible (a component embedded in k3s): then absent flags raise
`NotEvaluated` with the reason.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubefort.model import NotApplicable, NotEvaluated, Path_, Resource, format_path

NODE_API = "node.kubefort.io/v1alpha1"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubelet", "kube-proxy")
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
# hyperkube sub-commands, old and new spellings
_HYPERKUBE = {
    "apiserver": "kube-apiserver",
    "controller-manager": "kube-controller-manager",
    "scheduler": "kube-scheduler",
    "proxy": "kube-proxy",
    "kubelet": "kubelet",
}

_COMMON_BOOL = {
    "alsologtostderr",
    "logtostderr",
    "one-output",
    "skip-headers",
    "skip-log-headers",
    "add-dir-header",
    "help",
    "version",
    "profiling",
    "contention-profiling",
    "enable-contention-profiling",
}
BOOL_FLAGS: dict[str, frozenset[str]] = {
    "kube-apiserver": frozenset(
        _COMMON_BOOL
        | {
            "anonymous-auth",
            "allow-privileged",
            "enable-bootstrap-token-auth",
            "service-account-lookup",
            "service-account-extend-token-expiration",
            "kubelet-https",
            "audit-log-compress",
            "audit-log-truncate-enabled",
            "audit-webhook-truncate-enabled",
            "audit-log-batch-throttle-enable",
            "audit-webhook-batch-throttle-enable",
            "enable-aggregator-routing",
            "enable-garbage-collector",
            "enable-logs-handler",
            "enable-priority-and-fairness",
            "watch-cache",
            "enable-swagger-ui",
            "insecure-skip-tls-verify",
            "permit-port-sharing",
            "permit-address-sharing",
        }
    ),
    "kube-controller-manager": frozenset(
        _COMMON_BOOL
        | {
            "use-service-account-credentials",
            "allocate-node-cidrs",
            "configure-cloud-routes",
            "enable-garbage-collector",
            "enable-hostpath-provisioner",
            "enable-dynamic-provisioning",
            "leader-elect",
            "enable-taint-manager",
            "permit-port-sharing",
            "permit-address-sharing",
            "disable-attach-detach-reconcile-sync",
        }
    ),
    "kube-scheduler": frozenset(_COMMON_BOOL | {"leader-elect", "permit-port-sharing", "permit-address-sharing"}),
    "kubelet": frozenset(
        _COMMON_BOOL
        | {
            "anonymous-auth",
            "authentication-token-webhook",
            "rotate-certificates",
            "rotate-server-certificates",
            "make-iptables-util-chains",
            "seccomp-default",
            "protect-kernel-defaults",
            "fail-swap-on",
            "cgroups-per-qos",
            "enable-server",
            "enable-debugging-handlers",
            "register-node",
            "register-schedulable",
            "serialize-image-pulls",
            "kernel-memcg-notification",
            "enable-controller-attach-detach",
            "exit-on-lock-contention",
            "keep-terminated-pod-volumes",
            "fail-cgroupv1",
            "enable-load-reader",
            "localstorage-capacity-isolation",
        }
    ),
    "kube-proxy": frozenset(
        _COMMON_BOOL
        | {"masquerade-all", "cleanup", "cleanup-ipvs", "bind-address-hard-fail", "ipvs-strict-arp", "init-only"}
    ),
    "etcd": frozenset(
        {
            "client-cert-auth",
            "peer-client-cert-auth",
            "auto-tls",
            "peer-auto-tls",
            "strict-reconfig-check",
            "enable-v2",
            "enable-pprof",
            "debug",
            "force-new-cluster",
            "experimental-initial-corrupt-check",
            "enable-grpc-gateway",
            "socket-reuse-port",
            "socket-reuse-address",
            "experimental-enable-distributed-tracing",
            "version",
            "help",
            "experimental-peer-skip-client-san-verification",
            "peer-skip-client-san-verification",
            "pre-vote",
            "experimental-compact-hash-check-enabled",
            "experimental-enable-lease-checkpoint",
            "experimental-memory-mlock",
            "unsafe-no-fsync",
            "enable-log-rotation",
            "experimental-stop-grpc-service-on-defrag",
        }
    ),
}
# etcd flags that live inside client-transport-security / peer-transport-security in --config-file
ETCD_CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "cert-file": ("client-transport-security", "cert-file"),
    "key-file": ("client-transport-security", "key-file"),
    "client-cert-auth": ("client-transport-security", "client-cert-auth"),
    "trusted-ca-file": ("client-transport-security", "trusted-ca-file"),
    "auto-tls": ("client-transport-security", "auto-tls"),
    "peer-cert-file": ("peer-transport-security", "cert-file"),
    "peer-key-file": ("peer-transport-security", "key-file"),
    "peer-client-cert-auth": ("peer-transport-security", "client-cert-auth"),
    "peer-trusted-ca-file": ("peer-transport-security", "trusted-ca-file"),
    "peer-auto-tls": ("peer-transport-security", "auto-tls"),
}

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def go_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool: True/False, or None for anything else (the component rejects it)."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


_DUR = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_DUR_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: str) -> float | None:
    """Go's time.ParseDuration in seconds ("4h0m0s", "5m", "0"); None when invalid."""
    t = text.strip()
    sign = -1.0 if t.startswith("-") else 1.0
    t = t.lstrip("+-")
    if t == "0":
        return 0.0
    pos, total = 0, 0.0
    if not t:
        return None
    for m in _DUR.finditer(t):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _DUR_UNIT[m.group(2)]
        pos = m.end()
    return sign * total if pos == len(t) else None


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag occurrence on a command line."""

    name: str  # normalised, without dashes
    value: str | None  # None: a bare `--flag` (a boolean switch)
    index: int  # argument index of the flag
    value_index: int  # argument index holding the value (index + 1 for `--flag value`)
    spelled: str  # as written, for messages


@dataclass(slots=True)
class ParsedArgs:
    flags: list[Flag] = field(default_factory=list)
    positional: list[tuple[int, str]] = field(default_factory=list)


def parse_args(args: Sequence[str], component: str, start: int = 0) -> ParsedArgs:
    """Parse `args[start:]` (the arguments after the binary) the way `component` parses them."""
    out = ParsedArgs()
    bools = BOOL_FLAGS.get(component, frozenset())
    go_flag = component == "etcd"
    i = start
    n = len(args)
    while i < n:
        a = args[i]
        if a == "--":
            out.positional.extend((j, args[j]) for j in range(i + 1, n))
            break
        if not a.startswith("-") or a == "-":
            out.positional.append((i, a))
            if go_flag:  # Go's flag package stops at the first non-flag argument
                out.positional.extend((j, args[j]) for j in range(i + 1, n))
                break
            i += 1
            continue
        body = a[2:] if a.startswith("--") else a[1:]
        name, eq, value = body.partition("=")
        if not go_flag:
            name = name.replace("_", "-")
        if eq:
            out.flags.append(Flag(name, value, i, i, a))
        elif name in bools:
            out.flags.append(Flag(name, None, i, i, a))
        elif i + 1 < n and (not args[i + 1].startswith("-") or args[i + 1] == "-"):
            out.flags.append(Flag(name, args[i + 1], i, i + 1, f"{a} {args[i + 1]}"))
            i += 1
        else:
            out.flags.append(
                Flag(name, None, i, i, a)
            )  # an unknown switch (or a value-less flag: the component refuses it)
        i += 1
    return out


def split_list(value: str) -> list[str]:
    """A pflag string-slice value: comma-separated items (CSV), blanks dropped."""
    return [v.strip() for v in value.split(",") if v.strip()]


def env_name(flag: str) -> str:
    return "ETCD_" + flag.upper().replace("-", "_")


# ---------------------------------------------------------------------------------------------
# component views
# ---------------------------------------------------------------------------------------------
@dataclass(slots=True)
class ComponentView:
    """A component's command line and, in node scans, what its flags point at."""

    component: str
    label: str  # "container 'kube-apiserver'" / "kube-apiserver"
    args: list[str]
    paths: list[Path_]  # path of each argument inside the object
    missing: Path_  # where to point when a flag is absent
    container: str | None = None
    env: dict[str, tuple[str | None, Path_]] = field(default_factory=dict)
    absent_reason: str | None = None  # set when absent flags cannot be judged (embedded components)
    image: str | None = None
    node: dict[str, Any] | None = None  # the NodeComponent object (config, files), None for a Pod
    parsed: ParsedArgs = field(default_factory=ParsedArgs)

    def __post_init__(self) -> None:
        self.parsed = parse_args(self.args, self.component)

    # -- raw access ---------------------------------------------------------------------------
    def all(self, name: str) -> list[Flag]:
        return [f for f in self.parsed.flags if f.name == name]

    def last(self, name: str) -> Flag | None:
        found = self.all(name)
        return found[-1] if found else None

    def at(self, flag: Flag | None) -> Path_:
        if flag is None or flag.value_index >= len(self.paths):
            return self.missing
        return self.paths[flag.value_index]

    def violation_kw(self) -> dict[str, Any]:
        return {"container": self.container} if self.container else {}

    def absent(self, name: str) -> None:
        """Called when a flag is absent: fine unless absent flags cannot be judged here."""
        if self.absent_reason:
            raise NotEvaluated(f"--{name} is not among the flags kubefort can see: {self.absent_reason}", self.missing)

    # -- typed access -------------------------------------------------------------------------
    def string(self, name: str) -> tuple[str | None, Path_]:
        """The last value of a scalar flag, or None when absent (absent_reason raises)."""
        f = self.last(name)
        if f is None:
            if self.component == "etcd" and env_name(name) in self.env:
                v, p = self.env[env_name(name)]
                if v is None:
                    raise NotEvaluated(f"{env_name(name)} comes from a reference kubefort cannot resolve", p)
                return v, p
            self.absent(name)
            return None, self.missing
        return (f.value if f.value is not None else ""), self.at(f)

    def is_set(self, name: str) -> tuple[bool, Path_]:
        """A flag counts as set when it has a non-empty value (`--token-auth-file=` sets nothing)."""
        v, p = self.string(name)
        return bool(v), p

    def boolean(self, name: str, default: bool) -> tuple[bool, Path_]:
        f = self.last(name)
        if f is None:
            if self.component == "etcd" and env_name(name) in self.env:
                v, p = self.env[env_name(name)]
                b = go_bool(v) if v is not None else None
                if b is None:
                    raise NotEvaluated(f"{env_name(name)}={v!r} is not a boolean etcd accepts", p)
                return b, p
            self.absent(name)
            return default, self.missing
        if f.value is None:
            return True, self.at(f)
        b = go_bool(f.value)
        if b is None:
            raise NotEvaluated(
                f"{f.spelled!r} is not a boolean the {self.component} accepts; it would refuse to start", self.at(f)
            )
        return b, self.at(f)

    def integer(self, name: str) -> tuple[int | None, Path_]:
        v, p = self.string(name)
        if v is None:
            return None, p
        try:
            return int(v.strip(), 0 if v.strip().startswith("0x") else 10), p
        except ValueError:
            raise NotEvaluated(
                f"--{name}={v!r} is not an integer; the {self.component} would refuse to start", p
            ) from None

    def items(self, name: str) -> tuple[list[tuple[str, Path_]], bool]:
        """Items of a list flag over every occurrence (a later occurrence appends), and whether it was given."""
        occ = self.all(name)
        if not occ:
            if self.component == "etcd" and env_name(name) in self.env:
                v, p = self.env[env_name(name)]
                return [(x, p) for x in split_list(v or "")], True
            self.absent(name)
            return [], False
        return [(x, self.at(f)) for f in occ for x in split_list(f.value or "")], True

    def gates(self, name: str = "feature-gates") -> dict[str, tuple[bool, Path_]]:
        """Feature gates from --feature-gates (key=value pairs, later wins). Absent: {} (no absent check)."""
        out: dict[str, tuple[bool, Path_]] = {}
        for f in self.all(name):
            for item in split_list(f.value or ""):
                k, eq, v = item.partition("=")
                b = go_bool(v.strip()) if eq else None
                if b is None:
                    raise NotEvaluated(
                        f"--{name} item {item!r} is not key=true|false; the {self.component} would refuse to start",
                        self.at(f),
                    )
                out[k.strip()] = (b, self.at(f))
        return out

    # -- node scans: content of files the flags name -------------------------------------------
    def file(self, flag: str) -> dict[str, Any] | None:
        """{path, content | error} for a file named by `flag`, in node scans; None in manifest scans."""
        if self.node is None:
            return None
        files = self.node.get("files")
        entry = files.get(flag) if isinstance(files, dict) else None
        return entry if isinstance(entry, dict) else None

    def version(self) -> tuple[int, int] | None:
        """(major, minor) from the image tag or the node object's `version`, when known."""
        text = None
        if self.node is not None and isinstance(self.node.get("version"), str):
            text = self.node["version"]
        elif self.image:
            text = self.image.rpartition(":")[2] if ":" in self.image.rpartition("/")[2] else None
        m = re.match(r"v?(\d+)\.(\d+)", text or "")
        return (int(m.group(1)), int(m.group(2))) if m else None


def _str_list(v: Any, path: Path_) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise NotEvaluated(f"{format_path(path)} is not a list of strings", path)
    return v


def _expand_k8s_vars(arg: str, env: dict[str, tuple[str | None, Path_]]) -> str:
    """Kubernetes' $(VAR) expansion in command/args ($$ escapes); unknown references stay as written."""

    def rep(m: re.Match[str]) -> str:
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        v = env.get(m.group(1))
        return v[0] if v is not None and v[0] is not None else m.group(0)

    return re.sub(r"\$\$\([A-Za-z_][A-Za-z0-9_.-]*\)|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", rep, arg)


def binary_component(word: str) -> str | None:
    base = posixpath.basename(word)
    return base if base in COMPONENTS else None


def find_in_argv(argv: list[str]) -> tuple[str, int] | None:
    """(component, index of its binary) in an argv; understands hyperkube and k3s-style wrappers."""
    if not argv:
        return None
    comp = binary_component(argv[0])
    if comp:
        return comp, 0
    base = posixpath.basename(argv[0])
    if base == "hyperkube" and len(argv) > 1:
        sub = _HYPERKUBE.get(argv[1], binary_component(argv[1]))
        if sub:
            return sub, 1
    return None


def pod_views(res: Resource) -> Iterator[ComponentView]:
    """A view of every container of a Pod that runs a Kubernetes component (command, args, env, image)."""
    spec = res.obj.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list):
        return
    for i, c in enumerate(spec["containers"]):
        if not isinstance(c, dict):
            continue
        base: Path_ = ("spec", "containers", i)
        try:
            cmd = _str_list(c.get("command"), base + ("command",))
            args = _str_list(c.get("args"), base + ("args",))
        except NotEvaluated:
            continue
        env: dict[str, tuple[str | None, Path_]] = {}
        if isinstance(c.get("env"), list):
            for j, e in enumerate(c["env"]):
                if isinstance(e, dict) and isinstance(e.get("name"), str):
                    v = e.get("value")
                    env[e["name"]] = (
                        v if isinstance(v, str) else (None if "valueFrom" in e else ""),
                        base + ("env", j, "value"),
                    )
        argv = cmd + args
        paths: list[Path_] = [base + ("command", j) for j in range(len(cmd))] + [
            base + ("args", j) for j in range(len(args))
        ]
        image = c.get("image") if isinstance(c.get("image"), str) else None
        found = find_in_argv(argv)
        if (
            found is None
            and len(argv) >= 3
            and posixpath.basename(argv[0]) in ("sh", "bash", "ash", "dash")
            and argv[1] == "-c"
        ):
            # `sh -c "exec kube-apiserver --flag ..."`: the words after the binary, up to a shell operator
            try:
                words = shlex.split(argv[2])
            except ValueError:
                words = []
            for k, w in enumerate(words):
                comp = binary_component(w)
                if comp:
                    rest = []
                    for w2 in words[k + 1 :]:
                        if w2 in ("&&", "||", ";", "|"):
                            break
                        rest.append(w2)
                    argv = [w] + rest
                    paths = [base + ("command", 2)] * len(argv)
                    found = (comp, 0)
                    break
        if found is None and not cmd and image:
            # no command: the image's entrypoint is the component binary (registry.k8s.io/kube-apiserver:v1.x)
            repo = (
                image.split("@")[0].rpartition(":")[0]
                if ":" in image.split("@")[0].rpartition("/")[2]
                else image.split("@")[0]
            )
            comp = binary_component(repo.rpartition("/")[2])
            if comp and all(a.startswith("-") for a in args[:1]):
                argv = [comp] + args
                paths = [base + ("args",)] + paths
                found = (comp, 0)
        if found is None:
            continue
        comp, at = found
        expanded = [_expand_k8s_vars(a, env) for a in argv[at + 1 :]]
        name = c.get("name") if isinstance(c.get("name"), str) else f"#{i}"
        missing = base + (("args",) if args else ("command",))
        yield ComponentView(comp, f"container {name!r}", expanded, paths[at + 1 :], missing, name, env, None, image)


def _node_view(res: Resource) -> ComponentView | None:
    obj = res.obj
    comp = obj.get("component")
    if comp not in COMPONENTS:
        return None
    argv = _str_list(obj.get("argv"), ("argv",))
    env: dict[str, tuple[str | None, Path_]] = {}
    if isinstance(obj.get("env"), dict):
        for k, v in obj["env"].items():
            env[str(k)] = (v if isinstance(v, str) else None, ("env", str(k)))
    reason = obj.get("flagsIncomplete") if isinstance(obj.get("flagsIncomplete"), str) else None
    if reason is None and comp == "etcd" and obj.get("envUnreadable") is True:
        reason = (
            "etcd also reads ETCD_* environment variables and the process environment is not readable "
            "(kubefort needs to run as the same user as etcd, or with CAP_SYS_PTRACE)"
        )
    start = 1 if argv else 0
    if argv and posixpath.basename(argv[0]) == "hyperkube":
        start = 2
    return ComponentView(
        comp,
        comp,
        argv[start:],
        [("argv", j) for j in range(start, len(argv))],
        ("argv",),
        None,
        env,
        reason,
        obj.get("image") if isinstance(obj.get("image"), str) else None,
        obj,
    )


# The engine runs every object check on one resource before the next: remembering the last
# Pod's views spares each of the ~60 control-plane checks the command-line analysis.
_last_pod: tuple[Any, list[ComponentView]] | None = None


def _cached_pod_views(res: Resource) -> list[ComponentView]:
    global _last_pod
    if _last_pod is not None and _last_pod[0] is res.obj:
        return _last_pod[1]
    views = list(pod_views(res))
    _last_pod = (res.obj, views)
    return views


def component_view(res: Resource, component: str) -> ComponentView:
    """The view of `component` in a Pod or NodeComponent; NotApplicable when it does not run it."""
    kind = res.id.kind
    if kind == "Pod" and res.id.api_version == "v1":
        for v in _cached_pod_views(res):
            if v.component == component:
                return v
        raise NotApplicable()
    if kind == "NodeComponent" and res.id.api_version == NODE_API:
        node = _node_view(res)
        if node is not None and node.component == component:
            return node
    raise NotApplicable()


def is_node_object(res: Resource, kind: str) -> bool:
    return res.id.kind == kind and res.id.api_version == NODE_API


# ---------------------------------------------------------------------------------------------
# the kubelet: flags over its config file, with the right defaults
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KubeletSetting:
    flag: str | None
    config: tuple[str, ...]
    type: str  # "bool" | "str" | "int" | "duration" | "list"
    default_config: Any  # KubeletConfiguration v1beta1 default (a --config file is used)
    default_flags: Any  # the command-line default (no --config): applyLegacyDefaults keeps some insecure
    zero_default: bool = False  # the config loader replaces a zero value ("" / 0s) with the default


@dataclass(slots=True)
class Setting:
    value: Any
    path: Path_
    origin: str  # "flag" | "config" | "default"
    spelled: str  # "--read-only-port=10255" / "readOnlyPort: 10255" / "default"


_TYPES = {"bool": (bool,), "str": (str,), "int": (int,), "duration": (str,), "list": (list,)}


class KubeletView:
    """The kubelet's effective settings: explicit flags, else its config file(s), else its defaults.

    Defaults differ by how the kubelet starts: with `--config` the KubeletConfiguration v1beta1
    defaults apply (anonymous auth off, Webhook authorization, read-only port 0); without it the
    legacy command-line defaults do (anonymous auth on, AlwaysAllow, read-only port 10255).
    """

    def __init__(
        self,
        flags: ComponentView | None,
        config: dict[str, Any] | None,
        config_base: Path_,
        config_error: str | None,
        uses_config: bool,
        label: str,
    ) -> None:
        self.flags = flags
        self.config = config
        self.config_base = config_base
        self.config_error = config_error
        self.uses_config = uses_config
        self.label = label

    def kw(self) -> dict[str, Any]:
        return self.flags.violation_kw() if self.flags is not None else {}

    def _flag(self, s: KubeletSetting) -> Setting | None:
        if self.flags is None or s.flag is None:
            return None
        f = self.flags.last(s.flag)
        if f is None:
            return None
        p = self.flags.at(f)
        raw = f.value
        if s.type == "bool":
            b = True if raw is None else go_bool(raw)
            if b is None:
                raise NotEvaluated(f"{f.spelled!r} is not a boolean the kubelet accepts; it would refuse to start", p)
            return Setting(b, p, "flag", f.spelled)
        if s.type == "int":
            try:
                return Setting(int(raw or ""), p, "flag", f.spelled)
            except ValueError:
                raise NotEvaluated(f"{f.spelled!r} is not an integer; the kubelet would refuse to start", p) from None
        if s.type == "list":
            return Setting([x for g in self.flags.all(s.flag) for x in split_list(g.value or "")], p, "flag", f.spelled)
        return Setting(raw or "", p, "flag", f.spelled)

    def _config(self, s: KubeletSetting) -> Setting | None:
        if self.config is None:
            return None
        cur: Any = self.config
        for i, k in enumerate(s.config):
            if not isinstance(cur, dict):
                p = self.config_base + s.config[:i]
                raise NotEvaluated(f"{format_path(p)} is not a mapping; the kubelet refuses the file", p)
            if k not in cur:
                return None
            cur = cur[k]
        p = self.config_base + s.config
        if cur is None:
            return None
        want = _TYPES[s.type]
        if not isinstance(cur, want) or (s.type == "int" and isinstance(cur, bool)):
            raise NotEvaluated(
                f"{'.'.join(s.config)} is {cur!r}, not the type the kubelet expects; it refuses the file", p
            )
        spelled = f"{'.'.join(s.config)}: {str(cur).lower() if isinstance(cur, bool) else cur}"
        if s.zero_default and (cur == "" or (s.type == "duration" and go_duration(str(cur)) == 0)):
            return Setting(
                s.default_config, p, "default", f"{spelled} (a zero value, which the kubelet replaces with its default)"
            )
        if s.type == "duration" and go_duration(str(cur)) is None:
            raise NotEvaluated(f"{spelled} is not a Go duration; the kubelet refuses the file", p)
        return Setting(cur, p, "config", spelled)

    def get(self, s: KubeletSetting) -> Setting:
        got = self._flag(s)
        if got is not None:
            return got
        if self.uses_config and self.config is None:
            missing = self.config_base if self.flags is None else (self.flags.missing)
            raise NotEvaluated(
                f"{'.'.join(s.config)} is set by no flag, and the kubelet's config file cannot be read: {self.config_error}",
                missing,
            )
        got = self._config(s)
        if got is not None:
            return got
        if self.flags is not None and self.flags.absent_reason and not self.uses_config:
            self.flags.absent(s.flag or ".".join(s.config))
        default = s.default_config if self.uses_config else s.default_flags
        where = (
            self.config_base
            if self.uses_config
            else (self.flags.missing if self.flags is not None else self.config_base)
        )
        return Setting(default, where, "default", "the default")

    def feature_gate(self, name: str) -> Setting | None:
        """A feature gate's explicit value: --feature-gates over config featureGates (per key, flags win)."""
        if self.flags is not None:
            g = self.flags.gates()
            if name in g:
                return Setting(g[name][0], g[name][1], "flag", f"--feature-gates {name}={str(g[name][0]).lower()}")
        if self.config is not None and isinstance(self.config.get("featureGates"), dict):
            v = self.config["featureGates"].get(name)
            p = self.config_base + ("featureGates", name)
            if v is None:
                return None
            if not isinstance(v, bool):
                raise NotEvaluated(f"featureGates.{name} is {v!r}, not a boolean; the kubelet refuses the file", p)
            return Setting(v, p, "config", f"featureGates.{name}: {str(v).lower()}")
        return None


def kubelet_view(res: Resource) -> KubeletView:
    """The kubelet of a NodeComponent, or a KubeletConfiguration document (scan input); else NotApplicable."""
    if res.id.kind == "KubeletConfiguration" and res.id.api_version.startswith("kubelet.config.k8s.io/"):
        return KubeletView(None, res.obj, (), None, True, f"KubeletConfiguration {res.id.name}")
    if is_node_object(res, "NodeComponent") and res.obj.get("component") == "kubelet":
        flags = component_view(res, "kubelet")
        cfg = res.obj.get("config")
        err = res.obj.get("configError") if isinstance(res.obj.get("configError"), str) else None
        uses = bool(
            flags.last("config") or flags.last("config-dir") or res.obj.get("configFile") or cfg is not None or err
        )
        if cfg is not None and not isinstance(cfg, dict):
            raise NotEvaluated("config is not a mapping; the kubelet refuses the file", ("config",))
        return KubeletView(
            flags, cfg, ("config",), err or ("not part of the input" if uses and cfg is None else None), uses, "kubelet"
        )
    raise NotApplicable()


# ---------------------------------------------------------------------------------------------
# etcd: --config-file, else flags, else ETCD_* environment variables
# ---------------------------------------------------------------------------------------------
def _etcd_config(view: ComponentView, flag: str) -> tuple[bool, Any, Path_]:
    """(uses a config file, value, path): with --config-file etcd ignores flags and environment."""
    cf = view.last("config-file")
    cf_env = view.env.get("ETCD_CONFIG_FILE")
    if cf is None and (cf_env is None or not cf_env[0]):
        return False, None, view.missing
    where = cf.value if cf is not None else cf_env[0] if cf_env else None
    node = view.node
    if node is None or not isinstance(node.get("config"), dict):
        reason = (
            node.get("configError")
            if node is not None and isinstance(node.get("configError"), str)
            else "its content is not part of the input"
        )
        raise NotEvaluated(
            f"etcd reads its settings from --config-file {where} (flags and environment are ignored) and {reason}",
            view.at(cf) if cf is not None else view.missing,
        )
    keys = ETCD_CONFIG_KEYS.get(flag, (flag,))
    cur: Any = node["config"]
    for k in keys:
        cur = cur.get(k) if isinstance(cur, dict) else None
    return True, cur, ("config",) + keys


def etcd_bool(view: ComponentView, flag: str, default: bool = False) -> tuple[bool, Path_]:
    used, value, path = _etcd_config(view, flag)
    if used:
        if value is None:
            return default, path
        if not isinstance(value, bool):
            raise NotEvaluated(
                f"{'.'.join(map(str, path[1:]))} is {value!r}, not a boolean; etcd refuses the file", path
            )
        return value, path
    return view.boolean(flag, default)


def etcd_str(view: ComponentView, flag: str) -> tuple[str | None, Path_]:
    used, value, path = _etcd_config(view, flag)
    if used:
        if value is not None and not isinstance(value, str):
            raise NotEvaluated(
                f"{'.'.join(map(str, path[1:]))} is {value!r}, not a string; etcd refuses the file", path
            )
        return value, path
    return view.string(flag)
