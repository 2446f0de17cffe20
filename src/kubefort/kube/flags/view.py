"""ComponentView: a component's command line, with typed accessors that apply its parsing rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.flags.syntax import Flag, ParsedArgs, env_name, go_bool, parse_args, split_list
from kubefort.model import NotEvaluated, Path_


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
        m = re.match(r"v?(\d{1,9})\.(\d{1,9})", text or "")
        return (int(m.group(1)), int(m.group(2))) if m else None
