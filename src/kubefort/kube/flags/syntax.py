"""Go flag / spf13/pflag command-line syntax: parse_args, and Go's bool and duration parsers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kubefort.kube.flags.tables import BOOL_FLAGS

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
