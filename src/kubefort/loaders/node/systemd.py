"""systemd units, drop-ins and environment files: the kubelet's command line as systemd builds it.

Reads `kubelet.service` (or the k3s/RKE2 units, which carry no kubelet flags) from the unit
directories in precedence order, its `<unit>.d/*.conf` drop-ins (a later directory replaces a
same-named drop-in), `Environment=` and `EnvironmentFile=` (kubeadm's 10-kubeadm.conf,
kubeadm-flags.env, /etc/default/kubelet), and expands `$VAR` / `${VAR}` in `ExecStart=`, keeping the
file and line every argument came from.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from kubefort.loaders.node.fs import NodeFS

UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
KUBELET_UNITS = ("kubelet.service", "k3s.service", "k3s-agent.service", "rke2-server.service", "rke2-agent.service")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_WORD = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_DOLLAR_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(slots=True)
class Arg:
    """One command-line argument and where it was written (file, and line when known)."""

    text: str
    file: str
    line: int | None


@dataclass(slots=True)
class KubeletUnit:
    """What the kubelet's systemd unit says."""

    args: list[Arg] | None = None  # ExecStart= expanded; None without kubelet.service or ExecStart=
    unit_files: list[str] = field(default_factory=list)  # the unit, then its drop-ins in order
    env_files: list[str] = field(default_factory=list)  # EnvironmentFile= files that exist
    warnings: list[str] = field(default_factory=list)


def logical_lines(text: str) -> list[tuple[int, str]]:
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


def unquote_words(value: str) -> list[str]:
    """Shell-like words with quotes removed (plain whitespace splitting when the quotes do not pair up)."""
    try:
        return shlex.split(value, posix=True)
    except ValueError:
        return value.split()


def parse_env_file(text: str) -> dict[str, tuple[str, int]]:
    """systemd EnvironmentFile=: KEY=VALUE lines, quotes removed; {key: (value, line)}."""
    env: dict[str, tuple[str, int]] = {}
    for n, line in logical_lines(text):
        key, eq, value = line.strip().partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[7:].strip()
        if not eq or not _NAME.fullmatch(key):
            continue
        env[key] = (" ".join(unquote_words(value.strip())) if value.strip() else "", n)
    return env


def read_kubelet_unit(fs: NodeFS) -> KubeletUnit:
    """The kubelet's argv from its unit and drop-ins, with where each argument came from."""
    out = KubeletUnit()
    unit, unit_name = None, None
    for name in KUBELET_UNITS:
        for d in UNIT_DIRS:
            if fs.exists(f"{d}/{name}"):
                unit, unit_name = f"{d}/{name}", name
                break
        if unit:
            break
    if unit is None or unit_name is None:
        return out
    dropins: dict[str, str] = {}
    for d in reversed(UNIT_DIRS):  # later (higher precedence) directories replace same-named drop-ins
        for entry in fs.listdir(f"{d}/{unit_name}.d"):
            if entry.endswith(".conf"):
                dropins[entry] = f"{d}/{unit_name}.d/{entry}"
    out.unit_files = [unit] + [dropins[n] for n in sorted(dropins)]
    if unit_name != "kubelet.service":
        return out  # k3s/RKE2 start the kubelet themselves: their units carry no kubelet flags
    env: dict[str, tuple[str, str, int]] = {}
    env_files: list[tuple[str, bool]] = []
    exec_start: tuple[str, str, int] | None = None
    for f in out.unit_files:
        try:
            text = fs.read(f).decode("utf-8", "replace")
        except OSError as exc:
            out.warnings.append(f"cannot read {f}: {exc.strerror}")
            continue
        section = None
        for n, line in logical_lines(text):
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
                for w in unquote_words(value):
                    k, eq, v = w.partition("=")
                    if eq:
                        env[k] = (v, f, n)
            elif key == "EnvironmentFile":
                if not value:
                    env_files = []
                else:
                    env_files.extend((w.lstrip("-"), w.startswith("-")) for w in unquote_words(value))
    for path, optional in env_files:  # EnvironmentFile= overrides Environment=
        if not fs.exists(path):
            if not optional:
                out.warnings.append(f"the kubelet unit needs {path}, which is missing under the root")
            continue
        out.env_files.append(path)
        try:
            for k, (v, n) in parse_env_file(fs.read(path).decode("utf-8", "replace")).items():
                env[k] = (v, path, n)
        except OSError as exc:
            out.warnings.append(f"cannot read {path}: {exc.strerror}")
    if exec_start is None:
        return out
    value, f, n = exec_start
    out.args = _expand(value.lstrip("-@+!:"), env, f, n)
    return out


def _expand(value: str, env: dict[str, tuple[str, str, int]], file: str, line: int) -> list[Arg]:
    """ExecStart= words with `$VAR` split into words and `${VAR}` substituted inside one word."""
    out: list[Arg] = []
    for w in unquote_words(value):
        m = _DOLLAR_WORD.fullmatch(w)
        if m:
            v = env.get(m.group(1))
            if v is not None:
                out.extend(Arg(x, v[1], v[2]) for x in v[0].split())
            continue
        refs = _DOLLAR_BRACED.findall(w)
        text = _DOLLAR_BRACED.sub(lambda mm: env.get(mm.group(1), ("", "", 0))[0], w)
        src = env.get(refs[-1]) if refs else None
        out.append(Arg(text, src[1], src[2]) if src else Arg(text, file, line))
    return out
