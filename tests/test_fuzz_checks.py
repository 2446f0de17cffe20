"""No check ends in an internal error on any object that parses (issue 12, item 20).

Every registered check gets mutated copies of its fixture objects: keys deleted, values replaced
by other JSON types (NaN, infinities, huge integers, unicode), lists emptied or made huge, strings
made huge, `apiVersion` set to versions its kind is not served as. Whatever the check concludes
(passed, failed, not evaluated with a reason, no outcome), it must never be "internal error": an
exception a check did not expect means it misread a value the API server decodes (or rejects)
by rule.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkrun import EVALUATED, fixture_objects, get, paths, run
from kubefort.engine import Engine, EngineSettings
from kubefort.kube.apis import _CURRENT, _EARLIER, served_as, unserved
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, Source
from kubefort.registry import REGISTRY, CheckMeta

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "-1", "*", "\u202e\u200bé€😀", "a" * 300, "\x00", "v1", "true"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
API_VERSIONS = st.sampled_from(
    ["v1", "apps/v1", "apps/v1beta9", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "batch/v1"]
    + ["policy/v1", "extensions/v1beta1", "example.com/v1", "a/b/c", "V1", "/v1"]
)
OPS = ("delete", "replace", "empty", "huge", "unicode", "api-version")


def _mutate(obj: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        op = data.draw(st.sampled_from(OPS), label="op")
        if op == "api-version":
            out["apiVersion"] = data.draw(API_VERSIONS, label="apiVersion")
            continue
        where = list(paths(out))
        if not where:
            continue
        path = data.draw(st.sampled_from(where), label="path")
        parent, key = get(out, path[:-1]), path[-1]
        value = parent[key]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = data.draw(JSON, label="value")
        elif op == "empty":
            parent[key] = type(value)() if isinstance(value, (list, dict, str)) else data.draw(SCALARS, label="value")
        elif op == "huge":
            if isinstance(value, list) and value:
                parent[key] = [copy.deepcopy(value[i % len(value)]) for i in range(300)]
            elif isinstance(value, str):
                parent[key] = value * (10_000 // max(1, len(value)))
            elif isinstance(value, dict):
                parent[key] = {**value, **{f"k{i}": copy.deepcopy(x) for i, x in enumerate(value.values())}}
        elif op == "unicode" and isinstance(value, str):
            parent[key] = data.draw(st.text(min_size=1, max_size=20), label="unicode")
    return out


def _internal_errors(meta: CheckMeta, docs: list[Any]) -> list[str]:
    return [o.message for o in run(meta, docs) if "internal error" in o.message]


@pytest.mark.parametrize("meta", EVALUATED, ids=lambda m: m.id)
@settings(
    max_examples=12,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_internal_error_on_mutated_fixture_objects(meta: CheckMeta, data: st.DataObject) -> None:
    objs = list(fixture_objects(meta.id))
    i = data.draw(st.integers(0, len(objs) - 1), label="object")
    objs[i] = _mutate(objs[i], data)
    assert _internal_errors(meta, objs) == []


@pytest.mark.slow
@pytest.mark.parametrize("meta", EVALUATED, ids=lambda m: m.id)
@settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_internal_error_thorough(meta: CheckMeta, data: st.DataObject) -> None:
    """The same property with many more (random) examples: `pytest -m slow tests/test_fuzz_checks.py`."""
    objs = list(fixture_objects(meta.id))
    i = data.draw(st.integers(0, len(objs) - 1), label="object")
    objs[i] = _mutate(objs[i], data)
    assert _internal_errors(meta, objs) == []


@pytest.mark.slow
@pytest.mark.parametrize("meta", EVALUATED, ids=lambda m: m.id)
def test_no_internal_error_on_any_single_field_of_another_type(meta: CheckMeta) -> None:
    """Exhaustive over the fixture's fields: each deleted, and set to each JSON type in turn."""
    objs = fixture_objects(meta.id)
    values: list[object] = [None, 0, -1, 1.5, float("nan"), True, "", "x", [], [None], [{}], {}, {"a": 1}]
    found: list[str] = []
    for i, obj in enumerate(objs):
        for path in list(paths(obj)):
            for value in [*values, "<delete>"]:
                changed = copy.deepcopy(obj)
                parent = get(changed, path[:-1])
                if value == "<delete>":
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = copy.deepcopy(value)
                docs = [*objs[:i], changed, *objs[i + 1 :]]
                found += [f"{path} = {value!r}: {m}" for m in _internal_errors(meta, docs)]
    assert found == []


# ---------------------------------------------------------------------------------------------
# KF-INPUT-005: the apiVersion must serve the kind (kube/apis.py)
# ---------------------------------------------------------------------------------------------
def test_every_version_kubernetes_served_is_accepted() -> None:
    for table in (_CURRENT, _EARLIER):
        for group, versions in table.items():
            for version, kinds in versions.items():
                for kind in kinds:
                    assert unserved(f"{group}/{version}" if group else version, kind) is None, (group, version, kind)


@given(
    version=st.from_regex(r"v[0-9]{1,2}((alpha|beta)[0-9]{1,2})?", fullmatch=True),
    kind=st.sampled_from(["Deployment", "NetworkPolicy", "Pod", "CronJob", "Ingress", "ClusterRole"]),
)
def test_versions_no_release_served_are_reported(version: str, kind: str) -> None:
    """A built-in kind sent as a version its group never served gets the reason and the version to use."""
    group = {"Deployment": "apps", "Pod": "", "CronJob": "batch", "ClusterRole": "rbac.authorization.k8s.io"}.get(
        kind, "networking.k8s.io"
    )
    api_version = f"{group}/{version}" if group else version
    known = {
        ("apps", "Deployment"): {"v1", "v1beta1", "v1beta2"},
        ("", "Pod"): {"v1"},
        ("batch", "CronJob"): {"v1", "v1beta1", "v2alpha1"},
        ("networking.k8s.io", "NetworkPolicy"): {"v1"},
        ("networking.k8s.io", "Ingress"): {"v1", "v1beta1"},
        ("rbac.authorization.k8s.io", "ClusterRole"): {"v1", "v1beta1", "v1alpha1"},
    }[(group, kind)]
    reason = unserved(api_version, kind)
    if version in known:
        assert reason is None
    else:
        assert (
            reason
            == f"{kind} is not served as {api_version} by any Kubernetes release; use {served_as(group, kind)[0]}"
        )


@pytest.mark.parametrize(
    ("api_version", "kind", "reason"),
    [
        (
            "v1",
            "NetworkPolicy",
            "NetworkPolicy is not served as v1: the core API has no NetworkPolicy; use networking.k8s.io/v1",
        ),
        ("apps/v1", "Service", "Service is not served as apps/v1: the apps API group has no Service; use v1"),
        (
            "apps/v1",
            "deployment",
            "deployment is not served as apps/v1: kinds are case-sensitive, the kind is Deployment",
        ),
        ("a/b/c", "Pod", "apiVersion 'a/b/c' is not GROUP/VERSION"),
        ("crd.projectcalico.org/v1", "NetworkPolicy", None),  # a custom resource: its CRD decides
        ("v1", "Config", None),  # a kind kubefort does not know (a kubeconfig): not judged
        ("extensions/v1beta1", "Deployment", None),  # served once, removed: KF-WL-003's
        ("autoscaling/v2", "HorizontalPodAutoscaler", None),
        ("/v1", "Pod", None),  # ParseGroupVersion: the core group
    ],
)
def test_unserved(api_version: str, kind: str, reason: str | None) -> None:
    assert unserved(api_version, kind) == reason


def test_a_v1_networkpolicy_is_an_input_finding_and_not_evaluated_by_the_netpol_checks() -> None:
    """The issue's case: `apiVersion: v1` NetworkPolicy used to end in "internal error ... StopIteration"."""
    ids = tuple(
        m.id for m in REGISTRY if m.id == "KF-INPUT-005" or (m.area == "NET" and "NetworkPolicy" in (m.kinds or ()))
    )
    policy = {
        "apiVersion": "v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    eng = Engine(EngineSettings(check_ids=ids), REGISTRY)
    li = LoadedInput(InputRecord("np.yaml", "file"))
    add_object(li, policy, Source("np.yaml"), "np.yaml")
    part = eng.evaluate(li)
    outcomes = {o.check_id: o for o in part.outcomes + eng.cross_object(part.collected)}
    assert outcomes.pop("KF-INPUT-005").status.value == "failed"
    assert outcomes and {o.status.value for o in outcomes.values()} == {"not-evaluated"}
    assert all("NetworkPolicy is not served as v1" in o.message for o in outcomes.values())
