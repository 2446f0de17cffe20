"""What a stored scan looked at: its target (the key findings are tracked under) and labels.

| scan | key | labels |
|---|---|---|
| manifests in a git work tree | `repo:<remote URL, else the top-level directory>` (+ `#<sub/path>` when a subdirectory was scanned) | repo, commit, branch, path |
| manifests elsewhere | `path:<absolute path>` | path |
| live cluster | `cluster:<kubeconfig context, else API server URL>` | context, server |
| snapshot | the cluster the snapshot recorded, as above | context, server, snapshot |
| node | `node:<hostname>` (`ROOT/etc/hostname` with --root) | node |
| audit | `audit:<absolute path of the log>` | source |

Findings are fixed only by a later complete scan of the SAME target, so a target names what was
scanned as precisely as it can: scanning `repo/apps/a` and `repo/apps/b` are two targets.
`--store-target KEY` replaces the key (for example one key per cluster when every cluster's
CronJob sees itself as `in-cluster`). git runs as a subprocess with a timeout; without git (or
outside a work tree) a manifest scan's target is its path. Credentials in a remote URL are dropped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

GIT_TIMEOUT_S = 5.0
KINDS = ("repo", "path", "cluster", "node", "audit")


@dataclass(frozen=True, slots=True)
class TargetLabel:
    """A scan's target: `key` (unique in a store), `kind` (`repo`, `path`, `cluster`, `node`,
    `audit`, or `custom` for a --store-target without one of those prefixes), `labels` that
    describe the target (kept on the target, the latest win) and `scan_labels` that describe this
    one scan of it (commit, branch, snapshot file)."""

    key: str
    kind: str
    labels: dict[str, Any] = field(default_factory=dict)
    scan_labels: dict[str, Any] = field(default_factory=dict)


def override(label: TargetLabel, key: str | None) -> TargetLabel:
    """`--store-target KEY`: the same labels under the user's key."""
    if not key:
        return label
    prefix, sep, _ = key.partition(":")
    return TargetLabel(key, prefix if sep and prefix in KINDS else "custom", label.labels, label.scan_labels)


def redact_url(url: str) -> str:
    """A URL without its password (user names are kept: they say which account wrote)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _remote_without_credentials(url: str) -> str:
    """A git remote URL without user and password (`https://tok@host/x` -> `https://host/x`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or "@" not in parts.netloc:
        return url  # scp-like `git@host:org/repo.git`: the user is not a secret
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _git(cwd: str, *args: str) -> str | None:
    """One line of git output, or None (no git, not a work tree, an error, a timeout)."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        p = subprocess.run(
            [git, "-C", cwd, *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = p.stdout.strip()
    return out if p.returncode == 0 and out else None


def git_info(path: str) -> dict[str, str] | None:
    """{top, repo, commit, branch?} of the git work tree holding `path`, or None."""
    d = path if os.path.isdir(path) else os.path.dirname(path) or "."
    top = _git(d, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    info = {"top": top, "repo": top}
    remote = _git(d, "config", "--get", "remote.origin.url")
    if remote:
        info["repo"] = _remote_without_credentials(remote)
    commit = _git(d, "rev-parse", "--verify", "-q", "HEAD")
    if commit:
        info["commit"] = commit
    branch = _git(d, "symbolic-ref", "-q", "--short", "HEAD")
    if branch:
        info["branch"] = branch
    return info


def for_manifests(paths: Sequence[str]) -> TargetLabel:
    """The target of a manifest scan of `paths` ('-' is stdin)."""
    real = sorted({os.path.abspath(p) for p in paths if p != "-"})
    if not real:
        return TargetLabel("path:-", "path", {"path": "-"})
    git = git_info(real[0])
    if git is not None:
        top = os.path.realpath(git["top"])
        rels = [os.path.relpath(os.path.realpath(p), top) for p in real]
        if all(not r.startswith("..") for r in rels):
            sub = ",".join(r for r in rels if r != ".")
            key = f"repo:{git['repo']}" + (f"#{sub}" if sub and "." not in rels else "")
            scan = {k: git[k] for k in ("commit", "branch") if k in git}
            return TargetLabel(key, "repo", {"repo": git["repo"], "path": ",".join(rels)}, scan)
    joined = ",".join(real)
    return TargetLabel(f"path:{joined}", "path", {"path": joined})


def for_cluster(extras: dict[str, Any], snapshot: str | None = None) -> TargetLabel:
    """The target of a cluster scan (or of a snapshot: the cluster it recorded), from the
    result's `extras["cluster"]` (context name and API server URL)."""
    info = extras.get("cluster") or {}
    name, server = str(info.get("name") or ""), str(info.get("server") or "")
    labels = {"context": name, "server": server}
    scan: dict[str, Any] = {"snapshot": os.path.abspath(snapshot)} if snapshot else {}
    if isinstance(info.get("version"), str):
        scan["version"] = info["version"]
    return TargetLabel(f"cluster:{name or server or 'unknown'}", "cluster", labels, scan)


def node_name(root: str) -> str:
    """The node's name: this host's when `root` is `/`, else `ROOT/etc/hostname` (else the root)."""
    if os.path.realpath(root) == "/":
        return socket.gethostname()
    try:
        with open(os.path.join(root, "etc", "hostname"), encoding="utf-8", errors="replace") as fh:
            name = fh.read(256).strip()
    except OSError:
        name = ""
    return name or os.path.abspath(root)


def for_node(root: str) -> TargetLabel:
    name = node_name(root)
    return TargetLabel(f"node:{name}", "node", {"node": name}, {"root": os.path.abspath(root)})


def for_audit(paths: Sequence[str]) -> TargetLabel:
    """The target of an audit analysis: its log paths (`-` stdin; `serve` the webhook receiver)."""
    src = ",".join(sorted({p if p in ("-", "serve") else os.path.abspath(p) for p in paths})) or "-"
    return TargetLabel(f"audit:{src}", "audit", {"source": src})
