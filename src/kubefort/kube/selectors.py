"""metav1.LabelSelector: parsed as the API server validates it, matched as the API defines it.

The one implementation of label-selector semantics in kubefort (NetworkPolicy pod and namespace
selectors, ClusterRole aggregation selectors):

* a selector matches a label set when every `matchLabels` pair and every `matchExpressions`
  requirement matches (AND); an empty or absent selector matches everything;
* `In`: the key is present with one of the values; `NotIn`: the key is absent, or present with
  none of the values; `Exists`: the key is present (any value); `DoesNotExist`: it is absent;
* `In` and `NotIn` need at least one value; `Exists` and `DoesNotExist` take none; any other
  operator is invalid. An invalid selector raises :class:`SelectorError` (a NotEvaluated)
  naming the offending field, so a caller reports "not evaluated" instead of guessing.

`kubefort.kube.netpol` keeps its own bitset evaluation of many selectors over many workloads
(a different, faster algorithm); it reads the parsed :class:`Selector` from here, so the meaning
of every requirement is defined once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubefort.kube.pods import type_name
from kubefort.model import NotEvaluated, Path_, format_path

__all__ = ["OPERATORS", "Requirement", "Selector", "SelectorError", "parse_selector", "selector_matches"]

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
# a matchExpressions requirement: (key, operator, values sorted and without repeats)
Requirement = tuple[str, str, tuple[str, ...]]


class SelectorError(NotEvaluated):
    """A label selector the API server would reject (wrong types, operator or values)."""


@dataclass(frozen=True, slots=True)
class Selector:
    """A metav1.LabelSelector: every matchLabels pair and every matchExpressions requirement.

    Canonical: `labels` sorted by key, values of each requirement sorted and deduplicated, so
    equal selectors compare and hash equal."""

    labels: tuple[tuple[str, str], ...] = ()
    exprs: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.labels and not self.exprs

    def matches(self, labels: Mapping[str, str]) -> bool:
        for k, v in self.labels:
            if labels.get(k) != v:
                return False
        for k, op, vals in self.exprs:
            if op == "In" and labels.get(k) not in vals:
                return False
            if op == "NotIn" and k in labels and labels[k] in vals:
                return False
            if op == "Exists" and k not in labels:
                return False
            if op == "DoesNotExist" and k in labels:
                return False
        return True

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.labels]
        for k, op, vals in self.exprs:
            parts.append(
                {"In": f"{k} in ({','.join(vals)})", "NotIn": f"{k} notin ({','.join(vals)})", "Exists": k}.get(
                    op, f"!{k}"
                )
            )
        return ",".join(parts) or "<all>"


def _invalid(path: Path_, msg: str) -> SelectorError:
    return SelectorError(f"{format_path(path)} {msg}", path)


# Each rule below builds its message only when it is broken: selectors are parsed for every
# controller, Service and policy, and nearly all of them are valid.
def _match_labels(v: Any, path: Path_) -> dict[str, str]:
    """matchLabels (map[string]string): a null value is the empty string, as the API server decodes it."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _invalid(path, f"is {type_name(v)}, expected a mapping")
    for k, x in v.items():
        if not (isinstance(k, str) and (x is None or isinstance(x, str))):
            raise _invalid(path, f"has {k!r}: {x!r}; keys and values must be strings")
    return {k: x or "" for k, x in v.items()}


def parse_selector(v: Any, path: Path_ = ()) -> Selector:
    """A label selector as the API server validates it; `None` (absent) is the empty selector.

    Raises :class:`SelectorError` with the path of the offending field (under `path`, the
    selector's own path) for wrong types, a missing key, an unknown operator, or values that
    do not fit the operator."""
    if v is None:
        return Selector()
    if not isinstance(v, dict):
        raise _invalid(path, f"is {type_name(v)}, expected a label selector")
    labels = _match_labels(v.get("matchLabels"), path + ("matchLabels",))
    exprs: list[Requirement] = []
    raw = v.get("matchExpressions")
    raw = [] if raw is None else raw  # null is absent; {} or "" is a wrong type, never an empty list
    if not isinstance(raw, list):
        raise _invalid(path + ("matchExpressions",), "is not a list")
    for i, e in enumerate(raw):
        p = path + ("matchExpressions", i)
        if not isinstance(e, dict):
            raise _invalid(p, "is not a mapping")
        key, op, vals = e.get("key"), e.get("operator"), e.get("values")
        vals = [] if vals is None else vals
        if not (isinstance(key, str) and bool(key)):
            raise _invalid(p, "needs a key")
        if op not in OPERATORS:
            raise _invalid(p, f"has operator {op!r}; In, NotIn, Exists or DoesNotExist")
        if not (isinstance(vals, list) and all(isinstance(x, str) for x in vals)):
            raise _invalid(p, "values must be a list of strings")
        if bool(vals) != (op in ("In", "NotIn")):
            raise _invalid(p, f"operator {op} " + ("needs values" if op in ("In", "NotIn") else "takes no values"))
        exprs.append((key, op, tuple(sorted(set(vals)))))
    return Selector(tuple(sorted(labels.items())), tuple(exprs))


def selector_matches(sel: Any, labels: Mapping[str, str]) -> bool:
    """Does the label selector `sel` (as written in an object) match `labels`?

    Raises :class:`SelectorError` when `sel` is invalid."""
    return parse_selector(sel).matches(labels)
