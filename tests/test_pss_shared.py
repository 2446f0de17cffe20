"""One PSS evaluation per (pod, version) serves every level, with results identical to evaluating
each level on its own.

`evaluate(meta, spec, level, version)` runs only the controls of `level`; `evaluate_all` runs every
control of the version once and `PodEvaluation.violations(level)` selects a level's controls
(restricted is not "baseline plus more": it drops the baseline checks it overrides, so each level
selects its own); `evaluate_shared` caches `evaluate_all` by object identity. Over the pods of
tests/pssgen.py, with extra volumes, seccomp annotations and wrong-typed fields mixed in, at
every policy version, all three must give the same violations in the same order, or raise the
same input error.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pssgen
from kubefort.kube import pss

PODS = pssgen.generate()
JUNK: list[Any] = ["x", "", 5, 0, True, False, [1], ["NET_RAW", 3], {"a": 1}, None, 1.5, [], {}]
Outcome = tuple[Any, ...]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return
    for k, v in items:
        yield prefix + (k,)
        yield from _paths(v, prefix + (k,))


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    pod = copy.deepcopy(draw(st.sampled_from(PODS)))
    extra = draw(st.sampled_from([None, "hostPath", "badHostPath", "restrictedVolume", "seccompAnnotations"]))
    if extra == "hostPath":
        pod["spec"].setdefault("volumes", []).append(
            {"name": "h", "hostPath": {"path": draw(st.sampled_from(["/x", 5, None]))}}
        )
    elif extra == "badHostPath":  # read by hostPathVolumes only: baseline reports it, restricted does not
        pod["spec"].setdefault("volumes", []).insert(0, {"name": "h", "hostPath": {"path": 7}})
        pod["spec"]["containers"][0]["securityContext"] = draw(st.sampled_from(["bad", {}]))
    elif extra == "restrictedVolume":
        pod["spec"].setdefault("volumes", []).append(
            {"name": "n", "nfs": {"server": "x"}, "secret": draw(st.sampled_from([{}, 3]))}
        )
    elif extra == "seccompAnnotations":  # v1.0-v1.18 baseline seccomp
        ann = pod["metadata"].setdefault("annotations", {})
        ann["seccomp.security.alpha.kubernetes.io/pod"] = draw(st.sampled_from(["", "unconfined", "runtime/default"]))
        ann["container.seccomp.security.alpha.kubernetes.io/app"] = "unconfined"
    for _ in range(draw(st.integers(0, 2))):  # wrong-typed (or removed) fields anywhere
        where = draw(st.sampled_from(list(_paths(pod))))
        parent = pod
        for k in where[:-1]:
            parent = parent[k]
        parent[where[-1]] = copy.deepcopy(draw(st.sampled_from(JUNK)))
    return pod


def outcome(f: Callable[[], list[pss.PSSViolation]]) -> Outcome:
    try:
        return ("ok", f())
    except pss.PSSInputError as exc:
        return ("error", str(exc))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pods(), st.integers(0, 40))
def test_one_evaluation_serves_every_level(pod: dict[str, Any], minor: int) -> None:
    version = f"v1.{minor}"
    meta, spec = pod.get("metadata"), pod.get("spec")
    shared = pss.evaluate_all(meta, spec, version)
    for level in pss.LEVELS:
        alone = outcome(functools.partial(pss.evaluate, meta, spec, level, version))
        assert outcome(functools.partial(shared.violations, level)) == alone, (level, version)
        assert outcome(functools.partial(pss.evaluate_shared, meta, spec, level, version)) == alone, (level, version)


def test_shared_evaluations_are_reused_per_pod_and_version() -> None:
    pod = PODS[0]
    meta, spec = pod["metadata"], pod["spec"]
    ev = pss.shared_evaluation(meta, spec, "latest")
    assert pss.shared_evaluation(meta, spec, "latest") is ev
    assert pss.shared_evaluation(meta, spec, "v1.99") is ev  # the same (clamped) version
    assert pss.shared_evaluation(meta, spec, "v1.30") is not ev
    assert pss.shared_evaluation(copy.deepcopy(meta), copy.deepcopy(spec), "latest") is not ev  # identity, not equality


def test_controls_table_matches_upstream_registry() -> None:
    """The table that drives evaluation is upstream's: levels and first versions from CHECKS, and
    the four overrides of ../shared/catalog/pss.md (restricted check replaces baseline check)."""
    by_name = {c.name: c for c in pss.CONTROLS}
    assert set(by_name) == set(pss.CHECKS)
    for name, (level, versions) in pss.CHECKS.items():
        assert by_name[name].level == level
        assert by_name[name].since == pss.parse_version(versions[0])[1]
    overrides = {c.name: c.overridden_from for c in pss.CONTROLS if c.overridden_from is not None}
    assert overrides == {
        "hostPathVolumes": 0,
        "seccompProfile_baseline": 19,
        "capabilities_baseline": 22,
        "procMount": 35,
    }


@pytest.mark.parametrize(
    ("level", "version", "expected"),
    [
        ("privileged", "latest", set()),
        (
            "baseline",
            "v1.0",
            {
                "windowsHostProcess",
                "hostNamespaces",
                "privileged",
                "capabilities_baseline",
                "hostPathVolumes",
                "hostPorts",
                "appArmorProfile",
                "seLinuxOptions",
                "procMount",
                "seccompProfile_baseline",
                "sysctls",
            },
        ),
        (
            "restricted",
            "v1.0",
            {
                "windowsHostProcess",
                "hostNamespaces",
                "privileged",
                "capabilities_baseline",
                "hostPorts",
                "appArmorProfile",
                "seLinuxOptions",
                "procMount",
                "seccompProfile_baseline",
                "sysctls",
                "restrictedVolumes",
                "runAsNonRoot",
            },
        ),
        (
            "restricted",
            "latest",
            {
                "windowsHostProcess",
                "hostNamespaces",
                "privileged",
                "hostPorts",
                "hostProbesAndHostLifecycle",
                "appArmorProfile",
                "seLinuxOptions",
                "sysctls",
                "restrictedVolumes",
                "allowPrivilegeEscalation",
                "runAsNonRoot",
                "runAsUser",
                "seccompProfile_restricted",
                "capabilities_restricted",
                "procMount_restricted",
            },
        ),
    ],
)
def test_controls_for(level: str, version: str, expected: set[str]) -> None:
    assert {c.name for c in pss.controls_for(level, version)} == expected
