"""What kubefort keeps between checks of one object, and across objects, replays exactly.

* `memoised_iter` walks once: later calls give the same items, and a walk that raised raises
  the same NotEvaluated again (a new exception, the same reason and path) after those items.
* `find_pods` asked again about the object it was last asked about gives the same views (in a
  new list), or raises its NotEvaluated again; another object, or other pod template paths,
  are read afresh.
* `parse_quantity` caches quantities by their text: the same value for the same text however
  often it is asked, an error raised every time for text that is not a quantity, and numbers
  read as before (a float keeps its exponent, a bool is refused).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubefort.kube.pods import find_pods, memoised_iter
from kubefort.kube.quantity import QuantityError, parse_quantity
from kubefort.model import NotEvaluated, Resource, ResourceId, Source


def test_a_walk_is_replayed_with_its_error_after_its_items() -> None:
    calls = []

    def produce(n: int) -> Iterator[int]:
        calls.append(n)
        yield from range(n)
        raise NotEvaluated("item 3 is a string", ("spec", 3))

    memo: dict[Any, Any] = {}
    seen = []
    for _ in range(3):
        items = []
        with pytest.raises(NotEvaluated) as exc:
            for item in memoised_iter(memo, "k", produce, 3):
                items.append(item)  # noqa: PERF402 - keeps the items seen before the error
        seen.append(exc.value)
        assert items == [0, 1, 2]
        assert (exc.value.reason, exc.value.path) == ("item 3 is a string", ("spec", 3))
    assert calls == [3]
    assert len({id(e) for e in seen}) == 3  # a new exception each time


def test_a_walk_that_ended_well_is_replayed_as_its_items() -> None:
    calls = []

    def produce() -> Iterator[str]:
        calls.append(1)
        yield "a"
        yield "b"

    memo: dict[Any, Any] = {}
    first, second = memoised_iter(memo, "k", produce), memoised_iter(memo, "k", produce)
    assert next(first) == "a" and list(second) == ["a", "b"] and list(first) == ["b"]  # independent iterators
    assert calls == [1]
    assert list(memoised_iter(memo, "other", produce)) == ["a", "b"] and calls == [1, 1]


def _deployment(spec: object) -> Resource:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": spec}}
    return Resource(ResourceId("apps/v1", "Deployment", None, "d"), obj, Source("-"))


def test_find_pods_gives_the_same_views_for_the_object_it_was_last_asked_about() -> None:
    res = _deployment({"spec": {"containers": [{"name": "app", "image": "nginx"}]}})
    first = find_pods(res)
    again = find_pods(res, {})  # no pod template paths, as None
    assert again is not first and again[0] is first[0]
    twin = _deployment({"spec": {"containers": [{"name": "app", "image": "nginx"}]}})
    assert find_pods(twin)[0] is not first[0]  # another object (of equal content)
    assert find_pods(res)[0] is not first[0]  # no longer the last one asked about: read afresh
    paths = {"Deployment": [("spec", "template", "spec")]}
    assert find_pods(res, paths)[0] is not find_pods(res)[0]


def test_find_pods_raises_again_for_a_malformed_pod_spec() -> None:
    res = _deployment("not a template")
    errors = []
    for _ in range(2):
        with pytest.raises(NotEvaluated) as exc:
            find_pods(res)
        errors.append(exc.value)
    assert errors[0] is not errors[1]
    assert (errors[0].reason, errors[0].path) == (errors[1].reason, errors[1].path)
    assert errors[0].path == ("spec", "template")


NUMBER = st.from_regex(r"[+-]?(?:[0-9]{1,4}(?:\.[0-9]{0,3})?|\.[0-9]{1,3})", fullmatch=True)
SUFFIX = st.sampled_from(["", "m", "k", "M", "Gi", "Ki", "e3", "E-2", "n", "u", "Ei"])


@given(number=NUMBER, suffix=SUFFIX, pad=st.sampled_from(["", " ", "  "]))
def test_a_quantity_reads_the_same_however_often_and_however_padded(number: str, suffix: str, pad: str) -> None:
    text = number + suffix
    value = parse_quantity(text)
    assert parse_quantity(pad + text + pad) == value == parse_quantity(text)
    assert isinstance(value, Decimal)


@given(text=st.text(max_size=8).filter(lambda t: t.strip() and not t.strip()[0].isdigit()))
def test_text_that_is_not_a_quantity_is_refused_every_time(text: str) -> None:
    for _ in range(2):
        try:
            parse_quantity(text)
        except QuantityError as exc:
            assert "is not a quantity" in str(exc)
        else:  # a few texts are quantities (".5", "+.5m"): they must read as their own value
            assert parse_quantity(text) == parse_quantity(text.strip())


def test_numbers_are_read_as_numbers_not_as_cached_text() -> None:
    assert parse_quantity(2) == Decimal(2) and parse_quantity("2") == Decimal(2)
    assert str(parse_quantity(1.5)) == "1.5" and str(parse_quantity(1.0)) == "1.0"
    assert parse_quantity(None) == Decimal(0)
    bad: object
    for bad in (True, False, [], {}, float("nan")):
        with pytest.raises(QuantityError):
            parse_quantity(bad)
