"""go-yaml v2's resolution of plain scalars (YAML 1.1 words, Go integer and float syntax), and
Go's float32 formatting of float keys: the rules both parse paths and the locator share."""

from __future__ import annotations

import math
import re
import struct
from typing import Any

# ---------------------------------------------------------------------------------------------
# go-yaml v2 plain-scalar resolution
# ---------------------------------------------------------------------------------------------
T_STR = "tag:yaml.org,2002:str"
T_INT = "tag:yaml.org,2002:int"
T_FLOAT = "tag:yaml.org,2002:float"
T_BOOL = "tag:yaml.org,2002:bool"
T_NULL = "tag:yaml.org,2002:null"
T_MAP = "tag:yaml.org,2002:map"
T_SEQ = "tag:yaml.org,2002:seq"
T_MERGE = "tag:yaml.org,2002:merge"
T_BINARY = "tag:yaml.org,2002:binary"
T_TIMESTAMP = "tag:yaml.org,2002:timestamp"

_GO_MAP: dict[str, tuple[str, Any]] = {}
for _words, _val, _tag in (
    (("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True, T_BOOL),
    (("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False, T_BOOL),
    (("", "~", "null", "Null", "NULL"), None, T_NULL),
    ((".nan", ".NaN", ".NAN"), float("nan"), T_FLOAT),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf"), T_FLOAT),
    (("-.inf", "-.Inf", "-.INF"), float("-inf"), T_FLOAT),
    (("<<",), "<<", T_MERGE),
):
    for _w in _words:
        _GO_MAP[_w] = (_tag, _val)

_HINT_NUM = set("+-0123456789")
_INT_RE = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_DOTFLOAT_RE = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


def _go_int(plain: str) -> int | float | None:
    """strconv.ParseInt/ParseUint(plain, 0, 64) as go-yaml v2 applies them (underscores removed)."""
    m = _INT_RE.match(plain)
    if not m:
        return None
    sign, digits = m.groups()
    # strconv's own prefixes, each read in its base (int(digits, 0) would also accept Python-only forms)
    if digits[:2] in ("0x", "0X"):
        v = int(digits[2:], 16)  # noqa: FURB166
    elif digits[:2] in ("0o", "0O"):
        v = int(digits[2:], 8)  # noqa: FURB166
    elif digits[:2] in ("0b", "0B"):
        v = int(digits[2:], 2)  # noqa: FURB166
    elif len(digits) > 1 and digits[0] == "0":
        v = int(digits[1:], 8)
    else:
        v = int(digits)
    if sign == "-":
        v = -v
    if _INT64_MIN <= v <= _UINT64_MAX:
        return v
    # out of range: go-yaml tries the float syntax next, then a big integer
    if _FLOAT_RE.match(plain):
        return float(plain)
    return v


def resolve_plain(value: str) -> tuple[str, Any]:
    """The (tag, value) go-yaml v2 gives an untagged plain scalar."""
    if value in _GO_MAP:
        return _GO_MAP[value]
    c = value[0]
    if c in _HINT_NUM:
        plain = value.replace("_", "")
        iv = _go_int(plain)
        if iv is not None:
            return (T_FLOAT if isinstance(iv, float) else T_INT), iv
        if _FLOAT_RE.match(plain):
            return T_FLOAT, float(plain)
        if plain.startswith("-0b") and re.fullmatch(r"-0b[01]+", plain):
            return T_INT, -int(plain[3:], 2)
    elif c == "." and _DOTFLOAT_RE.match(value):
        return T_FLOAT, float(value)
    return T_STR, value


def go_format_float32(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 32), as sigs.k8s.io/yaml formats float mapping keys."""
    if math.isnan(f):
        return ".nan"
    try:
        f32 = struct.unpack("f", struct.pack("f", f))[0]
    except OverflowError:
        f32 = math.inf if f > 0 else -math.inf
    if math.isinf(f32):
        return ".inf" if f32 > 0 else "-.inf"
    if f32 == 0:
        return "-0" if math.copysign(1, f32) < 0 else "0"
    for prec in range(1, 10):  # the shortest digits that read back as the same float32
        text = f"{f32:.{prec - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            break
    mant, exp_s = text.split("e")
    sign = "-" if mant.startswith("-") else ""
    digits = mant.lstrip("-").replace(".", "").rstrip("0") or "0"
    exp = int(exp_s)
    nd, dp = len(digits), exp + 1
    eprec = 6
    if eprec > nd >= dp:
        eprec = nd
    if exp < -4 or exp >= eprec:
        m = digits[0] + ("." + digits[1:] if nd > 1 else "")
        return f"{sign}{m}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= nd:
        return sign + digits + "0" * (dp - nd)
    return f"{sign}{digits[:dp]}.{digits[dp:]}"
