"""Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`), read as the API server reads them.

The grammar is apimachinery's (k8s.io/apimachinery/pkg/api/resource/quantity.go):

    <quantity>        ::= <signedNumber><suffix>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>

`Quantity.UnmarshalJSON` trims surrounding spaces, takes JSON numbers as their text, and reads
`null` as zero. Values are exact (`Decimal`): the API server's fixed-point arithmetic never
rounds a comparison either. (`kubernetes.utils.parse_quantity` is laxer, accepting `1E3Mi`, and
importing it loads the whole Kubernetes client, a second per scan.)
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal

_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


class QuantityError(ValueError):
    """The value is not a quantity; the message says why (for a NotEvaluated reason)."""


def parse_quantity(value: object) -> Decimal:
    """The exact value of a quantity as decoded from JSON/YAML: a string, a number or null (zero)."""
    if type(value) is str:  # the common case
        return _parse_text(value.strip())
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"{value!r:.40} is not a quantity (a string such as 500m or 1Gi, or a number)")
    if isinstance(value, float) and not math.isfinite(value):
        raise QuantityError(f"{value} is not a quantity; JSON has no such number")
    text = value.strip() if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    return _parse_text(text)


# A pure function of the text, cached: the same few quantities (`100m`, `256Mi`) recur in every
# container of a scan, and each is read by several checks. Decimals are immutable, so sharing
# them is safe; a QuantityError is not cached (raised afresh each time).
@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Decimal:
    m = _QUANTITY.fullmatch(text)
    if m is None:
        raise QuantityError(f"{text!r:.40} is not a quantity (such as 500m, 2, 1.5Gi or 1e3)")
    number, suffix = Decimal(m.group(1)), m.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    if suffix:
        return number.scaleb(int(suffix[1:]))
    return number


def format_quantity(value: Decimal, resource: str) -> str:
    """A value in the units people write: millicores for CPU below one core, binary units for bytes."""
    if resource == "cpu":
        return f"{value.normalize():f}" if value >= 1 or value == 0 else f"{(value * 1000).normalize():f}m"
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        if value >= _BINARY[suffix] and value % _BINARY[suffix] == 0:
            return f"{value // _BINARY[suffix]}{suffix}"
    return f"{value.normalize():f}"
