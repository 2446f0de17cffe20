"""Absent, null and wrong-typed fields, read as the API server decodes them (issue 12, item 19).

The API server decodes JSON (and YAML, converted to JSON) into Go structs: a field that is absent
and a field that is `null` both leave the Go zero value (an empty string, list or map, false, 0),
so no check may tell them apart. In a map (labels, annotations, selectors' matchLabels, resource
lists) a null value is the map's zero element: the key is present with the empty string (or a
zero quantity). A value of the wrong JSON type fails decoding and the object is rejected: a check
that reads the field must say "not evaluated" rather than judge a guess.

Each check is driven over every field of its fixture objects: the registry-wide sweeps are slow
(`pytest -m slow tests/test_absent_fields.py`); the accessor layer and the KF-RES/KF-PSA checks
are tested here in the fast suite.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkrun import EVALUATED, deleted, fixture_objects, get, paths, replaced, statuses
from kubefort.kube.pods import ContainerView, Fields, find_pods
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, NotEvaluated, Path_, Resource, ResourceId, Source
from kubefort.registry import REGISTRY, CheckMeta

# map-typed fields whose values are strings (map[string]string): a null value is ""
STRING_MAPS = frozenset({"labels", "annotations", "matchLabels", "nodeSelector", "data", "stringData", "binaryData"})
# ResourceLists (map[ResourceName]Quantity): a null value is a zero quantity
QUANTITY_MAPS = frozenset({"limits", "requests", "hard"})


def _map_of(path: Path_) -> str | None:
    """The map field that `path` is a key of ("labels", "limits" ...), None for a struct field."""
    if len(path) < 2 or not isinstance(path[-1], str) or not isinstance(path[-2], str):
        return None
    parent = path[-2]
    if parent in STRING_MAPS or parent in QUANTITY_MAPS:
        return parent
    if parent == "selector" and path[-1] not in ("matchLabels", "matchExpressions"):
        return "selector"  # a Service's (or ReplicationController's) selector is a map[string]string
    return None


def _wrong(value: object) -> object:
    """A value of a JSON type no field that holds `value` accepts (no field takes a list or a
    string where a mapping, list or boolean is expected, nor a list where a scalar is)."""
    return "x" if isinstance(value, (dict, list, bool)) else ["x"]


def _variants(objs: tuple[dict[str, Any], ...], i: int) -> list[tuple[Path_, str, list[Any], list[Any]]]:
    """(path, property, docs A, docs B): pairs of inputs that must reach the same outcome."""
    obj = objs[i]
    out = []
    for path in paths(obj):
        if path in (("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("metadata", "namespace")):
            continue
        if not isinstance(path[-1], str):
            continue  # list items: a null item is a zero struct, not an absent one
        kind = _map_of(path)
        null = [*objs[:i], replaced(obj, path, None), *objs[i + 1 :]]
        if kind is None:
            out.append((path, "absent == null", [*objs[:i], deleted(obj, path), *objs[i + 1 :]], null))
        elif kind in QUANTITY_MAPS:
            out.append((path, "null == 0", [*objs[:i], replaced(obj, path, "0"), *objs[i + 1 :]], null))
        else:
            out.append((path, 'null == ""', [*objs[:i], replaced(obj, path, ""), *objs[i + 1 :]], null))
    return out


def _null_mismatches(meta: CheckMeta) -> list[str]:
    objs = fixture_objects(meta.id)
    bad = []
    for i in range(len(objs)):
        for path, prop, a, b in _variants(objs, i):
            got_a, got_b = statuses(meta, a, i), statuses(meta, b, i)
            if got_a != got_b:
                bad.append(f"object {i} {path}: {prop} broken: {got_a} vs {got_b}")
    return bad


def _wrong_type_misreads(meta: CheckMeta) -> list[str]:
    """Fields of a wrong type that the check judged (passed/failed) differently from the fixture."""
    objs = fixture_objects(meta.id)
    bad = []
    for i, obj in enumerate(objs):
        base = statuses(meta, objs, i)
        for path in paths(obj):
            if path in (("apiVersion",), ("kind",)):
                continue
            docs = [*objs[:i], replaced(obj, path, _wrong(get(obj, path))), *objs[i + 1 :]]
            got = statuses(meta, docs, i)
            misread = {
                k: v
                for k, v in got.items()
                if v != "not-evaluated"
                and v != base.get(k)
                # the fixture's own value was refused there: another value may well be a valid one
                and "not-evaluated" not in (base.get(k), base.get(None))
                # documented: a malformed kubefort.io/ignore annotation suppresses nothing (KF-META-001)
                and not (base.get(k) == "suppressed" and v == "failed" and "annotations" in path)
            }
            if misread:
                bad.append(f"object {i} {path} = {_wrong(get(obj, path))!r}: {misread}, fixture gives {base}")
    return bad


# the checks whose modules were audited here (the accessor layer's users in KF-RES, KF-PSA and the
# pod checks): swept in the fast suite; every other check in the slow registry-wide sweep
FAST = [
    m
    for m in EVALUATED
    if m.id.startswith(("KF-RES-", "KF-PSA-", "KF-INPUT-")) or m.id in ("KF-WL-001", "KF-WL-002", "KF-WL-003")
]


@pytest.mark.parametrize("meta", FAST, ids=lambda m: m.id)
def test_absent_equals_null_fast(meta: CheckMeta) -> None:
    assert _null_mismatches(meta) == []


@pytest.mark.parametrize("meta", FAST, ids=lambda m: m.id)
def test_wrong_type_is_not_evaluated_fast(meta: CheckMeta) -> None:
    assert _wrong_type_misreads(meta) == []


# Known gaps the registry-wide sweeps found, left open at the end of issue 12 (its note lists
# them): strict xfail, so each entry fails the suite the day its check is fixed and must go.
NULL_GAPS: dict[str, str] = {}
WRONG_TYPE_GAPS: dict[str, str] = {}


def _known(gaps: dict[str, str]) -> list[object]:
    return [
        pytest.param(m, id=m.id, marks=pytest.mark.xfail(strict=True, reason=gaps[m.id]))
        if m.id in gaps
        else pytest.param(m, id=m.id)
        for m in EVALUATED
    ]


@pytest.mark.slow
@pytest.mark.parametrize("meta", _known(NULL_GAPS))
def test_absent_equals_null(meta: CheckMeta) -> None:
    assert _null_mismatches(meta) == []


@pytest.mark.slow
@pytest.mark.parametrize("meta", _known(WRONG_TYPE_GAPS))
def test_wrong_type_is_not_evaluated(meta: CheckMeta) -> None:
    assert _wrong_type_misreads(meta) == []


# ---------------------------------------------------------------------------------------------
# the accessor layer (kube/pods.py), for every JSON value
# ---------------------------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)
ACCESSORS: dict[str, tuple[type, object]] = {
    "mapping": (dict, {}),
    "list": (list, []),
    "bool": (bool, None),
    "int": (int, None),
    "str": (str, None),
}


@given(value=JSON, accessor=st.sampled_from(sorted(ACCESSORS)))
def test_accessors_read_absent_and_null_alike_and_refuse_wrong_types(value: object, accessor: str) -> None:
    kind, empty = ACCESSORS[accessor]
    read = getattr(Fields({"f": value}, ("spec",)), accessor)
    absent = getattr(Fields({}, ("spec",)), accessor)("f")
    assert absent == empty
    accepted = (
        value is None
        or (isinstance(value, kind) and not (kind is int and isinstance(value, bool)))
        or (kind is int and isinstance(value, float) and value.is_integer())
    )
    if accepted:
        assert read("f") == (empty if value is None else int(value) if kind is int else value)  # type: ignore[call-overload]
    else:
        with pytest.raises(NotEvaluated) as exc:
            read("f")
        assert exc.value.path == ("spec", "f")


@given(value=JSON)
def test_a_null_level_is_an_absent_one(value: object) -> None:
    """A null mapping on the way to a field is the field left out; any other non-mapping is refused."""
    fields = Fields({"a": value}, ())
    if value is None or (isinstance(value, dict) and value.get("b") is None):
        assert fields.bool("a", "b") is None and fields.list("a", "b") == []
    elif not isinstance(value, dict):
        with pytest.raises(NotEvaluated) as exc:
            fields.bool("a", "b")
        assert exc.value.path == ("a",)


def _pod(container: dict[str, Any]) -> Resource:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}}
    return Resource(ResourceId("v1", "Pod", None, "p"), obj, Source("-"))


@given(name=JSON)
def test_container_name_of_a_wrong_type_makes_the_pod_not_evaluated(name: object) -> None:
    """The API server rejects a pod whose container name is not a string: no container check may
    judge such a container (under a made-up name) as if it were valid."""
    (pod,) = find_pods(_pod({"name": name, "image": "nginx:1.27"}))
    if name is None or isinstance(name, str):
        (c,) = pod.containers()
        assert isinstance(c, ContainerView) and c.name == ("#0" if name is None else name)
    else:
        with pytest.raises(NotEvaluated) as exc:
            list(pod.containers())
        assert exc.value.path == ("spec", "containers", 0, "name")


@pytest.mark.parametrize("image", [None, "absent"])
def test_argo_template_without_image_absent_or_null_is_no_pod(image: str | None) -> None:
    """The pod-template walker asks for values, not keys: `image: null` is no image, as absent."""
    container: dict[str, Any] = {"name": "main"} if image == "absent" else {"name": "main", "image": None}
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "w"},
        "spec": {"templates": [{"name": "t", "container": container}]},
    }
    res = Resource(ResourceId("argoproj.io/v1alpha1", "WorkflowTemplate", None, "w"), obj, Source("-"))
    assert find_pods(res) == []


def test_every_check_is_swept() -> None:
    """The slow sweeps cover the whole registry; the fast ones name real checks."""
    assert {m.id for m in FAST} <= {m.id for m in REGISTRY}
    assert len(FAST) >= 15


# ---------------------------------------------------------------------------------------------
# metadata.labels and metadata.annotations (map[string]string), read once by the loader
# ---------------------------------------------------------------------------------------------
def _load(meta: dict[str, Any]) -> tuple[list[Resource], list[str]]:
    li = LoadedInput(InputRecord("-", "object"))
    add_object(li, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", **meta}}, Source("-"), "-")
    return li.resources, [p.message for p in li.problems]


@given(key=st.sampled_from(["labels", "annotations"]), value=JSON)
def test_labels_and_annotations_are_maps_of_strings(key: str, value: object) -> None:
    """A null value is the empty string (the label is set); any other non-string value, or a
    non-mapping, makes the object malformed (KF-INPUT-003), as the API server rejects it."""
    resources, problems = _load({key: {"k": value}})
    if value is None or isinstance(value, str):
        assert problems == [] and resources[0].obj["metadata"][key] == {"k": value or ""}
    else:
        assert resources == [] and problems == [
            f"document 1: malformed object: metadata.{key}.k is {value!r:.40}, expected a string"
        ]
    resources, problems = _load({key: [value]})
    assert resources == [] and problems == [f"document 1: malformed object: metadata.{key} is list, expected a mapping"]


@given(value=JSON)
def test_string_maps_read_null_values_as_empty_strings(value: object) -> None:
    """`Fields.str_map` (labels, selectors, nodeSelector): null is "", other non-strings are refused."""
    fields = Fields({"m": {"k": value}}, ("spec",))
    if value is None or isinstance(value, str):
        assert fields.str_map("m") == {"k": value or ""}
    else:
        with pytest.raises(NotEvaluated) as exc:
            fields.str_map("m")
        assert exc.value.path == ("spec", "m", "k")
    assert Fields({"m": None}, ()).str_map("m") == Fields({}, ()).str_map("m") == {}
