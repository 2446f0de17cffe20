"""KF-CP: the control plane: kube-apiserver, kube-controller-manager and kube-scheduler flags,
the control-plane files (CIS 1.1, 1.2, 1.3, 1.4, 3.2), encryption at rest, audit policy, TLS and
certificate expiry.

Flag checks run on static-pod manifests in `kubefort scan` input (a Pod whose container runs the
component) and on the `NodeComponent` objects `kubefort node` builds from what a node runs. File
checks run on `NodeFile` objects (`kubefort node` only). Each check judges the value the component
actually uses: the flag when given, else the component's compiled-in default.

The helpers at the top (`node_check`, `file_mode_check`, `file_owner_check`) are shared with
`etcd.py` and `kubelet.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubefort.kube.flags import ComponentView, component_view, is_node_object
from kubefort.kube.pods import type_name
from kubefort.model import NotApplicable, NotEvaluated, Resource, Severity, Violation
from kubefort.registry import Mappings, check

NODE_KINDS = ("Pod", "NodeComponent")
FILE_KINDS = ("NodeFile",)
OWASP_CONFIG = ("K09",)  # OWASP Kubernetes Top 10: Misconfigured Cluster Components
NSA_CP = ("NSA-CISA Kubernetes Hardening Guide: control plane hardening",)
KF_NODE_DOC = "kubefort docs/node.md: how `kubefort node` finds what a component runs with"


# ---------------------------------------------------------------------------------------------
# shared helpers (also used by etcd.py and kubelet.py)
# ---------------------------------------------------------------------------------------------
def doc(what: str, why: str, example: str, fix: str, refs: tuple[str, ...], extra: str = "") -> str:
    """A check docstring with ruff-style sections."""
    parts = ["## What it does", what.strip(), "", "## Why is this bad?", why.strip(), "", "## Example", example.strip(), "",
             "## How to fix", fix.strip(), ""]
    if extra:
        parts += [extra.strip(), ""]
    parts += ["## References"] + [f"- {r}" for r in refs]
    return "\n".join(parts)


def pod_example(component: str, *flags: str) -> str:
    lines = ["```yaml", f"# /etc/kubernetes/manifests/{component}.yaml (static pod)", "spec:", "  containers:",
             f"  - name: {component}", "    command:", f"    - {component}"]
    lines += [f"    - {f}" for f in flags]
    return "\n".join(lines + ["```"])


def cis_ref(cis: tuple[str, ...], manual: bool = False) -> str:
    return f"CIS Kubernetes Benchmark {', '.join(cis)}" + (" (Manual in CIS 1.12; kubefort checks the mechanical part)" if manual else "")


def node_check(*, id: str, name: str, title: str, severity: Severity, kinds: tuple[str, ...], remediation: str, what: str, why: str,
               example: str, fix: str, cis: tuple[str, ...] = (), manual: bool = False, peers: dict[str, tuple[str, ...]] | None = None,
               refs: tuple[str, ...] = (), extra: str = "", mitre: tuple[str, ...] = (), owasp: tuple[str, ...] = OWASP_CONFIG,
               nsa: tuple[str, ...] = NSA_CP, options: type | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an object check on node objects with a composed docstring and mappings."""
    peers = peers or {}

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        all_refs = ((cis_ref(cis, manual),) if cis else ()) + refs
        fn.__doc__ = doc(what, why, example, fix, all_refs, extra)
        fn.__name__ = fn.__qualname__ = name.replace("-", "_")
        maps = Mappings(cis=cis, nsa=nsa, mitre=mitre, owasp=owasp, trivy=peers.get("trivy", ()),
                        checkov=peers.get("checkov", ()), kubescape=peers.get("kubescape", ()))
        return check(id=id, name=name, title=title, severity=severity, target="object", kinds=kinds, mappings=maps,
                     remediation=remediation, options=options)(fn)

    return deco


def node_file(res: Resource, role: str) -> dict[str, Any]:
    """A NodeFile that plays `role` (NotApplicable otherwise); NotEvaluated when it could not be inspected."""
    if not is_node_object(res, "NodeFile"):
        raise NotApplicable()
    roles = res.obj.get("roles")
    if not isinstance(roles, list) or role not in roles:
        raise NotApplicable()
    if isinstance(res.obj.get("error"), str):
        raise NotEvaluated(res.obj["error"], ("path",))
    return res.obj


def file_mode(obj: dict[str, Any]) -> int:
    m = obj.get("mode")
    if isinstance(m, int) and not isinstance(m, bool):
        return m  # YAML 0600 is read as an octal integer
    if isinstance(m, str):
        try:
            return int(m, 8)
        except ValueError:
            pass
    raise NotEvaluated(f"mode is {type_name(m)} ({m!r}), expected an octal string such as \"0600\"", ("mode",))


def file_mode_check(*, id: str, name: str, title: str, severity: Severity, role: str, limit: int, what_file: str, why: str,
                    cis: tuple[str, ...], peers: dict[str, tuple[str, ...]], manual: bool = False, example_path: str,
                    mitre: tuple[str, ...] = ("T1552.001",), owasp: tuple[str, ...] = OWASP_CONFIG) -> None:
    """Register `mode must not exceed limit` for the NodeFiles with `role`."""
    def fn(res: Resource, ctx: object) -> Iterator[Violation]:
        f = node_file(res, role)
        mode = file_mode(f)
        extra = mode & ~limit & 0o7777
        if extra:
            yield Violation(f"{f.get('path')} has mode {mode:04o}; {what_file} must be {limit:o} or more restrictive", ("mode",))

    kind = "directory" if "dir" in role else "file"
    node_check(
        id=id, name=name, title=title, severity=severity, kinds=FILE_KINDS, cis=cis, manual=manual, peers=peers, mitre=mitre, owasp=owasp,
        remediation=f"Run chmod {limit:o} on the {kind} named in the finding.",
        what=f"Flags {what_file} when its permission bits allow more than `{limit:o}` (any bit outside `{limit:04o}`). "
             "Runs in `kubefort node` on the files the node really uses.",
        why=why,
        example=f"```console\n$ stat -c '%a %U:%G %n' {example_path}\n{limit | 0o044:o} root:root {example_path}\n```",
        fix=f"```console\n$ chmod {limit:o} {example_path}\n```",
    )(fn)


def file_owner_check(*, id: str, name: str, title: str, severity: Severity, role: str, what_file: str, why: str,
                     cis: tuple[str, ...], peers: dict[str, tuple[str, ...]], manual: bool = False, example_path: str,
                     owner: str = "root", mitre: tuple[str, ...] = ("T1552.001",)) -> None:
    """Register `owner:group must be owner:owner` for the NodeFiles with `role`."""
    def fn(res: Resource, ctx: object) -> Iterator[Violation]:
        f = node_file(res, role)
        uid, gid = f.get("uid"), f.get("gid")
        if not isinstance(uid, int) or not isinstance(gid, int):
            raise NotEvaluated(f"uid/gid of {f.get('path')} are {uid!r}/{gid!r}, expected numbers", ("uid",))
        user, group = f.get("user"), f.get("group")
        if owner == "root":
            # root is uid/gid 0 on every system, with or without /etc/passwd
            if (uid, gid) != (0, 0):
                yield Violation(f"{f.get('path')} is owned by {user or uid}:{group or gid}, not root:root", ("uid",))
            return
        got_user = user if isinstance(user, str) else None
        got_group = group if isinstance(group, str) else None
        if (got_user is None and uid != 0) or (got_group is None and gid != 0):
            raise NotEvaluated(f"{f.get('path')} is owned by {uid}:{gid}, which the node's /etc/passwd and /etc/group do not name", ("uid",))
        u, g = got_user or "root", got_group or "root"
        if (u, g) != (owner, owner):
            yield Violation(f"{f.get('path')} is owned by {u}:{g}, not {owner}:{owner}", ("uid",))

    node_check(
        id=id, name=name, title=title, severity=severity, kinds=FILE_KINDS, cis=cis, manual=manual, peers=peers, mitre=mitre,
        remediation=f"Run chown {owner}:{owner} on the file named in the finding.",
        what=f"Flags {what_file} when it is not owned by `{owner}:{owner}`. User and group names come from the node's "
             "`/etc/passwd` and `/etc/group` (under `--root`); uid/gid 0 is root everywhere.",
        why=why,
        example=f"```console\n$ stat -c '%U:%G %n' {example_path}\nubuntu:ubuntu {example_path}\n```",
        fix=f"```console\n$ chown {owner}:{owner} {example_path}\n```",
    )(fn)


def viol(v: ComponentView, message: str, path: Any) -> Violation:
    return Violation(message, path, v.container)


def _api(res: Resource) -> ComponentView:
    return component_view(res, "kube-apiserver")


def flag_set_check(component: str, *flags: str) -> Callable[[Resource, object], Iterator[Violation]]:
    def fn(res: Resource, ctx: object) -> Iterator[Violation]:
        v = component_view(res, component)
        for f in flags:
            ok, p = v.is_set(f)
            if not ok:
                yield viol(v, f"--{f} is not set", p)
    return fn


def bool_flag_check(component: str, flag: str, want: bool, default: bool, default_note: str) -> Callable[[Resource, object], Iterator[Violation]]:
    def fn(res: Resource, ctx: object) -> Iterator[Violation]:
        v = component_view(res, component)
        got, p = v.boolean(flag, default)
        if got != want:
            f = v.last(flag)
            if f is None:
                yield viol(v, f"--{flag} is not set; {default_note}", p)
            elif f.spelled == f"--{flag}={str(got).lower()}":
                yield viol(v, f.spelled, p)
            else:
                yield viol(v, f"{f.spelled} means --{flag}={str(got).lower()}", p)
    return fn


def int_at_least_check(component: str, flag: str, minimum: int) -> Callable[[Resource, object], Iterator[Violation]]:
    def fn(res: Resource, ctx: object) -> Iterator[Violation]:
        v = component_view(res, component)
        n, p = v.integer(flag)
        if n is None:
            yield viol(v, f"--{flag} is not set (it must be at least {minimum})", p)
        elif n < minimum:
            yield viol(v, f"--{flag}={n} is below {minimum}", p)
    return fn


def admission_plugins(v: ComponentView) -> tuple[dict[str, Any], dict[str, Any]]:
    """(enabled, disabled) admission plugins with the path of the flag naming each."""
    enabled = {name: p for name, p in v.items("enable-admission-plugins")[0]}
    for name, p in v.items("admission-control")[0] if v.last("admission-control") else []:  # the deprecated spelling
        enabled.setdefault(name, p)
    disabled = {name: p for name, p in v.items("disable-admission-plugins")[0]}
    return enabled, disabled


def plugin_enabled_check(plugin: str) -> Callable[[Resource, object], Iterator[Violation]]:
    def fn(res: Resource, ctx: object) -> Iterator[Violation]:
        v = _api(res)
        enabled, disabled = admission_plugins(v)
        if plugin in disabled:
            yield viol(v, f"--disable-admission-plugins disables {plugin}", disabled[plugin])
        elif plugin not in enabled:
            f = v.last("enable-admission-plugins")
            yield viol(v, f"--enable-admission-plugins does not include {plugin}", v.at(f))
    return fn


def plugin_not_disabled_check(plugin: str) -> Callable[[Resource, object], Iterator[Violation]]:
    def fn(res: Resource, ctx: object) -> Iterator[Violation]:
        v = _api(res)
        _, disabled = admission_plugins(v)
        if plugin in disabled:
            yield viol(v, f"--disable-admission-plugins disables {plugin}", disabled[plugin])
    return fn


API_REF = "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/"
KCM_REF = "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/"
SCHED_REF = "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/"


# ---------------------------------------------------------------------------------------------
# 1.1 control-plane files
# ---------------------------------------------------------------------------------------------
_MANIFEST_WHY = ("The static-pod manifest is the component's whole configuration: whoever can write it changes the "
                 "component's flags (turns off authorization, adds a token file) and the kubelet restarts it at once; "
                 "read access exposes the flags and file paths an attacker needs.")
for _i, (_comp, _short, _cis_mode, _cis_own, _pm, _po) in enumerate((
    ("kube-apiserver", "apiserver", "1.1.1", "1.1.2", {"kubescape": ("C-0092",), "trivy": ("KCV-0048",)}, {"kubescape": ("C-0093",), "trivy": ("KCV-0049",)}),
    ("kube-controller-manager", "controller-manager", "1.1.3", "1.1.4", {"kubescape": ("C-0094",), "trivy": ("KCV-0050",)}, {"kubescape": ("C-0095",), "trivy": ("KCV-0051",)}),
    ("kube-scheduler", "scheduler", "1.1.5", "1.1.6", {"kubescape": ("C-0096",), "trivy": ("KCV-0052",)}, {"kubescape": ("C-0097",), "trivy": ("KCV-0053",)}),
)):
    file_mode_check(id=f"KF-CP-{2 * _i + 1:03d}", name=f"{_short}-manifest-permissive-mode", title=f"{_comp} static-pod manifest is more permissive than 600",
                    severity=Severity.HIGH, role=f"{_comp}-manifest", limit=0o600, what_file=f"the {_comp} static-pod manifest",
                    why=_MANIFEST_WHY, cis=(_cis_mode,), peers=_pm, example_path=f"/etc/kubernetes/manifests/{_comp}.yaml")
    file_owner_check(id=f"KF-CP-{2 * _i + 2:03d}", name=f"{_short}-manifest-not-root-owned", title=f"{_comp} static-pod manifest is not owned by root:root",
                     severity=Severity.HIGH, role=f"{_comp}-manifest", what_file=f"the {_comp} static-pod manifest",
                     why=_MANIFEST_WHY + " A non-root owner can rewrite it without any privilege.", cis=(_cis_own,), peers=_po,
                     example_path=f"/etc/kubernetes/manifests/{_comp}.yaml")

file_mode_check(id="KF-CP-007", name="cni-config-permissive-mode", title="CNI configuration file is more permissive than 600", severity=Severity.MEDIUM,
                role="cni-config", limit=0o600, what_file="a CNI configuration file (/etc/cni/net.d, the kubelet's --cni-conf-dir)",
                why="The CNI configuration decides how every pod is wired to the network; a writable file lets a local user "
                    "re-route pod traffic or disable network policy enforcement, and it may hold credentials for the CNI's datastore.",
                cis=("1.1.9",), manual=True, peers={"kubescape": ("C-0100",), "trivy": ("KCV-0056",)}, example_path="/etc/cni/net.d/10-calico.conflist",
                mitre=())
file_owner_check(id="KF-CP-008", name="cni-config-not-root-owned", title="CNI configuration file is not owned by root:root", severity=Severity.MEDIUM,
                 role="cni-config", what_file="a CNI configuration file",
                 why="A CNI configuration owned by another user can be rewritten by that user without privileges, which re-routes pod traffic.",
                 cis=("1.1.10",), manual=True, peers={"kubescape": ("C-0101",), "trivy": ("KCV-0057",)}, example_path="/etc/cni/net.d/10-calico.conflist",
                 mitre=())
_KCFG_WHY = ("The kubeconfig holds a client certificate and key: whoever reads it acts as that identity against the API server"
             " ({who}).")
for _n, (_role, _label, _cis_mode, _cis_own, _pm, _po, _path, _who, _sev) in enumerate((
    ("admin-kubeconfig", "admin kubeconfig (admin.conf, super-admin.conf)", "1.1.13", "1.1.14",
     {"kubescape": ("C-0104",), "trivy": ("KCV-0060",)}, {"kubescape": ("C-0105",), "trivy": ("KCV-0061",)},
     "/etc/kubernetes/admin.conf", "cluster-admin; super-admin.conf even bypasses RBAC through system:masters", Severity.CRITICAL),
    ("scheduler-kubeconfig", "scheduler kubeconfig (scheduler.conf)", "1.1.15", "1.1.16",
     {"kubescape": ("C-0106",), "trivy": ("KCV-0062",)}, {"kubescape": ("C-0107",), "trivy": ("KCV-0063",)},
     "/etc/kubernetes/scheduler.conf", "system:kube-scheduler, which binds pods to nodes", Severity.HIGH),
    ("controller-manager-kubeconfig", "controller-manager kubeconfig (controller-manager.conf)", "1.1.17", "1.1.18",
     {"kubescape": ("C-0108",), "trivy": ("KCV-0064",)}, {"kubescape": ("C-0109",), "trivy": ("KCV-0065",)},
     "/etc/kubernetes/controller-manager.conf", "system:kube-controller-manager, which reads every Secret", Severity.HIGH),
)):
    _short = _role.removesuffix("-kubeconfig")
    file_mode_check(id=f"KF-CP-{9 + 2 * _n:03d}", name=f"{_short}-kubeconfig-permissive-mode", title=f"The {_label} is more permissive than 600",
                    severity=_sev, role=_role, limit=0o600, what_file=f"the {_label}", why=_KCFG_WHY.format(who=_who),
                    cis=(_cis_mode,), peers=_pm, example_path=_path)
    file_owner_check(id=f"KF-CP-{10 + 2 * _n:03d}", name=f"{_short}-kubeconfig-not-root-owned", title=f"The {_label} is not owned by root:root",
                     severity=_sev, role=_role, what_file=f"the {_label}", why=_KCFG_WHY.format(who=_who) + " Its owner can read it.",
                     cis=(_cis_own,), peers=_po, example_path=_path)
file_owner_check(id="KF-CP-015", name="pki-not-root-owned", title="A file or directory under the Kubernetes PKI directory is not owned by root:root",
                 severity=Severity.HIGH, role="pki", what_file="the PKI directory (/etc/kubernetes/pki) or a file in it",
                 why="The PKI directory holds the cluster CA keys, the service-account signing key and the etcd keys: "
                     "their owner can mint any identity in the cluster.",
                 cis=("1.1.19",), peers={"kubescape": ("C-0110",), "trivy": ("KCV-0066",)}, example_path="/etc/kubernetes/pki/ca.key")
file_mode_check(id="KF-CP-016", name="pki-certificate-permissive-mode", title="A PKI certificate file is more permissive than 644",
                severity=Severity.MEDIUM, role="pki-cert", limit=0o644, what_file="a certificate file (*.crt) under the PKI directory",
                why="Certificates are public, but a group- or world-writable certificate can be replaced: a swapped CA "
                    "certificate makes components trust an attacker's certificates.",
                cis=("1.1.20",), manual=True, peers={"kubescape": ("C-0111",), "trivy": ("KCV-0068",)}, example_path="/etc/kubernetes/pki/apiserver.crt",
                mitre=())
file_mode_check(id="KF-CP-017", name="pki-key-permissive-mode", title="A PKI private key file is more permissive than 600",
                severity=Severity.CRITICAL, role="pki-key", limit=0o600, what_file="a private key file (*.key) under the PKI directory",
                why="Whoever reads ca.key signs client certificates for any user or group (system:masters included); sa.key "
                    "mints service-account tokens; etcd keys open the datastore with every Secret.",
                cis=("1.1.21",), manual=True, peers={"kubescape": ("C-0112",), "trivy": ("KCV-0067",)}, example_path="/etc/kubernetes/pki/ca.key")


# ---------------------------------------------------------------------------------------------
# 1.2 API server
# ---------------------------------------------------------------------------------------------
def _config_file(v: ComponentView, flag: str) -> dict[str, Any]:
    """The parsed content of a structured config named by `flag`; NotEvaluated when unavailable."""
    f = v.last(flag)
    entry = v.file(flag)
    if entry is None:
        raise NotEvaluated(f"--{flag}={f.value if f else ''} names a file that is not part of the input; "
                           "`kubefort node` reads it on the node", v.at(f))
    if "error" in entry:
        raise NotEvaluated(str(entry["error"]), v.at(f))
    content = entry.get("content")
    if not isinstance(content, dict):
        raise NotEvaluated(f"{entry.get('path')} is {type_name(content)}, not a configuration mapping", v.at(f))
    return content


@node_check(
    id="KF-CP-018", name="apiserver-anonymous-auth", title="API server accepts anonymous requests", severity=Severity.HIGH, kinds=NODE_KINDS,
    cis=("1.2.1",), manual=True, peers={"trivy": ("KCV-0001",), "checkov": ("CKV_K8S_68",), "kubescape": ("C-0113", "C-0262")}, mitre=("T1078",), owasp=("K06", "K09"),
    remediation="Set --anonymous-auth=false, or (Kubernetes 1.32+) allow anonymous requests only to health endpoints with an AuthenticationConfiguration `anonymous.conditions`.",
    what="Flags an API server that authenticates unauthenticated requests as `system:anonymous`: `--anonymous-auth` is true or "
         "absent (its default is true), or the `--authentication-config` file enables `anonymous` without `conditions`.",
    why="Every request without credentials gets the `system:anonymous` identity. RBAC then decides, and one careless binding "
        "to `system:anonymous` or `system:unauthenticated` opens the cluster to the network.",
    example=pod_example("kube-apiserver", "--anonymous-auth=true"), fix=pod_example("kube-apiserver", "--anonymous-auth=false"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests"),
    extra="CIS 1.12 made this control manual because load balancers may need anonymous health checks; with Kubernetes 1.32+ "
          "restrict anonymous access to `/healthz`, `/livez` and `/readyz` instead (kubefort passes that).",
)
def apiserver_anonymous_auth(res: Resource, ctx: object) -> Iterator[Violation]:
    v = _api(res)
    if v.last("anonymous-auth") is None and v.last("authentication-config") is not None:
        cfg = _config_file(v, "authentication-config")
        anon = cfg.get("anonymous")
        if isinstance(anon, dict):
            if anon.get("enabled") is True and not anon.get("conditions"):
                yield viol(v, "the --authentication-config file enables anonymous requests to every path", v.at(v.last("authentication-config")))
            return
    on, p = v.boolean("anonymous-auth", True)
    if on:
        yield viol(v, "--anonymous-auth is not set; the API server accepts anonymous requests by default" if v.last("anonymous-auth") is None
                   else "--anonymous-auth=true", p)


node_check(
    id="KF-CP-019", name="apiserver-token-auth-file", title="API server authenticates with a static token file", severity=Severity.HIGH, kinds=NODE_KINDS,
    cis=("1.2.2",), peers={"trivy": ("KCV-0002",), "checkov": ("CKV_K8S_70",), "kubescape": ("C-0114",)}, mitre=("T1078",), owasp=("K06", "K09"),
    remediation="Remove --token-auth-file; authenticate users with OIDC, webhook or client certificates and services with service accounts.",
    what="Flags an API server started with `--token-auth-file`.",
    why="Static tokens live in clear text on the control-plane node, never expire and can only be changed by restarting the "
        "API server: a leaked token stays valid indefinitely.",
    example=pod_example("kube-apiserver", "--token-auth-file=/etc/kubernetes/tokens.csv"),
    fix=pod_example("kube-apiserver", "--authentication-config=/etc/kubernetes/authn.yaml   # OIDC / JWT instead"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#static-token-file"),
)(lambda res, ctx: _token_file(res))


def _token_file(res: Resource) -> Iterator[Violation]:
    v = _api(res)
    f = v.last("token-auth-file")
    if f is not None and f.value:
        yield viol(v, f"--token-auth-file is set ({f.value})", v.at(f))


node_check(
    id="KF-CP-020", name="apiserver-service-external-ips-allowed", title="API server lets Services set externalIPs (DenyServiceExternalIPs is off)",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.2.3",), manual=True, peers={"trivy": ("KCV-0003",), "kubescape": ("C-0283",)}, mitre=("T1557",),
    remediation="Add DenyServiceExternalIPs to --enable-admission-plugins (and review the Services that already set externalIPs).",
    what="Flags an API server without the `DenyServiceExternalIPs` admission plugin.",
    why="Anyone allowed to create a Service can claim any IP in `externalIPs` and intercept traffic meant for it "
        "(CVE-2020-8554); the plugin rejects new uses of the field.",
    example=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction"),
    fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction,DenyServiceExternalIPs"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#denyserviceexternalips"),
)(plugin_enabled_check("DenyServiceExternalIPs"))
node_check(
    id="KF-CP-021", name="apiserver-kubelet-client-cert-missing", title="API server presents no client certificate to kubelets",
    severity=Severity.HIGH, kinds=NODE_KINDS, cis=("1.2.4",), peers={"trivy": ("KCV-0005",), "checkov": ("CKV_K8S_72",), "kubescape": ("C-0116",)},
    remediation="Set --kubelet-client-certificate and --kubelet-client-key to a client certificate the kubelets trust.",
    what="Flags an API server without `--kubelet-client-certificate` or `--kubelet-client-key`.",
    why="Without a client certificate the API server cannot authenticate to the kubelets, so kubelets have to accept "
        "unauthenticated requests for exec, logs and port-forward to work.",
    example=pod_example("kube-apiserver", "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt"),
    fix=pod_example("kube-apiserver", "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
                    "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key"),
    refs=(API_REF, "https://kubernetes.io/docs/concepts/security/controlling-access/"),
)(flag_set_check("kube-apiserver", "kubelet-client-certificate", "kubelet-client-key"))
node_check(
    id="KF-CP-022", name="apiserver-kubelet-ca-missing", title="API server does not verify kubelet serving certificates",
    severity=Severity.HIGH, kinds=NODE_KINDS, cis=("1.2.5",), peers={"trivy": ("KCV-0006",), "checkov": ("CKV_K8S_73",), "kubescape": ("C-0117",)}, mitre=("T1557",),
    remediation="Set --kubelet-certificate-authority to the CA that signs the kubelets' serving certificates (enable serverTLSBootstrap on the kubelets).",
    what="Flags an API server without `--kubelet-certificate-authority`.",
    why="The API server then connects to kubelets without checking their certificates, so anyone on the path between "
        "them can impersonate a kubelet and read exec sessions, logs and the credentials sent through them.",
    example=pod_example("kube-apiserver", "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt"),
    fix=pod_example("kube-apiserver", "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-tls-bootstrapping/#certificate-rotation"),
)(flag_set_check("kube-apiserver", "kubelet-certificate-authority"))


def authorization_modes(v: ComponentView) -> tuple[list[str], Any]:
    """The API server's authorizers: --authorization-mode (default AlwaysAllow) or the --authorization-config file."""
    if v.last("authorization-config") is not None and v.last("authorization-mode") is None:
        cfg = _config_file(v, "authorization-config")
        auths = cfg.get("authorizers")
        if not isinstance(auths, list):
            raise NotEvaluated("the --authorization-config file has no authorizers list", v.at(v.last("authorization-config")))
        return [a.get("type") for a in auths if isinstance(a, dict) and isinstance(a.get("type"), str)], v.at(v.last("authorization-config"))
    items, given = v.items("authorization-mode")
    if not given:
        return ["AlwaysAllow"], v.missing
    return [m for m, _ in items], v.at(v.last("authorization-mode"))


def _authz(res: Resource, mode: str, present: bool) -> Iterator[Violation]:
    v = _api(res)
    modes, p = authorization_modes(v)
    default = "" if v.last("authorization-mode") or v.last("authorization-config") else " (--authorization-mode is not set; it defaults to AlwaysAllow)"
    if present and mode not in modes:
        yield viol(v, f"authorization modes {','.join(modes)} do not include {mode}{default}", p)
    if not present and mode in modes:
        yield viol(v, f"authorization modes include {mode}{default}", p)


_AUTHZ_WHAT = "Reads `--authorization-mode` (default `AlwaysAllow`) or the authorizers of the `--authorization-config` file."
node_check(
    id="KF-CP-023", name="apiserver-authorization-always-allow", title="API server authorizes every request (AlwaysAllow)", severity=Severity.CRITICAL,
    kinds=NODE_KINDS, cis=("1.2.6",), peers={"trivy": ("KCV-0007",), "checkov": ("CKV_K8S_74",), "kubescape": ("C-0118",)}, mitre=("T1078",), owasp=("K03", "K09"),
    remediation="Set --authorization-mode=Node,RBAC (never AlwaysAllow).",
    what="Flags an API server whose authorizers include `AlwaysAllow`. " + _AUTHZ_WHAT,
    why="With AlwaysAllow every authenticated request (and every anonymous one, when anonymous auth is on) is allowed: RBAC is not consulted.",
    example=pod_example("kube-apiserver", "--authorization-mode=AlwaysAllow"), fix=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/authorization/"),
)(lambda res, ctx: _authz(res, "AlwaysAllow", False))
node_check(
    id="KF-CP-024", name="apiserver-authorization-node-missing", title="API server does not use the Node authorizer", severity=Severity.HIGH,
    kinds=NODE_KINDS, cis=("1.2.7",), peers={"trivy": ("KCV-0008",), "checkov": ("CKV_K8S_75",), "kubescape": ("C-0119",)}, owasp=("K03", "K09"),
    remediation="Add Node to --authorization-mode (Node,RBAC).",
    what="Flags an API server whose authorizers do not include `Node`. " + _AUTHZ_WHAT,
    why="The Node authorizer limits each kubelet to the Secrets, ConfigMaps and volumes of the pods bound to its node; "
        "without it a compromised node's credentials read objects of the whole cluster.",
    example=pod_example("kube-apiserver", "--authorization-mode=RBAC"), fix=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/node/"),
)(lambda res, ctx: _authz(res, "Node", True))
node_check(
    id="KF-CP-025", name="apiserver-authorization-rbac-missing", title="API server does not use RBAC authorization", severity=Severity.HIGH,
    kinds=NODE_KINDS, cis=("1.2.8",), peers={"trivy": ("KCV-0009",), "checkov": ("CKV_K8S_77",), "kubescape": ("C-0120", "C-0088")}, owasp=("K03", "K09"),
    remediation="Add RBAC to --authorization-mode (Node,RBAC).",
    what="Flags an API server whose authorizers do not include `RBAC`. " + _AUTHZ_WHAT,
    why="Without RBAC, Roles and ClusterRoles are ignored: access is whatever the remaining authorizers allow, usually far too much.",
    example=pod_example("kube-apiserver", "--authorization-mode=Node"), fix=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/rbac/"),
)(lambda res, ctx: _authz(res, "RBAC", True))
node_check(
    id="KF-CP-026", name="apiserver-event-rate-limit-missing", title="API server does not rate-limit events (EventRateLimit is off)", severity=Severity.LOW,
    kinds=NODE_KINDS, cis=("1.2.9",), manual=True, peers={"trivy": ("KCV-0010",), "checkov": ("CKV_K8S_78",), "kubescape": ("C-0121",)}, owasp=("K09",),
    remediation="Add EventRateLimit to --enable-admission-plugins and configure its limits with --admission-control-config-file.",
    what="Flags an API server without the `EventRateLimit` admission plugin.",
    why="A flood of Events from one namespace or user fills etcd and slows the API server for everyone.",
    example=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction"),
    fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction,EventRateLimit",
                    "--admission-control-config-file=/etc/kubernetes/admission.yaml"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#eventratelimit"),
    extra="CIS leaves the limits to the operator (manual); kubefort checks that the plugin is on, not its configuration.",
)(plugin_enabled_check("EventRateLimit"))


def _always_admit(res: Resource, ctx: object) -> Iterator[Violation]:
    v = _api(res)
    enabled, _ = admission_plugins(v)
    if "AlwaysAdmit" in enabled:
        yield viol(v, "the AlwaysAdmit admission plugin is enabled", enabled["AlwaysAdmit"])


node_check(
    id="KF-CP-027", name="apiserver-always-admit", title="API server enables the AlwaysAdmit admission plugin", severity=Severity.CRITICAL,
    kinds=NODE_KINDS, cis=("1.2.10",), peers={"trivy": ("KCV-0011",), "checkov": ("CKV_K8S_79",), "kubescape": ("C-0122",)},
    remediation="Remove AlwaysAdmit from --enable-admission-plugins.",
    what="Flags `AlwaysAdmit` in `--enable-admission-plugins` (or the deprecated `--admission-control`).",
    why="AlwaysAdmit (deprecated) admits every request, so admission chains that enforce policy stop meaning anything.",
    example=pod_example("kube-apiserver", "--enable-admission-plugins=AlwaysAdmit,NodeRestriction"),
    fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#alwaysadmit"),
)(_always_admit)
node_check(
    id="KF-CP-028", name="apiserver-always-pull-images-missing", title="API server does not force image pulls (AlwaysPullImages is off)",
    severity=Severity.LOW, kinds=NODE_KINDS, cis=("1.2.11",), manual=True, peers={"trivy": ("KCV-0012",), "checkov": ("CKV_K8S_80",), "kubescape": ("C-0123",)},
    owasp=("K08", "K09"),
    remediation="Add AlwaysPullImages to --enable-admission-plugins (on multi-tenant clusters).",
    what="Flags an API server without the `AlwaysPullImages` admission plugin.",
    why="Without it a pod can use a private image another tenant already pulled onto the node, skipping the registry's "
        "authorization (its pull secret).",
    example=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction"),
    fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction,AlwaysPullImages"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#alwayspullimages"),
    extra="CIS marks it manual: it makes every pod start depend on the registry. On single-tenant clusters an exception with "
          "a reason is appropriate.",
)(plugin_enabled_check("AlwaysPullImages"))
node_check(
    id="KF-CP-029", name="apiserver-serviceaccount-plugin-disabled", title="API server disables the ServiceAccount admission plugin",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.2.12",), peers={"trivy": ("KCV-0014",), "checkov": ("CKV_K8S_82",), "kubescape": ("C-0125",)},
    remediation="Remove ServiceAccount from --disable-admission-plugins.",
    what="Flags `ServiceAccount` in `--disable-admission-plugins`.",
    why="The plugin makes sure pods run as a service account that exists in their namespace and mounts bound tokens; "
        "without it pods can name service accounts that do not exist yet and tokens are not managed.",
    example=pod_example("kube-apiserver", "--disable-admission-plugins=ServiceAccount"), fix=pod_example("kube-apiserver", "# no --disable-admission-plugins"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#serviceaccount"),
)(plugin_not_disabled_check("ServiceAccount"))
node_check(
    id="KF-CP-030", name="apiserver-namespace-lifecycle-disabled", title="API server disables the NamespaceLifecycle admission plugin",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.2.13",), peers={"trivy": ("KCV-0015",), "checkov": ("CKV_K8S_83",), "kubescape": ("C-0126",)},
    remediation="Remove NamespaceLifecycle from --disable-admission-plugins.",
    what="Flags `NamespaceLifecycle` in `--disable-admission-plugins`.",
    why="The plugin refuses objects in namespaces that are being deleted or do not exist and protects default, kube-system "
        "and kube-public from deletion.",
    example=pod_example("kube-apiserver", "--disable-admission-plugins=NamespaceLifecycle"), fix=pod_example("kube-apiserver", "# no --disable-admission-plugins"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#namespacelifecycle"),
)(plugin_not_disabled_check("NamespaceLifecycle"))
node_check(
    id="KF-CP-031", name="apiserver-node-restriction-missing", title="API server does not restrict kubelets (NodeRestriction is off)",
    severity=Severity.HIGH, kinds=NODE_KINDS, cis=("1.2.14",), peers={"trivy": ("KCV-0016",), "checkov": ("CKV_K8S_85",), "kubescape": ("C-0127",)},
    remediation="Add NodeRestriction to --enable-admission-plugins (and keep Node in --authorization-mode).",
    what="Flags an API server without the `NodeRestriction` admission plugin.",
    why="NodeRestriction limits each kubelet to modifying its own Node object and the pods bound to it; without it one "
        "compromised node relabels other nodes to attract sensitive workloads.",
    example=pod_example("kube-apiserver", "--enable-admission-plugins=DenyServiceExternalIPs"),
    fix=pod_example("kube-apiserver", "--enable-admission-plugins=NodeRestriction,DenyServiceExternalIPs"),
    refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#noderestriction"),
)(plugin_enabled_check("NodeRestriction"))

_PROFILING_WHY = ("The profiling endpoints (/debug/pprof) reveal the program's internals and can be used to slow the "
                  "component down; they are a debugging aid that a production control plane does not need.")
node_check(
    id="KF-CP-032", name="apiserver-profiling-enabled", title="API server exposes profiling endpoints", severity=Severity.LOW, kinds=NODE_KINDS,
    cis=("1.2.15",), peers={"trivy": ("KCV-0018",), "checkov": ("CKV_K8S_90",), "kubescape": ("C-0129",)},
    remediation="Set --profiling=false.", what="Flags an API server with `--profiling` true or absent (default true).", why=_PROFILING_WHY,
    example=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"), fix=pod_example("kube-apiserver", "--profiling=false"), refs=(API_REF,),
)(bool_flag_check("kube-apiserver", "profiling", False, True, "profiling is on by default"))
node_check(
    id="KF-CP-033", name="apiserver-audit-log-missing", title="API server writes no audit log", severity=Severity.HIGH, kinds=NODE_KINDS,
    cis=("1.2.16",), peers={"trivy": ("KCV-0019",), "checkov": ("CKV_K8S_91",), "kubescape": ("C-0130", "C-0067")}, owasp=("K05",),
    remediation="Set --audit-log-path (and --audit-policy-file) so the API server records who did what.",
    what="Flags an API server without `--audit-log-path`.",
    why="Without an audit log there is no record of who read Secrets, exec'ed into pods or changed RBAC, so an incident cannot be investigated.",
    example=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
    fix=pod_example("kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-policy-file=/etc/kubernetes/audit-policy.yaml"),
    refs=(API_REF, "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/"),
)(flag_set_check("kube-apiserver", "audit-log-path"))
for _id, _flag, _min, _cis, _peers, _title, _why in (
    ("KF-CP-034", "audit-log-maxage", 30, "1.2.17", {"trivy": ("KCV-0020",), "checkov": ("CKV_K8S_92",), "kubescape": ("C-0131",)},
     "API server keeps audit logs for less than 30 days", "Investigations often start weeks after the event; old audit files must still be there."),
    ("KF-CP-035", "audit-log-maxbackup", 10, "1.2.18", {"trivy": ("KCV-0021",), "checkov": ("CKV_K8S_93",), "kubescape": ("C-0132",)},
     "API server keeps fewer than 10 rotated audit logs", "Too few rotated files means a busy cluster overwrites the evidence within hours."),
    ("KF-CP-036", "audit-log-maxsize", 100, "1.2.19", {"trivy": ("KCV-0022",), "checkov": ("CKV_K8S_94",), "kubescape": ("C-0133",)},
     "API server rotates audit logs below 100 MB", "Small files rotate constantly; with a bounded backup count that shortens the history kept."),
):
    node_check(
        id=_id, name=f"apiserver-{_flag}-low", title=_title, severity=Severity.LOW, kinds=NODE_KINDS, cis=(_cis,), peers=_peers, owasp=("K05",),
        remediation=f"Set --{_flag}={_min} or higher.", what=f"Flags an API server whose `--{_flag}` is absent or below {_min}.", why=_why,
        example=pod_example("kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", f"--{_flag}={_min // 2}"),
        fix=pod_example("kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", f"--{_flag}={_min}"),
        refs=(API_REF, "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#log-backend"),
    )(int_at_least_check("kube-apiserver", _flag, _min))
node_check(
    id="KF-CP-037", name="apiserver-service-account-lookup-disabled", title="API server does not check that service-account tokens still exist",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.2.21",), peers={"trivy": ("KCV-0024",), "checkov": ("CKV_K8S_96",), "kubescape": ("C-0135",)},
    owasp=("K06", "K09"),
    remediation="Remove --service-account-lookup=false (the default, true, is right).",
    what="Flags `--service-account-lookup=false` (the default is true).",
    why="Without the lookup a token of a deleted service account (or of a deleted Secret) stays valid until it expires.",
    example=pod_example("kube-apiserver", "--service-account-lookup=false"), fix=pod_example("kube-apiserver", "--service-account-lookup=true"),
    refs=(API_REF,),
)(bool_flag_check("kube-apiserver", "service-account-lookup", True, True, ""))
node_check(
    id="KF-CP-038", name="apiserver-service-account-key-missing", title="API server has no service-account verification key", severity=Severity.MEDIUM,
    kinds=NODE_KINDS, cis=("1.2.22",), peers={"trivy": ("KCV-0025",), "checkov": ("CKV_K8S_97",), "kubescape": ("C-0136",)}, owasp=("K06", "K09"),
    remediation="Set --service-account-key-file to the public key(s) matching the signing key (rotate by listing old and new keys).",
    what="Flags an API server without `--service-account-key-file`.",
    why="Without an explicit key the API server falls back to its TLS key, which ties token validity to the serving "
        "certificate and makes signing-key rotation impossible.",
    example=pod_example("kube-apiserver", "--service-account-issuer=https://kubernetes.default.svc"),
    fix=pod_example("kube-apiserver", "--service-account-key-file=/etc/kubernetes/pki/sa.pub"), refs=(API_REF,),
)(flag_set_check("kube-apiserver", "service-account-key-file"))
node_check(
    id="KF-CP-039", name="apiserver-etcd-client-cert-missing", title="API server does not authenticate to etcd with a client certificate",
    severity=Severity.HIGH, kinds=NODE_KINDS, cis=("1.2.23",), peers={"trivy": ("KCV-0026",), "checkov": ("CKV_K8S_99",), "kubescape": ("C-0137",)},
    remediation="Set --etcd-certfile and --etcd-keyfile to a client certificate etcd trusts (and enable etcd --client-cert-auth).",
    what="Flags an API server without `--etcd-certfile` or `--etcd-keyfile`.",
    why="etcd holds every Secret; if the API server needs no certificate to reach it, nothing else does either.",
    example=pod_example("kube-apiserver", "--etcd-servers=https://127.0.0.1:2379"),
    fix=pod_example("kube-apiserver", "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt", "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key"),
    refs=(API_REF, "https://etcd.io/docs/v3.5/op-guide/security/"),
)(flag_set_check("kube-apiserver", "etcd-certfile", "etcd-keyfile"))
node_check(
    id="KF-CP-040", name="apiserver-tls-cert-missing", title="API server serves TLS without an explicit certificate", severity=Severity.HIGH,
    kinds=NODE_KINDS, cis=("1.2.24",), peers={"trivy": ("KCV-0027",), "checkov": ("CKV_K8S_100",), "kubescape": ("C-0138",)}, mitre=("T1557",),
    remediation="Set --tls-cert-file and --tls-private-key-file to a certificate signed by the cluster CA.",
    what="Flags an API server without `--tls-cert-file` or `--tls-private-key-file`.",
    why="Without them the API server generates a self-signed certificate that clients cannot verify, which trains them to skip verification.",
    example=pod_example("kube-apiserver", "--secure-port=6443"),
    fix=pod_example("kube-apiserver", "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt", "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key"),
    refs=(API_REF,),
)(flag_set_check("kube-apiserver", "tls-cert-file", "tls-private-key-file"))
node_check(
    id="KF-CP-041", name="apiserver-client-ca-missing", title="API server trusts no client CA", severity=Severity.HIGH, kinds=NODE_KINDS,
    cis=("1.2.25",), peers={"trivy": ("KCV-0028",), "kubescape": ("C-0139",)}, owasp=("K06", "K09"),
    remediation="Set --client-ca-file to the cluster CA certificate.",
    what="Flags an API server without `--client-ca-file`.",
    why="Without a client CA no client certificate is accepted, so kubelets and controllers cannot authenticate with "
        "certificates and weaker credentials take their place.",
    example=pod_example("kube-apiserver", "--secure-port=6443"), fix=pod_example("kube-apiserver", "--client-ca-file=/etc/kubernetes/pki/ca.crt"),
    refs=(API_REF,),
)(flag_set_check("kube-apiserver", "client-ca-file"))
node_check(
    id="KF-CP-042", name="apiserver-etcd-ca-missing", title="API server does not verify etcd's certificate", severity=Severity.HIGH, kinds=NODE_KINDS,
    cis=("1.2.26",), peers={"trivy": ("KCV-0029",), "checkov": ("CKV_K8S_102",), "kubescape": ("C-0140",)}, mitre=("T1557",),
    remediation="Set --etcd-cafile to the CA that signs etcd's serving certificate.",
    what="Flags an API server without `--etcd-cafile`.",
    why="Without it the API server cannot tell the real etcd from an impostor that records every Secret written to it.",
    example=pod_example("kube-apiserver", "--etcd-servers=https://10.0.0.5:2379"), fix=pod_example("kube-apiserver", "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt"),
    refs=(API_REF,),
)(flag_set_check("kube-apiserver", "etcd-cafile"))
node_check(
    id="KF-CP-043", name="apiserver-encryption-at-rest-missing", title="API server does not encrypt Secrets at rest", severity=Severity.HIGH,
    kinds=NODE_KINDS, cis=("1.2.27",), manual=True, peers={"trivy": ("KCV-0030",), "kubescape": ("C-0141", "C-0066")}, mitre=("T1552",), owasp=("K08",),
    remediation="Set --encryption-provider-config to an EncryptionConfiguration whose first provider for secrets is kms (v2) or secretbox.",
    what="Flags an API server without `--encryption-provider-config`. KF-CP-044 and KF-CP-059 judge the file itself.",
    why="Without encryption at rest every Secret is stored in etcd (and its backups and snapshots) in plain text.",
    example=pod_example("kube-apiserver", "--etcd-servers=https://127.0.0.1:2379"),
    fix=pod_example("kube-apiserver", "--encryption-provider-config=/etc/kubernetes/enc/encryption.yaml"),
    refs=(API_REF, "https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/"),
)(flag_set_check("kube-apiserver", "encryption-provider-config"))


def _covers_secrets(resources: Any) -> bool:
    return isinstance(resources, list) and any(r in ("secrets", "*.", "*.*") for r in resources)


def _secrets_providers(res: Resource) -> tuple[list[Any], tuple[Any, ...]]:
    """The providers the API server uses for Secrets: the first `resources` entry that covers them."""
    if res.id.kind != "EncryptionConfiguration" or not res.id.api_version.startswith("apiserver.config.k8s.io/"):
        raise NotApplicable()
    entries = res.obj.get("resources")
    if not isinstance(entries, list):
        raise NotEvaluated(f"resources is {type_name(entries)}, expected a list", ("resources",))
    for i, e in enumerate(entries):
        if isinstance(e, dict) and _covers_secrets(e.get("resources")):
            providers = e.get("providers")
            if not isinstance(providers, list) or not providers:
                raise NotEvaluated(f"resources[{i}].providers is empty or not a list; the API server refuses it", ("resources", i, "providers"))
            return providers, ("resources", i, "providers")
    return [], ("resources",)


def _provider_name(p: Any, path: tuple[Any, ...]) -> str:
    if not isinstance(p, dict) or len(p) != 1:
        raise NotEvaluated("a provider must be a mapping with exactly one key (identity, aescbc, aesgcm, secretbox, kms)", path)
    return next(iter(p))


@node_check(
    id="KF-CP-044", name="encryption-config-secrets-unencrypted", title="Encryption configuration stores Secrets unencrypted",
    severity=Severity.HIGH, kinds=("EncryptionConfiguration",), cis=("1.2.28",), manual=True, peers={"checkov": ("CKV_K8S_104",), "kubescape": ("C-0142",)},
    mitre=("T1552",), owasp=("K08",),
    remediation="Make the first provider for secrets kms (apiVersion v2), secretbox, aesgcm or aescbc; keep identity only last, for reading old data.",
    what="Reads an `EncryptionConfiguration` (in `kubefort scan` input, or the file the API server's `--encryption-provider-config` "
         "names in `kubefort node`) and flags it when no `resources` entry covers `secrets` (`secrets`, `*.` or `*.*`) or when "
         "the first provider of the first entry that does is `identity` (or not a cipher at all).",
    why="The API server writes with the first provider only. `identity` first means new Secrets go to etcd in plain "
        "text even though an encryption key is configured.",
    example="```yaml\napiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n"
            "  providers:\n  - identity: {}\n  - aescbc:\n      keys: [{name: key1, secret: <base64>}]\n```",
    fix="```yaml\nresources:\n- resources: [secrets]\n  providers:\n  - kms:\n      apiVersion: v2\n      name: vault\n"
        "      endpoint: unix:///var/run/kms.sock\n  - identity: {}   # only to read data written before\n```",
    refs=("https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/",),
)
def encryption_config_secrets_unencrypted(res: Resource, ctx: object) -> Iterator[Violation]:
    providers, path = _secrets_providers(res)
    if not providers:
        yield Violation("no resources entry covers secrets: Secrets are stored unencrypted", path)
        return
    first = _provider_name(providers[0], path + (0,))
    if first not in ("aescbc", "aesgcm", "secretbox", "kms"):
        yield Violation(f"the first provider for secrets is {first}: new Secrets are written unencrypted", path + (0,))


CIS_CIPHERS_APISERVER = frozenset({
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
})


def cipher_violations(v: ComponentView, allowed: frozenset[str], flag: str = "tls-cipher-suites") -> Iterator[Violation]:
    items, given = v.items(flag)
    if not given:
        yield viol(v, f"--{flag} is not set; the defaults include CBC-mode suites", v.missing)
        return
    weak = [(c, p) for c, p in items if c not in allowed]
    if weak:
        yield viol(v, f"--{flag} includes suites outside the strong list: {', '.join(c for c, _ in weak)}", weak[0][1])


node_check(
    id="KF-CP-045", name="apiserver-weak-tls-cipher-suites", title="API server allows weak TLS cipher suites", severity=Severity.MEDIUM,
    kinds=NODE_KINDS, cis=("1.2.29",), manual=True, peers={"checkov": ("CKV_K8S_105",), "kubescape": ("C-0277", "C-0143")}, mitre=("T1557",),
    remediation="Set --tls-cipher-suites to ECDHE/AEAD suites only (see the list in the documentation).",
    what="Flags an API server whose `--tls-cipher-suites` is absent or lists a suite outside CIS's strong list: "
         + ", ".join(sorted(CIS_CIPHERS_APISERVER)) + ".",
    why="Without ECDHE there is no forward secrecy, and CBC suites are prone to padding-oracle attacks.",
    example=pod_example("kube-apiserver", "--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    fix=pod_example("kube-apiserver", "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
                    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    refs=(API_REF,),
)(lambda res, ctx: cipher_violations(_api(res), CIS_CIPHERS_APISERVER))
node_check(
    id="KF-CP-046", name="apiserver-service-account-token-extension", title="API server extends projected service-account token lifetimes",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.2.30",), peers={"kubescape": ("C-0290",)}, owasp=("K06", "K09"),
    remediation="Set --service-account-extend-token-expiration=false.",
    what="Flags an API server with `--service-account-extend-token-expiration` true or absent (default true).",
    why="The extension gives projected tokens a one-year lifetime for compatibility; a stolen token then stays valid for a year "
        "instead of an hour.",
    example=pod_example("kube-apiserver", "--service-account-issuer=https://kubernetes.default.svc"),
    fix=pod_example("kube-apiserver", "--service-account-extend-token-expiration=false"), refs=(API_REF,),
)(bool_flag_check("kube-apiserver", "service-account-extend-token-expiration", False, True, "the API server extends token lifetimes by default"))


# ---------------------------------------------------------------------------------------------
# 1.3 controller manager, 1.4 scheduler
# ---------------------------------------------------------------------------------------------
def _kcm(res: Resource) -> ComponentView:
    return component_view(res, "kube-controller-manager")


node_check(
    id="KF-CP-047", name="controller-manager-terminated-pod-gc-unset", title="Controller manager has no explicit terminated-pod GC threshold",
    severity=Severity.INFO, kinds=NODE_KINDS, cis=("1.3.1",), manual=True, peers={"trivy": ("KCV-0033",), "checkov": ("CKV_K8S_106",), "kubescape": ("C-0144",)},
    remediation="Set --terminated-pod-gc-threshold to a value that suits the cluster (for example 10).",
    what="Flags a kube-controller-manager without `--terminated-pod-gc-threshold` (its default keeps 12500 finished pods).",
    why="Thousands of finished pods weigh on etcd and the API server, which degrades the whole control plane.",
    example=pod_example("kube-controller-manager", "--use-service-account-credentials=true"),
    fix=pod_example("kube-controller-manager", "--terminated-pod-gc-threshold=10"), refs=(KCM_REF,),
)(flag_set_check("kube-controller-manager", "terminated-pod-gc-threshold"))
node_check(
    id="KF-CP-048", name="controller-manager-profiling-enabled", title="Controller manager exposes profiling endpoints", severity=Severity.LOW,
    kinds=NODE_KINDS, cis=("1.3.2",), peers={"trivy": ("KCV-0034",), "checkov": ("CKV_K8S_107",), "kubescape": ("C-0145",)},
    remediation="Set --profiling=false.", what="Flags a kube-controller-manager with `--profiling` true or absent (default true).", why=_PROFILING_WHY,
    example=pod_example("kube-controller-manager", "--bind-address=127.0.0.1"), fix=pod_example("kube-controller-manager", "--profiling=false"), refs=(KCM_REF,),
)(bool_flag_check("kube-controller-manager", "profiling", False, True, "profiling is on by default"))
node_check(
    id="KF-CP-049", name="controller-manager-shared-credentials", title="Controllers share the controller manager's credentials",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.3.3",), peers={"trivy": ("KCV-0035",), "checkov": ("CKV_K8S_108",), "kubescape": ("C-0146",)},
    owasp=("K03", "K09"),
    remediation="Set --use-service-account-credentials=true.",
    what="Flags a kube-controller-manager with `--use-service-account-credentials` false or absent (default false).",
    why="Without it every controller runs with the controller manager's own, very broad identity; with it each controller "
        "uses its own service account and only the permissions its role grants.",
    example=pod_example("kube-controller-manager", "--bind-address=127.0.0.1"),
    fix=pod_example("kube-controller-manager", "--use-service-account-credentials=true"), refs=(KCM_REF, "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#controller-roles"),
)(bool_flag_check("kube-controller-manager", "use-service-account-credentials", True, False, "controllers share one identity by default"))
node_check(
    id="KF-CP-050", name="controller-manager-sa-signing-key-missing", title="Controller manager has no service-account signing key",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.3.4",), peers={"trivy": ("KCV-0036",), "checkov": ("CKV_K8S_110",), "kubescape": ("C-0147",)},
    remediation="Set --service-account-private-key-file to the key matching the API server's --service-account-key-file.",
    what="Flags a kube-controller-manager without `--service-account-private-key-file`.",
    why="Without a dedicated key service-account token Secrets are not signed with a key that can be rotated independently.",
    example=pod_example("kube-controller-manager", "--use-service-account-credentials=true"),
    fix=pod_example("kube-controller-manager", "--service-account-private-key-file=/etc/kubernetes/pki/sa.key"), refs=(KCM_REF,),
)(flag_set_check("kube-controller-manager", "service-account-private-key-file"))
node_check(
    id="KF-CP-051", name="controller-manager-root-ca-missing", title="Controller manager does not publish the cluster root CA",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.3.5",), peers={"trivy": ("KCV-0037",), "checkov": ("CKV_K8S_111",), "kubescape": ("C-0148",)}, mitre=("T1557",),
    remediation="Set --root-ca-file to the cluster CA certificate.",
    what="Flags a kube-controller-manager without `--root-ca-file`.",
    why="Pods then get no CA bundle with their service-account credentials and cannot verify the API server they talk to.",
    example=pod_example("kube-controller-manager", "--use-service-account-credentials=true"),
    fix=pod_example("kube-controller-manager", "--root-ca-file=/etc/kubernetes/pki/ca.crt"), refs=(KCM_REF,),
)(flag_set_check("kube-controller-manager", "root-ca-file"))


def _kcm_rotation(res: Resource, ctx: object) -> Iterator[Violation]:
    v = _kcm(res)
    g = v.gates().get("RotateKubeletServerCertificate")
    if g is not None and g[0] is False:
        yield viol(v, "--feature-gates sets RotateKubeletServerCertificate=false", g[1])


node_check(
    id="KF-CP-052", name="controller-manager-kubelet-cert-rotation-disabled", title="Controller manager disables kubelet serving-certificate rotation",
    severity=Severity.MEDIUM, kinds=NODE_KINDS, cis=("1.3.6",), peers={"trivy": ("KCV-0038",), "checkov": ("CKV_K8S_112",), "kubescape": ("C-0149",)},
    remediation="Remove RotateKubeletServerCertificate=false from --feature-gates.",
    what="Flags `RotateKubeletServerCertificate=false` in the controller manager's `--feature-gates`.",
    why="Kubelet serving certificates then cannot be renewed through the certificates API and end up long-lived or self-signed.",
    example=pod_example("kube-controller-manager", "--feature-gates=RotateKubeletServerCertificate=false"),
    fix=pod_example("kube-controller-manager", "# no RotateKubeletServerCertificate=false"), refs=(KCM_REF,),
)(_kcm_rotation)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def bind_check(component: str) -> Callable[[Resource, object], Iterator[Violation]]:
    def fn(res: Resource, ctx: object) -> Iterator[Violation]:
        v = component_view(res, component)
        addr, p = v.string("bind-address")
        if addr is None:
            yield viol(v, "--bind-address is not set; it defaults to 0.0.0.0 (every interface)", p)
        elif addr.strip("[]") not in LOOPBACK:
            yield viol(v, f"--bind-address={addr} is not a loopback address", p)
    return fn


_BIND_EXTRA = ("kube-bench also passes an absent `--bind-address`; the components' default is `0.0.0.0`, so kubefort "
               "follows the CIS title (\"set to 127.0.0.1\") and fails it.")
node_check(
    id="KF-CP-053", name="controller-manager-bind-address-exposed", title="Controller manager listens beyond loopback", severity=Severity.MEDIUM,
    kinds=NODE_KINDS, cis=("1.3.7",), peers={"trivy": ("KCV-0039",), "checkov": ("CKV_K8S_113",), "kubescape": ("C-0150",)}, owasp=("K07", "K09"),
    remediation="Set --bind-address=127.0.0.1.",
    what="Flags a kube-controller-manager whose `--bind-address` is absent (default 0.0.0.0) or not a loopback address.",
    why="The controller manager's secure port serves health, metrics and debug endpoints; on every interface it is reachable from pods and the network.",
    example=pod_example("kube-controller-manager", "--bind-address=0.0.0.0"), fix=pod_example("kube-controller-manager", "--bind-address=127.0.0.1"),
    refs=(KCM_REF,), extra=_BIND_EXTRA,
)(bind_check("kube-controller-manager"))
node_check(
    id="KF-CP-054", name="scheduler-profiling-enabled", title="Scheduler exposes profiling endpoints", severity=Severity.LOW, kinds=NODE_KINDS,
    cis=("1.4.1",), peers={"trivy": ("KCV-0040",), "checkov": ("CKV_K8S_114",), "kubescape": ("C-0151",)},
    remediation="Set --profiling=false.", what="Flags a kube-scheduler with `--profiling` true or absent (default true).", why=_PROFILING_WHY,
    example=pod_example("kube-scheduler", "--bind-address=127.0.0.1"), fix=pod_example("kube-scheduler", "--profiling=false"), refs=(SCHED_REF,),
)(bool_flag_check("kube-scheduler", "profiling", False, True, "profiling is on by default"))
node_check(
    id="KF-CP-055", name="scheduler-bind-address-exposed", title="Scheduler listens beyond loopback", severity=Severity.MEDIUM, kinds=NODE_KINDS,
    cis=("1.4.2",), peers={"trivy": ("KCV-0041",), "checkov": ("CKV_K8S_115",), "kubescape": ("C-0152",)}, owasp=("K07", "K09"),
    remediation="Set --bind-address=127.0.0.1.",
    what="Flags a kube-scheduler whose `--bind-address` is absent (default 0.0.0.0) or not a loopback address.",
    why="The scheduler's secure port serves health, metrics and debug endpoints; on every interface it is reachable from pods and the network.",
    example=pod_example("kube-scheduler", "--bind-address=0.0.0.0"), fix=pod_example("kube-scheduler", "--bind-address=127.0.0.1"),
    refs=(SCHED_REF,), extra=_BIND_EXTRA,
)(bind_check("kube-scheduler"))


# ---------------------------------------------------------------------------------------------
# 3.2 audit policy
# ---------------------------------------------------------------------------------------------
node_check(
    id="KF-CP-056", name="apiserver-audit-policy-missing", title="API server loads no audit policy", severity=Severity.HIGH, kinds=NODE_KINDS,
    cis=("3.2.1",), manual=True, peers={"kubescape": ("C-0160",)}, owasp=("K05",),
    remediation="Set --audit-policy-file to a policy that records at least the events listed in KF-CP-057.",
    what="Flags an API server without `--audit-policy-file`: without a policy no audit event is recorded, whatever the backend.",
    why="Audit logs are the only record of who read Secrets, exec'ed into pods or changed RBAC.",
    example=pod_example("kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log"),
    fix=pod_example("kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-policy-file=/etc/kubernetes/audit-policy.yaml"),
    refs=(API_REF, "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy"),
)(flag_set_check("kube-apiserver", "audit-policy-file"))

AUDIT_LEVELS = {"None": 0, "Metadata": 1, "Request": 2, "RequestResponse": 3}
_ALL_STAGES = {"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}


@dataclass(frozen=True, slots=True)
class AuditRequest:
    """A request the audit policy is asked about (as the API server's policy checker sees it)."""

    label: str
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = "default"
    user: str = "jane@example.com"
    groups: tuple[str, ...] = ("system:authenticated",)


def _strs(v: Any) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _rule_matches(rule: dict[str, Any], r: AuditRequest) -> bool:
    """k8s.io/apiserver/pkg/audit/policy checker: users, userGroups, verbs, then namespaces/resources."""
    if _strs(rule.get("users")) and r.user not in _strs(rule.get("users")):
        return False
    if _strs(rule.get("userGroups")) and not set(_strs(rule.get("userGroups"))) & set(r.groups):
        return False
    if _strs(rule.get("verbs")) and r.verb not in _strs(rule.get("verbs")):
        return False
    namespaces, resources = rule.get("namespaces"), rule.get("resources")
    if namespaces or resources:
        if _strs(namespaces) and r.namespace not in _strs(namespaces):
            return False
        if not isinstance(resources, list) or not resources:
            return True
        combined = r.resource + (f"/{r.subresource}" if r.subresource else "")
        for gr in resources:
            if not isinstance(gr, dict) or gr.get("group", "") != r.group:
                continue
            names = _strs(gr.get("resources"))
            if not names:
                return True
            if _strs(gr.get("resourceNames")):
                continue  # limited to named objects: not every request
            for n in names:
                if n in (combined, "*") or (r.subresource and n == f"*/{r.subresource}") or (n.endswith("/*") and n[:-2] == r.resource):
                    return True
        return False
    if rule.get("nonResourceURLs"):
        return False  # our requests are resource requests
    return True


def audit_level(policy: dict[str, Any], r: AuditRequest) -> tuple[int, tuple[Any, ...]]:
    """(level, path of the deciding rule) for a request: the first matching rule wins; no match is None."""
    rules = policy.get("rules")
    if not isinstance(rules, list):
        raise NotEvaluated(f"rules is {type_name(rules)}, expected a list; the API server refuses the policy", ("rules",))
    omitted = set(_strs(policy.get("omitStages")))
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or rule.get("level") not in AUDIT_LEVELS:
            raise NotEvaluated(f"rules[{i}] has no valid level (None, Metadata, Request, RequestResponse)", ("rules", i))
        if _rule_matches(rule, r):
            level = AUDIT_LEVELS[rule["level"]]
            if _ALL_STAGES <= omitted | set(_strs(rule.get("omitStages"))):
                level = 0
            return level, ("rules", i)
    return 0, ("rules",)


def audit_policy(res: Resource) -> dict[str, Any]:
    if res.id.kind != "Policy" or not res.id.api_version.startswith("audit.k8s.io/"):
        raise NotApplicable()
    return res.obj


KEY_EVENTS = (
    AuditRequest("reading Secrets", "get", "", "secrets"),
    AuditRequest("exec into pods", "create", "", "pods", "exec"),
    AuditRequest("attaching to pods", "create", "", "pods", "attach"),
    AuditRequest("port-forwarding to pods", "create", "", "pods", "portforward"),
    AuditRequest("proxying to pods", "get", "", "pods", "proxy"),
    AuditRequest("proxying to services", "get", "", "services", "proxy"),
    AuditRequest("creating pods", "create", "", "pods"),
    AuditRequest("changing Deployments", "patch", "apps", "deployments"),
    AuditRequest("binding cluster roles", "create", "rbac.authorization.k8s.io", "clusterrolebindings", namespace=""),
    AuditRequest("changing roles", "update", "rbac.authorization.k8s.io", "roles"),
)
SENSITIVE = (
    (AuditRequest("creating Secrets", "create", "", "secrets"), 1),
    (AuditRequest("updating Secrets", "update", "", "secrets"), 1),
    (AuditRequest("reading Secrets", "get", "", "secrets"), 2),
    (AuditRequest("updating ConfigMaps", "update", "", "configmaps"), 1),
    (AuditRequest("TokenReviews", "create", "authentication.k8s.io", "tokenreviews", namespace=""), 1),
    (AuditRequest("TokenRequests", "create", "", "serviceaccounts", "token"), 2),
)
_POLICY_EXAMPLE = "```yaml\napiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n```"
_POLICY_FIX = ("```yaml\napiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
               "- level: Metadata            # never bodies: they hold the secret values\n  resources:\n"
               "  - {group: \"\", resources: [secrets, configmaps, serviceaccounts/token]}\n"
               "  - {group: authentication.k8s.io, resources: [tokenreviews]}\n"
               "- level: RequestResponse\n  resources:\n  - {group: \"\", resources: [pods/exec, pods/attach, pods/portforward, pods/proxy, services/proxy]}\n"
               "  - {group: rbac.authorization.k8s.io}\n- level: Request\n  verbs: [create, update, patch, delete]\n"
               "- level: Metadata\n```")


@node_check(
    id="KF-CP-057", name="audit-policy-misses-key-events", title="Audit policy does not record key security events", severity=Severity.MEDIUM,
    kinds=("Policy",), cis=("3.2.2",), manual=True, peers={"kubescape": ("C-0161",)}, owasp=("K05",),
    remediation="Add rules that log at least Metadata for Secrets, pods/exec|attach|portforward|proxy, services/proxy, pod and Deployment changes and RBAC changes.",
    what="Evaluates an audit `Policy` (`audit.k8s.io`, in `kubefort scan` input or the file named by `--audit-policy-file`) the "
         "way the API server does (first matching rule wins, no match means None) for the events CIS 3.2.2 lists, and flags "
         "the policy when any of them is not recorded: " + ", ".join(e.label for e in KEY_EVENTS) + ". The request is from an "
         "ordinary authenticated user in namespace `default`.",
    why="A policy that records nothing (or only some noise) gives an audit log in which the attack is missing.",
    example=_POLICY_EXAMPLE, fix=_POLICY_FIX,
    refs=("https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy",),
    extra="Authentication failures cannot be selected by a policy rule; they are logged by any rule that matches the request.",
)
def audit_policy_misses_key_events(res: Resource, ctx: object) -> Iterator[Violation]:
    policy = audit_policy(res)
    missing: list[tuple[str, tuple[Any, ...]]] = []
    for ev in KEY_EVENTS:
        level, path = audit_level(policy, ev)
        if level == 0:
            missing.append((ev.label, path))
    if missing:
        yield Violation(f"the policy records nothing for: {', '.join(m for m, _ in missing)}", missing[0][1])


@node_check(
    id="KF-CP-058", name="audit-policy-logs-secret-payloads", title="Audit policy writes secret values into the audit log", severity=Severity.HIGH,
    kinds=("Policy",), cis=("3.2.2",), manual=True, peers={}, mitre=("T1552",), owasp=("K05", "K08"),
    remediation="Log Secrets, ConfigMaps, TokenReviews and TokenRequests at Metadata level only, in a rule placed before broader Request/RequestResponse rules.",
    what="Evaluates an audit `Policy` like KF-CP-057 and flags it when a request carrying a credential is logged with its body: "
         "creating or updating Secrets or ConfigMaps, TokenReviews at `Request` or above, reading Secrets or requesting tokens at `RequestResponse`.",
    why="The audit log is usually shipped to a log platform that many people can read: Secret values, service-account tokens "
        "and reviewed bearer tokens end up there in clear text.",
    example="```yaml\napiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse   # every body, Secrets included\n```",
    fix=_POLICY_FIX, refs=("https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy", "CIS Kubernetes Benchmark 3.2.2 (Metadata level for Secrets, ConfigMaps and TokenReviews)"),
)
def audit_policy_logs_secret_payloads(res: Resource, ctx: object) -> Iterator[Violation]:
    policy = audit_policy(res)
    leaks: list[tuple[str, tuple[Any, ...]]] = []
    for ev, limit in SENSITIVE:
        level, path = audit_level(policy, ev)
        if level > limit:
            leaks.append((f"{ev.label} at {next(k for k, n in AUDIT_LEVELS.items() if n == level)}", path))
    if leaks:
        yield Violation(f"the policy logs request or response bodies for: {', '.join(x for x, _ in leaks)}", leaks[0][1])


# ---------------------------------------------------------------------------------------------
# beyond CIS: encryption strength, TLS versions, certificate expiry
# ---------------------------------------------------------------------------------------------
@node_check(
    id="KF-CP-059", name="encryption-provider-weak", title="Secrets are encrypted with a weak or deprecated provider", severity=Severity.MEDIUM,
    kinds=("EncryptionConfiguration",), peers={"kubescape": ("C-0066",)}, mitre=("T1552",), owasp=("K08",),
    remediation="Move Secrets to a kms provider with apiVersion v2 (or secretbox) as the first provider; keep the old one after it until everything is re-encrypted.",
    what="Reads the provider the API server writes Secrets with (see KF-CP-044) and flags `aescbc` (CBC, vulnerable to padding-oracle "
         "attacks, not recommended by the Kubernetes documentation) and `kms` with `apiVersion: v1` or no apiVersion (KMS v1, "
         "deprecated since 1.28 and off by default since 1.29). `kms` v2, `secretbox` and `aesgcm` pass. Configurations that do "
         "not encrypt Secrets at all are KF-CP-044's finding, not this one's.",
    why="With `aescbc` or `aesgcm` the key sits next to the data on the control-plane node, and `aescbc` has known weaknesses; "
        "KMS v1 makes one remote call per object and is going away. KMS v2 keeps the key encryption key in an external KMS.",
    example="```yaml\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys: [{name: key1, secret: <base64>}]\n```",
    fix="```yaml\nresources:\n- resources: [secrets]\n  providers:\n  - kms:\n      apiVersion: v2\n      name: vault\n      endpoint: unix:///var/run/kms.sock\n  - aescbc:\n      keys: [{name: key1, secret: <base64>}]   # until re-encrypted\n```",
    refs=("https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/#providers", "https://kubernetes.io/docs/tasks/administer-cluster/kms-provider/"),
)
def encryption_provider_weak(res: Resource, ctx: object) -> Iterator[Violation]:
    providers, path = _secrets_providers(res)
    if not providers:
        raise NotApplicable()
    first = _provider_name(providers[0], path + (0,))
    if first == "aescbc":
        yield Violation("Secrets are encrypted with aescbc (CBC mode; the Kubernetes documentation recommends kms v2 or secretbox)", path + (0,))
    elif first == "kms":
        conf = providers[0]["kms"]
        api = conf.get("apiVersion", "v1") if isinstance(conf, dict) else "v1"
        if api != "v2":
            yield Violation(f"Secrets are encrypted with KMS {api} (deprecated since Kubernetes 1.28; use apiVersion v2)", path + (0,))
    elif first not in ("aesgcm", "secretbox"):
        raise NotApplicable()


WEAK_TLS = {"VersionTLS10": "TLS 1.0", "VersionTLS11": "TLS 1.1"}


def tls_min_version(res: Resource, ctx: object) -> Iterator[Violation]:
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        try:
            v = component_view(res, comp)
        except NotApplicable:
            continue
        if v.last("tls-min-version") is None:
            return  # the default is TLS 1.2 for every Kubernetes server
        value, p = v.string("tls-min-version")
        if value in WEAK_TLS:
            yield viol(v, f"--tls-min-version={value} accepts {WEAK_TLS[value]}", p)
        return
    raise NotApplicable()


node_check(
    id="KF-CP-060", name="control-plane-weak-tls-min-version", title="Control-plane component accepts TLS 1.0 or 1.1", severity=Severity.MEDIUM,
    kinds=NODE_KINDS, peers={}, mitre=("T1557",),
    remediation="Remove --tls-min-version or set it to VersionTLS12 or VersionTLS13.",
    what="Flags kube-apiserver, kube-controller-manager or kube-scheduler started with `--tls-min-version=VersionTLS10` or "
         "`VersionTLS11`. Without the flag they accept TLS 1.2 and later, which passes.",
    why="TLS 1.0 and 1.1 are deprecated (RFC 8996): they depend on SHA-1 and CBC constructions with known attacks.",
    example=pod_example("kube-apiserver", "--tls-min-version=VersionTLS10"), fix=pod_example("kube-apiserver", "--tls-min-version=VersionTLS12"),
    refs=(API_REF, "RFC 8996: Deprecating TLS 1.0 and TLS 1.1"),
)(tls_min_version)


@dataclass(frozen=True, slots=True)
class CertificateExpiryOptions:
    """Settings of KF-CP-061."""

    days: int = 30  # fail when a certificate expires within this many days


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")


@node_check(
    id="KF-CP-061", name="certificate-expiring", title="A node certificate has expired or expires soon", severity=Severity.MEDIUM,
    kinds=FILE_KINDS, peers={}, owasp=("K09",), options=CertificateExpiryOptions,
    remediation="Renew the certificate (kubeadm: `kubeadm certs renew all` and restart the control-plane pods; kubelets: enable rotateCertificates).",
    what="Reads every certificate `kubefort node` finds: PKI files, files named by certificate flags, and the certificates "
         "embedded in kubeconfigs (client-certificate-data, certificate-authority-data). Flags a file when one of them has "
         "expired or expires within `days` (default 30).",
    why="An expired certificate stops the control plane or a node (kubeadm certificates last one year). Under time pressure, "
        "renewals tend to be done with shortcuts such as long-lived certificates or verification turned off.",
    example="```console\n$ kubeadm certs check-expiration\nCERTIFICATE   EXPIRES                  RESIDUAL TIME\nadmin.conf    Jan 02, 2025 10:00 UTC   <invalid>\n```",
    fix="```console\n$ kubeadm certs renew all && systemctl restart kubelet\n```",
    refs=("https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/",),
    extra="## Options\n- `days` (int, default 30): how many days before expiry a certificate is reported.\n\n"
          "## Not evaluated when\nA certificate file cannot be read or parsed.",
)
def certificate_expiring(res: Resource, ctx: Any) -> Iterator[Violation]:
    if not is_node_object(res, "NodeFile"):
        raise NotApplicable()
    obj = res.obj
    if isinstance(obj.get("certificateError"), str):
        raise NotEvaluated(obj["certificateError"], ("path",))
    certs = obj.get("certificates")
    if not isinstance(certs, list) or not certs:
        raise NotApplicable()
    days = getattr(ctx.options, "days", 30) if ctx is not None and getattr(ctx, "options", None) is not None else 30
    now = dt.datetime.now(dt.timezone.utc)
    bad: list[str] = []
    for i, c in enumerate(certs):
        if not isinstance(c, dict):
            raise NotEvaluated(f"certificates[{i}] is {type_name(c)}, expected a mapping", ("certificates", i))
        if isinstance(c.get("error"), str):
            raise NotEvaluated(f"{c.get('source')}: {c['error']}", ("certificates", i))
        try:
            end = _parse_time(str(c.get("notAfter")))
        except ValueError:
            raise NotEvaluated(f"certificates[{i}].notAfter is {c.get('notAfter')!r}, expected 2006-01-02T15:04:05Z", ("certificates", i, "notAfter")) from None
        who = f"{c.get('source')}" + (f" ({c['subject']})" if c.get("subject") else "")
        left = end - now
        if left.total_seconds() <= 0:
            bad.append(f"{who} expired on {end:%Y-%m-%d}")
        elif left <= dt.timedelta(days=days):
            bad.append(f"{who} expires on {end:%Y-%m-%d}, in {left.days} day(s)")
    if bad:
        yield Violation(f"{obj.get('path')}: " + "; ".join(bad), ("certificates",))
