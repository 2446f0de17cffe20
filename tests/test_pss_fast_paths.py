"""The PSS evaluator's fast paths decide exactly as the careful paths they stand in for.

* Decoding reads a mapping whose fields all have their common JSON type with plain `get`s
  (`decode._plain`), and the volume sources of a volume from its keys; any other value goes
  through the field helpers, which raise the first input error in the decoder's fixed order.
  With the fast paths switched off, every pod (wrong-typed fields mixed in anywhere) must decode
  to the same pod, or fail with the same error.
* `evaluate_shared` judges pods of equal content once (`_content_key`): equal content shares,
  content that differs in a value's type (`1`, `1.0`, `true`; a NaN, a null) never does, and
  every pod still gets its own `PodEvaluation`.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pssgen
from kubefort.kube import pss
from kubefort.kube.pss import decode as decoding
from kubefort.kube.pss import evaluation

PODS = pssgen.generate(300)
JUNK: list[Any] = [
    "x",
    "",
    5,
    0,
    1.0,
    80.0,
    float("nan"),
    True,
    False,
    [1],
    ["NET_RAW", 3],
    [None],
    {"a": 1},
    None,
    [],
    {},
]
SOURCES = [*decoding._ALLOWED_VOLUME_SOURCES, *decoding._OTHER_VOLUME_SOURCES]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    out = []
    for k, v in items:
        out.append(prefix + (k,))
        out += _paths(v, prefix + (k,))
    return out


@st.composite
def junk_pods(draw: st.DrawFn) -> dict[str, Any]:
    """A generated pod with up to three fields set to another JSON type, and extra volumes."""
    pod = copy.deepcopy(draw(st.sampled_from(PODS)))
    for _ in range(draw(st.integers(0, 2))):
        vol: dict[str, Any] = {"name": "v"} | {
            src: draw(st.sampled_from([{}, None, "x", 3]))
            for src in draw(st.sets(st.sampled_from(SOURCES), max_size=3))
        }
        pod["spec"].setdefault("volumes", []).append(vol)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(_paths(pod)))
        parent = pod
        for k in where[:-1]:
            parent = parent[k]
        parent[where[-1]] = copy.deepcopy(draw(st.sampled_from(JUNK)))
    # and the fields the decoder reads, in the spec, its securityContext and a container's
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return pod
    targets = [(spec, decoding._SPEC_TYPES)]
    if isinstance(spec.get("securityContext"), dict):
        targets.append((spec["securityContext"], decoding._POD_SC_TYPES))
    containers = spec.get("containers")
    for c in containers if isinstance(containers, list) else []:
        if isinstance(c, dict) and isinstance(c.get("securityContext"), dict):
            targets.append((c["securityContext"], decoding._CONTAINER_SC_TYPES))
    for _ in range(draw(st.integers(0, 2))):
        target, fields = draw(st.sampled_from(targets))
        target[draw(st.sampled_from(sorted(fields)))] = copy.deepcopy(draw(st.sampled_from(JUNK)))
    return pod


def _decoded(meta: Any, spec: Any) -> tuple[Any, ...]:
    d = decoding.decode(meta, spec)
    # repr, not ==: a value read as 1000.0 where the helper gives 1000 must not pass as equal
    return (repr(d.pod), str(d.error) if d.error else None, str(d.host_path_error) if d.host_path_error else None)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pod=junk_pods())
def test_fast_decoding_equals_field_by_field_decoding(pod: dict[str, Any]) -> None:
    meta, spec = pod.get("metadata"), pod.get("spec")
    fast = _decoded(meta, spec)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decoding, "_plain", lambda d, types: False)  # every field through its helper
        careful = _decoded(meta, spec)
    assert fast == careful


@given(
    vol=st.dictionaries(
        st.sampled_from(SOURCES), st.sampled_from([{}, {"path": "/x"}, None, "x", 3, [], True]), max_size=4
    ).map(lambda sources: {"name": "v", **sources})
)
def test_volume_sources_read_from_keys_equal_asking_for_each_source(vol: dict[str, Any]) -> None:
    """A volume names its sources as keys: reading them from its keys gives what asking for each of
    the 30 source types in the declared order gives, the same first error included."""

    def outcome(f: Any) -> Any:
        try:
            return f()
        except pss.PSSInputError as exc:
            return str(exc)

    fast = outcome(lambda: decoding._Decoder()._volume(vol, "spec.volumes[0]"))
    careful = outcome(lambda: decoding._volume_sources(vol, "spec.volumes[0]"))
    if isinstance(careful, str):
        assert fast == careful
    else:
        assert (fast.allowed, fast.restricted_src) == careful


def _outcome(meta: Any, spec: Any, level: str) -> Any:
    try:
        return pss.evaluate_shared(meta, spec, level)
    except pss.PSSInputError as exc:
        return str(exc)


def _alone(meta: Any, spec: Any, level: str) -> Any:
    try:
        return pss.evaluate(meta, spec, level)
    except pss.PSSInputError as exc:
        return str(exc)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1000, 1000.0),  # the same number, another JSON type
        (0, False),
        (1, True),
        (float("nan"), None),  # JSON has no NaN; a null is absent
        ("0", 0),
    ],
)
@pytest.mark.parametrize("field", ["runAsUser", "runAsNonRoot", "privileged"])
def test_content_of_another_type_is_judged_on_its_own(a: Any, b: Any, field: str) -> None:
    base = copy.deepcopy(PODS[0])
    pods = []
    for value in (a, b, a):
        pod = copy.deepcopy(base)
        pod["spec"]["containers"][0].setdefault("securityContext", {})[field] = value
        pods.append(pod)
    for pod in pods:  # in turn, each after the others were judged: no content shared across types
        for level in ("baseline", "restricted"):
            assert _outcome(pod["metadata"], pod["spec"], level) == _alone(pod["metadata"], pod["spec"], level)


def test_equal_content_is_judged_once_each_pod_with_its_own_evaluation() -> None:
    pod = copy.deepcopy(PODS[1])
    first = pss.shared_evaluation(pod["metadata"], pod["spec"])
    twin = copy.deepcopy(pod)
    again = pss.shared_evaluation(twin["metadata"], twin["spec"])
    assert again is not first  # an evaluation per pod (and per level list returned) ...
    assert again._decoded is first._decoded and again._by_control is first._by_control  # ... one judgement
    renamed = copy.deepcopy(pod)
    renamed["metadata"]["name"] = "other"  # the evaluation reads only the annotations of the metadata
    assert pss.shared_evaluation(renamed["metadata"], renamed["spec"])._decoded is first._decoded
    changed = copy.deepcopy(pod)
    changed["spec"]["hostPID"] = True
    assert pss.shared_evaluation(changed["metadata"], changed["spec"])._decoded is not first._decoded
    other_version = pss.shared_evaluation(twin["metadata"], twin["spec"], "v1.22")
    assert other_version._decoded is not first._decoded


def test_content_the_key_cannot_hold_is_judged_without_sharing() -> None:
    class Text(str):  # not plain data: marshal refuses it
        pass

    pod = copy.deepcopy(PODS[2])
    pod["spec"]["containers"][0]["name"] = Text("app")
    assert evaluation._content_key(pod["metadata"], pod["spec"], 37) is None
    assert _outcome(pod["metadata"], pod["spec"], "restricted") == _alone(pod["metadata"], pod["spec"], "restricted")


@functools.cache
def _input_error_pod() -> dict[str, Any]:
    pod = copy.deepcopy(PODS[0])
    pod["spec"]["hostPID"] = "yes"
    return pod


def test_a_shared_input_error_is_raised_afresh_each_time() -> None:
    """Pods of equal content share one decoded pod, and its input error: each caller gets a new
    exception, so no traceback grows with every pod that raises it."""
    errors = []
    for _ in range(3):
        pod = copy.deepcopy(_input_error_pod())
        with pytest.raises(pss.PSSInputError) as exc:
            pss.evaluate_shared(pod["metadata"], pod["spec"], "baseline")
        errors.append(exc.value)
    assert len({id(e) for e in errors}) == 3
    assert len({str(e) for e in errors}) == 1
