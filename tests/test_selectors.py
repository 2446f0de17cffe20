"""kubefort.kube.selectors against the Kubernetes rules for metav1.LabelSelector.

The oracle below is written from the API reference, on plain dicts, sharing nothing with the
implementation: matchLabels AND matchExpressions; In / NotIn / Exists / DoesNotExist; NotIn and
DoesNotExist match when the key is absent; an empty selector matches everything. Invalid
selectors (In/NotIn without values, Exists/DoesNotExist with values, unknown operators, wrong
types) raise SelectorError naming the offending field. The NetworkPolicy engine's bitset
evaluation is held to the same semantics.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.kube.netpol import Analysis, Cluster, Workload
from kubefort.kube.selectors import Selector, SelectorError, parse_selector, selector_matches
from kubefort.model import NotEvaluated

KEYS = ["app", "tier", "env", "example.com/team"]
VALUES = ["", "a", "b", "c"]

labels_st = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=4)
values_st = st.lists(st.sampled_from(VALUES), min_size=1, max_size=3)
expr_st = st.one_of(
    st.builds(
        lambda k, op, v: {"key": k, "operator": op, "values": v},
        st.sampled_from(KEYS),
        st.sampled_from(["In", "NotIn"]),
        values_st,
    ),
    st.builds(
        lambda k, op: {"key": k, "operator": op}, st.sampled_from(KEYS), st.sampled_from(["Exists", "DoesNotExist"])
    ),
)


@st.composite
def selector_st(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.integers(0, 9)) == 0:
        return None  # absent
    sel: dict[str, Any] = {}
    if draw(st.booleans()):
        sel["matchLabels"] = draw(labels_st)
    if draw(st.booleans()):
        sel["matchExpressions"] = draw(st.lists(expr_st, max_size=4))
    return sel


def oracle(sel: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """The API reference, literally: every requirement must hold."""
    requirements: list[bool] = []
    for key, value in ((sel or {}).get("matchLabels") or {}).items():
        requirements.append(key in labels and labels[key] == value)
    for e in (sel or {}).get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], set(e.get("values") or [])
        present = key in labels
        if op == "In":
            requirements.append(present and labels[key] in values)
        elif op == "NotIn":
            requirements.append(not present or labels[key] not in values)
        elif op == "Exists":
            requirements.append(present)
        else:
            requirements.append(not present)
    return all(requirements)


@settings(max_examples=500, deadline=None)
@given(selector_st(), labels_st)
def test_matches_as_the_api_defines(sel: dict[str, Any] | None, labels: dict[str, str]) -> None:
    parsed = parse_selector(sel, ("spec", "podSelector"))
    assert parsed.matches(labels) == oracle(sel, labels) == selector_matches(sel, labels)
    assert parsed.empty == (not (sel or {}).get("matchLabels") and not (sel or {}).get("matchExpressions"))


@settings(max_examples=200, deadline=None)
@given(labels_st)
def test_empty_selector_matches_everything(labels: dict[str, str]) -> None:
    for sel in (
        None,
        {},
        {"matchLabels": {}},
        {"matchExpressions": []},
        {"matchLabels": None, "matchExpressions": None},
    ):
        assert parse_selector(sel).empty and parse_selector(sel).matches(labels)
    assert parse_selector(None) == Selector() and str(Selector()) == "<all>"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KEYS), values_st, labels_st)
def test_absent_key(key: str, values: list[str], labels: dict[str, str]) -> None:
    labels = {k: v for k, v in labels.items() if k != key}
    assert parse_selector({"matchExpressions": [{"key": key, "operator": "NotIn", "values": values}]}).matches(labels)
    assert parse_selector({"matchExpressions": [{"key": key, "operator": "DoesNotExist"}]}).matches(labels)
    assert not parse_selector({"matchExpressions": [{"key": key, "operator": "In", "values": values}]}).matches(labels)
    assert not parse_selector({"matchExpressions": [{"key": key, "operator": "Exists"}]}).matches(labels)
    assert not parse_selector({"matchLabels": {key: values[0]}}).matches(labels)


@settings(max_examples=200, deadline=None)
@given(selector_st(), st.randoms(use_true_random=False))
def test_canonical(sel: dict[str, Any] | None, rnd: Any) -> None:
    """Order and repeats of labels and values do not change the parsed selector (it is a cache key)."""
    if not sel:
        return
    shuffled: dict[str, Any] = {}
    if "matchLabels" in sel:
        items = list(sel["matchLabels"].items())
        rnd.shuffle(items)
        shuffled["matchLabels"] = dict(items)
    if "matchExpressions" in sel:
        exprs = []
        for expr in sel["matchExpressions"]:
            e = dict(expr)
            if "values" in e:
                vals = e["values"] + e["values"][:1]
                rnd.shuffle(vals)
                e["values"] = vals
            exprs.append(e)
        shuffled["matchExpressions"] = exprs
    assert parse_selector(shuffled) == parse_selector(sel)
    assert hash(parse_selector(shuffled)) == hash(parse_selector(sel))


INVALID = [
    ("x", (), "is a string, expected a label selector"),
    ({"matchLabels": ["a"]}, ("matchLabels",), "is a list, expected a mapping"),
    ({"matchLabels": {"a": 1}}, ("matchLabels",), "keys and values must be strings"),
    ({"matchExpressions": {"key": "a"}}, ("matchExpressions",), "is not a list"),
    ({"matchExpressions": ["a"]}, ("matchExpressions", 0), "is not a mapping"),
    ({"matchExpressions": [{"operator": "Exists"}]}, ("matchExpressions", 0), "needs a key"),
    ({"matchExpressions": [{"key": "", "operator": "Exists"}]}, ("matchExpressions", 0), "needs a key"),
    (
        {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
        ("matchExpressions", 0),
        "has operator 'Gt'",
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "in", "values": ["1"]}]},
        ("matchExpressions", 0),
        "has operator 'in'",
    ),
    ({"matchExpressions": [{"key": "a", "operator": "In"}]}, ("matchExpressions", 0), "operator In needs values"),
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        ("matchExpressions", 0),
        "operator In needs values",
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]},
        ("matchExpressions", 0),
        "operator NotIn needs values",
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        ("matchExpressions", 0),
        "operator Exists takes no values",
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["x"]}]},
        ("matchExpressions", 0),
        "takes no values",
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]},
        ("matchExpressions", 0),
        "values must be a list of strings",
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]},
        ("matchExpressions", 0),
        "values must be a list of strings",
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "In"}]},
        ("matchExpressions", 1),
        "operator In needs values",
    ),
]


@pytest.mark.parametrize(("sel", "where", "message"), INVALID)
def test_invalid_selectors_are_not_evaluated(sel: Any, where: tuple[str | int, ...], message: str) -> None:
    base = ("spec", "ingress", 0, "from", 0, "podSelector")
    with pytest.raises(SelectorError) as info:
        parse_selector(sel, base)
    assert isinstance(info.value, NotEvaluated)
    assert info.value.path == base + where
    assert message in info.value.reason
    with pytest.raises(SelectorError):
        selector_matches(sel, {"a": "1"})


@settings(max_examples=300, deadline=None)
@given(st.lists(labels_st, min_size=1, max_size=8), st.lists(selector_st(), min_size=1, max_size=4))
def test_netpol_bitsets_agree(workload_labels: list[dict[str, str]], sels: list[dict[str, Any] | None]) -> None:
    """The NetworkPolicy engine's bitset evaluation selects exactly the workloads Selector.matches does."""
    workloads = [Workload("ns", "Deployment", f"w{i}", labels) for i, labels in enumerate(workload_labels)]
    analysis = Analysis(Cluster(workloads, []))
    for sel in sels:
        parsed = parse_selector(sel)
        bits = analysis.sel_bits(parsed)
        assert [bool(bits >> i & 1) for i in range(len(workloads))] == [parsed.matches(w.labels) for w in workloads]
        assert [bool(bits >> i & 1) for i in range(len(workloads))] == [oracle(sel, w.labels) for w in workloads]


@pytest.mark.parametrize("bad", [{}, "", 0, False, "In"])
def test_wrong_typed_expression_lists_are_refused_not_read_as_empty(bad: object) -> None:
    """Only null is absent: a falsy value of another type is a selector the API server refuses."""
    with pytest.raises(SelectorError) as exc:
        parse_selector({"matchExpressions": bad}, ("spec", "selector"))
    assert exc.value.path == ("spec", "selector", "matchExpressions")
    with pytest.raises(SelectorError) as exc:
        parse_selector({"matchExpressions": [{"key": "a", "operator": "Exists", "values": bad}]})
    assert exc.value.path == ("matchExpressions", 0)
    assert parse_selector({"matchExpressions": None, "matchLabels": None}).matches({})
