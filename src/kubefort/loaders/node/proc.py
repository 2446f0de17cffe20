"""The node's process table (`/proc`, or the directory --proc names): which Kubernetes components
run, with what command line (`/proc/<pid>/cmdline`) and, for etcd, what environment
(`/proc/<pid>/environ`). k3s and RKE2 server/agent processes are recorded as `<dist>-server` /
`<dist>-agent`.
"""

from __future__ import annotations

import os
import posixpath
from typing import NamedTuple

from kubefort.kube.flags import find_in_argv
from kubefort.loaders.node.fs import MAX_READ

DISTROS = ("k3s", "rke2")


class Process(NamedTuple):
    pid: int
    argv: list[str]  # from the component's binary on (a hyperkube wrapper is dropped)


class ProcessTable:
    """The components found in a /proc directory, one process each."""

    def __init__(self, proc_dir: str) -> None:
        self.dir = os.path.abspath(proc_dir)
        self.procs: dict[str, Process] = {}

    def get(self, name: str) -> Process | None:
        return self.procs.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.procs

    def read(self, rel: str) -> bytes:
        """A file under the /proc directory (`<pid>/cmdline`, `<pid>/root/etc/...`)."""
        with open(os.path.join(self.dir, rel), "rb") as fh:
            return fh.read(MAX_READ)

    def scan(self) -> list[str]:
        """Find the components' processes; returns warnings (several processes of one component)."""
        warnings: list[str] = []
        try:
            pids = sorted((p for p in os.listdir(self.dir) if p.isdigit()), key=int)
        except OSError:
            pids = []
        for pid in pids:
            try:
                raw = self.read(f"{pid}/cmdline")
            except OSError:
                continue
            argv = [a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")] if raw.strip(b"\0") else []
            if len(argv) == 1 and " " in argv[0]:  # a process that rewrote its title (k3s)
                argv = argv[0].split()
            if not argv:
                continue
            base = posixpath.basename(argv[0])
            if base in DISTROS and len(argv) > 1 and argv[1] in ("server", "agent"):
                self.procs.setdefault(f"{base}-{argv[1]}", Process(int(pid), argv))
                continue
            found = find_in_argv(argv)
            if found is None:
                continue
            comp = found[0]
            if comp in self.procs:
                warnings.append(f"several {comp} processes; using pid {self.procs[comp].pid}")
                continue
            self.procs[comp] = Process(int(pid), argv[found[1] :])
        return warnings

    def environ(self, pid: int) -> dict[str, str] | None:
        """The process environment; None when it cannot be read (another user's process)."""
        try:
            raw = self.read(f"{pid}/environ")
        except OSError:
            return None
        env: dict[str, str] = {}
        for item in raw.split(b"\0"):
            k, eq, v = item.decode("utf-8", "replace").partition("=")
            if eq:
                env[k] = v
        return env

    def etcd_env(self, pid: int) -> tuple[dict[str, str], bool]:
        """The ETCD_* variables of an etcd process, and whether its environment could be read."""
        env = self.environ(pid)
        return {k: v for k, v in (env or {}).items() if k.startswith("ETCD_")}, env is not None
