"""What containers run and bind: KF-POD-023 privileged ports the container may not bind,
KF-POD-024 sudo in the container's command, KF-POD-025 an SSH server in the container."""

from __future__ import annotations

import functools
import posixpath
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kubefort.checks.pod_security.capabilities import normalize_capability
from kubefort.checks.pod_security.common import NSA_POD, effective_int
from kubefort.kube.pods import ContainerView, Fields, PodView, memoised, need
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Path_, Severity, Violation, format_path
from kubefort.registry import Mappings, check

# NotApplicable reasons, also written in the checks' documentation
WINDOWS = "Windows pods have no privileged ports"
NO_PORTS = "ephemeral containers cannot declare ports"

UNPRIVILEGED_PORT_START = "net.ipv4.ip_unprivileged_port_start"
DEFAULT_PORT_START = 1024  # the kernel's default of net.ipv4.ip_unprivileged_port_start


def sysctl_name(name: str) -> str:
    """A sysctl name in dotted form. The kubelet accepts `/` as the separator too (Kubernetes
    1.23+, "Using sysctls in a Kubernetes cluster"); in that form `.` stands for a `/`."""
    first = min((i for i in (name.find("."), name.find("/")) if i >= 0), default=-1)
    if first >= 0 and name[first] == "/":
        return name.translate(str.maketrans("./", "/."))
    return name


def unprivileged_port_start(pod: PodView) -> tuple[int, Path_ | None]:
    """The first port a process may bind without CAP_NET_BIND_SERVICE in the pod's network
    namespace, and the sysctl entry that set it (None: the kernel default, 1024)."""
    return memoised(pod.memo, "unprivileged_port_start", _unprivileged_port_start, pod)


def _unprivileged_port_start(pod: PodView) -> tuple[int, Path_ | None]:
    if pod.scope("hostNetwork").bool("hostNetwork"):
        # the node's network namespace: its own setting, which the manifest does not show (and
        # the kubelet refuses namespaced net.* sysctls for host-network pods)
        return DEFAULT_PORT_START, None
    scope = pod.scope("securityContext")
    start, where = DEFAULT_PORT_START, None
    for i, item in enumerate(scope.list("securityContext", "sysctls")):
        path = scope.at("securityContext", "sysctls", i)
        entry = Fields(need(item, dict, "a sysctl mapping", path), path)
        name = entry.str("name")
        if name is None or sysctl_name(name) != UNPRIVILEGED_PORT_START:
            continue
        value = entry.str("value") or ""
        try:
            start = int(value.strip())
        except ValueError:
            raise NotEvaluated(
                f"{format_path(path + ('value',))} is {value!r}, not a port number; the pod cannot start with it",
                path + ("value",),
            ) from None
        where = path + ("value",)
    return start, where


@dataclass(frozen=True, slots=True)
class BindPermission:
    allowed: bool | None  # None: the image's user decides
    why: str


def _caps(c: ContainerView, which: str) -> set[str]:
    return {normalize_capability(x) for x in c.str_list("securityContext", "capabilities", which)}


def bind_permission(pod: PodView, c: ContainerView) -> BindPermission:
    """May the container's process bind a privileged port (hold CAP_NET_BIND_SERVICE)?"""
    if c.bool("securityContext", "privileged"):
        return BindPermission(True, "privileged")
    add, drop = _caps(c, "add"), _caps(c, "drop")
    # containerd applies capabilities in this order: add ALL, drop ALL, add each, drop each
    # (pkg/cri/opts/spec_linux.go WithCapabilities); NET_BIND_SERVICE is in the default set of
    # containerd and CRI-O, so only a drop removes it
    nbs = "NET_BIND_SERVICE"
    if nbs in drop:
        return BindPermission(False, "drops NET_BIND_SERVICE (capabilities.drop)")
    if "ALL" in drop and nbs not in add:
        return BindPermission(
            False, 'drops all capabilities (capabilities.drop: ["ALL"]) without adding NET_BIND_SERVICE'
        )
    if nbs in add or ("ALL" in add and "ALL" not in drop):
        return BindPermission(True, "adds NET_BIND_SERVICE")
    uid, _path, inherited = effective_int(pod, c, "runAsUser")
    if uid == 0:
        return BindPermission(True, "runs as root")
    if uid is not None:
        where = " (pod securityContext)" if inherited else ""
        return BindPermission(False, f"runs as UID {uid}{where} without adding NET_BIND_SERVICE")
    own = c.bool("securityContext", "runAsNonRoot")
    non_root = own if own is not None else pod.scope("securityContext").bool("securityContext", "runAsNonRoot")
    if non_root:
        return BindPermission(False, "must run as non-root (runAsNonRoot: true) without adding NET_BIND_SERVICE")
    return BindPermission(None, "the image's user decides")


def _declared_ports(c: ContainerView) -> Iterator[tuple[int, Path_]]:
    ports = c.plain_ports()
    if ports is not None:
        return ((item["containerPort"], c.at("ports", i, "containerPort")) for i, item in enumerate(ports))
    return declared_ports_checked(c)


def declared_ports_checked(c: ContainerView) -> Iterator[tuple[int, Path_]]:
    """`_declared_ports` entry by entry: NotEvaluated for the first that is not a mapping, has no
    containerPort, or an integer field of another type (the API server rejects the pod)."""
    for i, item in enumerate(c.list("ports")):
        path = c.at("ports", i)
        port = Fields(need(item, dict, "a container port mapping", path), path)
        number = port.int("containerPort")
        if number is None:
            raise NotEvaluated(f"{format_path(path)} has no containerPort; the API server requires one", path)
        yield number, port.at("containerPort")


@check(
    id="KF-POD-023",
    name="privileged-port-not-allowed",
    title="Container declares a privileged port it is not allowed to bind",
    verified="Container may bind every port it declares",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD, mitre=("T1611",), owasp=("K01",), trivy=("KSV-0117",), kube_linter=("privileged-ports",)
    ),
    remediation="Listen on a port of 1024 or more (a Service maps port 80 to targetPort 8080), or set the pod sysctl net.ipv4.ip_unprivileged_port_start, or add the NET_BIND_SERVICE capability (and nothing else).",
)
def privileged_port_not_allowed(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers that declare a `containerPort` below the pod's first unprivileged port
    while their security context does not let them bind it. Binding such a port takes
    `CAP_NET_BIND_SERVICE` in the pod's network namespace (Linux `inet_bind`), so the check
    decides, per container:

    - the first unprivileged port: 1024, or the pod's `net.ipv4.ip_unprivileged_port_start`
      sysctl (dotted or `/` form; a safe sysctl). For `hostNetwork` pods the node's own setting
      applies, which the manifest does not show, so 1024 is assumed.
    - whether the process holds `CAP_NET_BIND_SERVICE`: yes when the container is privileged,
      adds `NET_BIND_SERVICE` (or `ALL`), or runs as UID 0 and keeps the runtime's default set
      (containerd and CRI-O include it); no when it drops `NET_BIND_SERVICE` (or `ALL` without
      adding it back), or runs as a non-root UID (`runAsUser` above 0, or `runAsNonRoot: true`)
      without adding it. Capabilities are applied in containerd's order (add `ALL`, drop `ALL`,
      add each, drop each).

    When neither `runAsUser` nor `runAsNonRoot` is set, the image's `USER` decides; root
    images hold the capability, so the container is not reported (KF-POD-006 reports that it
    may run as root). `hostPort` is not judged here: the node maps it with the CNI port mapping,
    not the container's process (KF-POD-016 reports host ports).

    A non-root process can still bind when its binary carries the file capability
    (`setcap cap_net_bind_service=+ep`) and the capability stays in the bounding set; the
    message says so. Adding `NET_BIND_SERVICE` documents that the image relies on it.

    ## Why is this bad?
    The manifest promises a port the container cannot open: the application fails at start,
    or someone "fixes" it by running the container as root or privileged, which is what an
    escape from the container then starts from (MITRE ATT&CK T1611, Escape to Host). Ports
    below 1024 are the ones reserved for root on a host; a container gains nothing from them
    that a Service's port mapping does not give without privileges.

    ## Example
    ```yaml
    containers:
    - name: web
      image: registry.example.com/web:2.3
      ports:
      - containerPort: 80
      securityContext:
        runAsUser: 10001
        capabilities:
          drop: ["ALL"]
    ```

    ## How to fix
    ```yaml
    containers:
    - name: web
      image: registry.example.com/web:2.3
      ports:
      - containerPort: 8080     # the Service maps port 80 to targetPort 8080
      securityContext:
        runAsUser: 10001
        capabilities:
          drop: ["ALL"]
    ```
    or, for an application that insists on port 80, keep the container unprivileged with the
    sysctl:
    ```yaml
    spec:
      securityContext:
        sysctls:
        - {name: net.ipv4.ip_unprivileged_port_start, value: "80"}
    ```

    ## Not applicable when
    - ephemeral containers cannot declare ports;
    - Windows pods have no privileged ports (`spec.os.name: windows`).

    ## References
    - https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/
    - https://man7.org/linux/man-pages/man7/capabilities.7.html
    - https://www.kernel.org/doc/Documentation/networking/ip-sysctl.txt
    """
    if c.kind == "ephemeral container":
        raise NotApplicable(NO_PORTS)
    if pod.is_windows():
        raise NotApplicable(WINDOWS)
    ports = list(_declared_ports(c))
    if not ports:
        return
    start, _where = unprivileged_port_start(pod)
    low = [(n, p) for n, p in ports if 0 < n < start]
    if not low:
        return
    perm = bind_permission(pod, c)
    if perm.allowed is not False:
        return
    shown = ", ".join(str(n) for n, _ in low)
    network = " on the node's network (hostNetwork)" if pod.scope("hostNetwork").bool("hostNetwork") else ""
    unless = (
        "" if "drops" in perm.why else " unless the image's binary carries the file capability cap_net_bind_service"
    )
    yield Violation(
        f"{c.label()} declares containerPort {shown}{network}, below {start} (privileged), but {perm.why}: "
        f"the bind fails{unless}",
        low[0][1],
    )


# -- what the container runs ---------------------------------------------------------------------
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "yash"})
# words that run the command after them: (how many arguments of their own they take)
_WRAPPERS = {
    "exec": 0,
    "nohup": 0,
    "time": 0,
    "command": 0,
    "builtin": 0,
    "env": 0,
    "nice": 0,
    "ionice": 0,
    "setsid": 0,
    "stdbuf": 0,
    "busybox": 0,
    "tini": 0,
    "tini-static": 0,
    "dumb-init": 0,
    "catatonit": 0,
    "s6-svscan": 0,
    "timeout": 1,
    "chroot": 1,
    "gosu": 1,
    "su-exec": 1,
    "setpriv": 0,
}
_CONTROL = frozenset({";", ";;", "&", "&&", "|", "||", "|&", "(", ")", "{", "}", "!", "`"})
_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "case", "esac"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_C = re.compile(r"^-[A-Za-z]*c[A-Za-z]*$")  # -c, -ec, -xc, -lc ...
MAX_NESTING = 4


@dataclass(frozen=True, slots=True)
class CommandWord:
    """A word the container runs as a command, with the words after it and where it is written."""

    word: str
    rest: tuple[str, ...]
    path: Path_

    @property
    def base(self) -> str:
        return self.word.rpartition("/")[2]  # posixpath.basename


def _words(text: str) -> list[str]:
    """The words of a shell command line, with sh's quoting and comments; the control operators
    are words of their own. ValueError on an open quote."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()`")
    lexer.whitespace_split = True
    return list(lexer)


def _lines(script: str) -> Iterator[list[str]]:
    """The words of each command line of a script: a quoted string may span lines, and a
    backslash at the end of a line continues it (both as sh reads them)."""
    buffer = ""
    for line in script.replace("\\\n", " ").splitlines():
        buffer = f"{buffer}\n{line}" if buffer else line
        try:
            words = _words(buffer)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        buffer = ""
        yield words
    if buffer:  # a quote never closed: the shell fails on it; read the words as they are
        yield buffer.split()


def _simple_commands(script: str) -> Iterator[list[str]]:
    """The simple commands of a shell script: its lines, split at the control operators."""
    for words in _lines(script):
        current: list[str] = []
        for w in words:
            if w in _CONTROL:
                if current:
                    yield current
                current = []
            else:
                current.append(w)
        if current:
            yield current


def _commands(argv: Sequence[str], where: Sequence[int], depth: int = 0) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """The command words of one simple command (an argv), following wrappers (`exec`, `env`,
    `tini --`, `gosu user` ...) and the scripts of `sh -c` (nested up to MAX_NESTING): (word,
    the words after it, `where` of the word: the element of the container's argv it is written in)."""
    i, n = 0, len(argv)
    while i < n and (argv[i] in _KEYWORDS or _ASSIGNMENT.match(argv[i])):
        i += 1
    while i < n:
        word = argv[i]
        base = posixpath.basename(word)
        if base in _WRAPPERS:
            i += 1
            while i < n and (argv[i].startswith("-") or (base == "env" and _ASSIGNMENT.match(argv[i]))):
                i += 1
            i += _WRAPPERS[base]
            continue
        yield word, tuple(argv[i + 1 :]), where[i]
        if base in _SHELLS and depth < MAX_NESTING:
            script = _shell_script(argv, i + 1)
            if script is not None:
                for cmd in _simple_commands(argv[script]):
                    yield from _commands(cmd, [where[script]] * len(cmd), depth + 1)
        return


def _shell_script(argv: Sequence[str], j: int) -> int | None:
    """The index of the script a shell runs with `-c` (options before it: `-e`, `-o pipefail`),
    None when it runs a script file or reads standard input."""
    while j < len(argv) - 1:
        a = argv[j]
        if _SHELL_C.match(a):
            return j + 1
        if a in ("-o", "+o", "-O", "+O"):
            j += 2
        elif a.startswith(("-", "+")):
            j += 1
        else:
            return None
    return None


def container_commands(c: ContainerView) -> list[CommandWord]:
    """Every command word of the container's `command` + `args` (args alone when command is
    unset: the image's entrypoint receives them, and entrypoint scripts usually run them)."""
    return memoised(c.memo, "commands", _container_commands, c)


def _container_commands(c: ContainerView) -> list[CommandWord]:
    command = c.str_list("command")
    args = c.str_list("args")
    if not command and not args:
        return []  # the image's entrypoint and command: nothing the manifest shows
    paths = [c.at("command", i) for i in range(len(command))] + [c.at("args", i) for i in range(len(args))]
    return [CommandWord(word, rest, paths[i]) for word, rest, i in _argv_commands(tuple(command + args))]


# A pure function of the words, cached: replicas, sibling workloads and every admission request
# for a workload run the same commands (scripts can be long: a bounded cache).
@functools.lru_cache(maxsize=1024)
def _argv_commands(argv: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...], int], ...]:
    """The command words of a container's argv (`command` + `args`), each with the index of the
    argv element it is written in."""
    return tuple(_commands(argv, range(len(argv))))


SUDO = frozenset({"sudo", "doas"})


@check(
    id="KF-POD-024",
    name="sudo-in-container-command",
    title="Container command runs sudo",
    verified="Container command does not run sudo",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(nsa=NSA_POD, mitre=("T1548.003",), owasp=("K01",), kubescape=("C-0062",)),
    remediation="Run the command as the user it needs (runAsUser) instead of calling sudo, remove sudo from the image, and set allowPrivilegeEscalation: false.",
)
def sudo_in_container_command(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose `command` or `args` run `sudo` (or `doas`) as a command: the
    program itself, after wrappers such as `exec`, `env`, `tini --` or `gosu USER`, or a command
    of a `sh -c` / `bash -c` script (every line and every `;`, `&&`, `||`, `|`, `$(...)`
    segment, with the shell's quoting, so `echo "sudo"` is not a command). When only `args` is
    set, its first word is read as a command too: the image's entrypoint receives it, and
    entrypoint scripts usually run it. Every kind of container is judged.

    ## Why is this bad?
    A command that needs `sudo` means the image ships a setuid-root `sudo` and a sudoers rule
    for the container's user: any code running as that user becomes root in the container with
    one command (MITRE ATT&CK T1548.003, Sudo and Sudo Caching), which defeats `runAsNonRoot`
    and `runAsUser`. With `allowPrivilegeEscalation: false` sudo cannot work at all, so the
    command either fails or the container already runs as root.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      command: ["sh", "-c", "sudo chown app /data && exec app"]
    ```

    ## How to fix
    ```yaml
    spec:
      securityContext:
        fsGroup: 10001          # the kubelet makes the volume writable for the group
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
        command: ["app"]
        securityContext:
          runAsUser: 10001
          allowPrivilegeEscalation: false
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    - https://attack.mitre.org/techniques/T1548/003/
    """
    for cmd in container_commands(c):
        if cmd.base in SUDO:
            yield Violation(f"{c.label()} runs {cmd.base} in its command: {_shown(cmd)}", cmd.path)
            return


def _shown(cmd: CommandWord) -> str:
    text = " ".join((cmd.word, *cmd.rest))
    return repr(text if len(text) <= 80 else text[:77] + "...")


SSH_DAEMONS = frozenset({"sshd", "dropbear"})
_SSH_SERVICES = frozenset({"ssh", "sshd", "dropbear", "ssh.service", "sshd.service", "dropbear.service"})
SSH_PORT = 22


def _starts_ssh(cmd: CommandWord) -> bool:
    """`sshd`, `dropbear`, `service ssh start`, `rc-service sshd start`, `systemctl start sshd`,
    `/etc/init.d/ssh start`."""
    if cmd.base in SSH_DAEMONS:
        return True
    if "/init.d/" in cmd.word and cmd.base in _SSH_SERVICES:
        return True
    words = [w for w in cmd.rest if not w.startswith("-")]
    if cmd.base in ("service", "rc-service"):
        return bool(words) and words[0] in _SSH_SERVICES
    if cmd.base == "systemctl":
        return len(words) >= 2 and words[0] in ("start", "restart", "enable") and words[1] in _SSH_SERVICES
    return False


def _ssh_ports(c: ContainerView) -> Iterator[tuple[str, Path_]]:
    ports = c.plain_ports()
    if ports is None:
        yield from ssh_ports_checked(c)
        return
    for i, item in enumerate(ports):
        number, name = item["containerPort"], item.get("name")
        if number == SSH_PORT:
            yield f"containerPort {SSH_PORT}", c.at("ports", i, "containerPort")
        elif name is not None and name.lower() == "ssh":
            yield f"a port named {name!r} ({number})", c.at("ports", i, "name")


def ssh_ports_checked(c: ContainerView) -> Iterator[tuple[str, Path_]]:
    """`_ssh_ports` entry by entry: NotEvaluated for the first entry that is not a mapping, or
    whose containerPort or name is of another type (the API server rejects the pod)."""
    for i, item in enumerate(c.list("ports")):
        path = c.at("ports", i)
        port = Fields(need(item, dict, "a container port mapping", path), path)
        number, name = port.int("containerPort"), port.str("name")
        if number == SSH_PORT:
            yield f"containerPort {SSH_PORT}", port.at("containerPort")
        elif name is not None and name.lower() == "ssh":
            yield f"a port named {name!r} ({number})", port.at("name")


@check(
    id="KF-POD-025",
    name="ssh-server-in-container",
    title="Container runs or exposes an SSH server",
    verified="Container neither runs nor exposes an SSH server",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD, mitre=("T1021.004", "T1133"), owasp=("K01",), kubescape=("C-0042",), kube_linter=("ssh-port",)
    ),
    remediation="Remove the SSH server from the image and the port from the pod; use kubectl exec or kubectl debug (audited, RBAC-controlled) for interactive access.",
)
def ssh_server_in_container(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers that start an SSH server or declare the SSH port:

    - a command word (read as in KF-POD-024: the program, after wrappers, and in `sh -c`
      scripts) that is `sshd` or `dropbear`, or starts the SSH service (`service ssh start`,
      `rc-service sshd start`, `systemctl start sshd`, `/etc/init.d/ssh start`);
    - a `containerPort` of 22, or a port named `ssh`.

    Every kind of container is judged (ephemeral containers declare no ports, but their
    command is read).

    ## Why is this bad?
    An SSH server is a second, unaudited way into the container: it has its own accounts,
    keys and passwords that Kubernetes RBAC and audit logs do not see, it is a classic target
    of password guessing once exposed, and it keeps a shell and its tools in the image
    (MITRE ATT&CK T1021.004, Remote Services: SSH). `kubectl exec` and `kubectl debug` give
    interactive access under RBAC and audit instead.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      command: ["sh", "-c", "/usr/sbin/sshd && exec app"]
      ports:
      - {name: ssh, containerPort: 22}
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      command: ["app"]
    ```
    and use `kubectl exec -it POD -- sh` (or `kubectl debug`) when someone needs a shell.

    ## References
    - https://kubernetes.io/docs/tasks/debug/debug-application/get-shell-running-container/
    - https://attack.mitre.org/techniques/T1021/004/
    """
    found: list[tuple[str, Path_]] = [
        (f"starts an SSH server: {_shown(cmd)}", cmd.path) for cmd in container_commands(c) if _starts_ssh(cmd)
    ]
    found += [(f"declares {what} (SSH)", path) for what, path in _ssh_ports(c)]
    if found:
        yield Violation(f"{c.label()} " + "; ".join(what for what, _ in found), found[0][1])
