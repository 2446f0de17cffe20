"""KF-POD-012 (seccomp-unconfined) agrees with kubefort's own Pod Security Standards evaluation.

The legacy annotations `seccomp.security.alpha.kubernetes.io/pod` and
`container.seccomp.security.alpha.kubernetes.io/<name>` have had no effect since Kubernetes 1.27:
the kubelet stopped reading them in 1.25 (kubernetes/kubernetes#109819) and the API server
stopped copying them into `securityContext.seccompProfile` in 1.27 (#114947, CHANGELOG-1.27
"Deprecation"). Only the fields decide, which is also what PSS `seccompProfile_restricted`
reads from policy v1.19 on (kube/pss/restricted.py).

The relation asserted, for every container of every pod, at the current policy versions
(v1.27 onwards, where the annotations are inert everywhere):

    KF-POD-012 fails the container  <=>  PSS restricted reports that container's seccompProfile

and every container PSS baseline reports also fails KF-POD-012. PSS additionally rejects a
pod-level `Unconfined` that every container overrides (no container runs unconfined then);
that pod-level violation is the only PSS seccomp finding without a failing container.

Pods: every pod of tests/pssgen.py (seccomp fields at pod and container level, overrides,
annotations, Windows pods, ...), and Hypothesis pods with every combination of seccomp fields,
wrong-case types and annotations on containers of every kind (ephemeral included).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pssgen
from kubefort.engine import Engine, EngineSettings
from kubefort.kube import pss
from kubefort.registry import REGISTRY

ENGINE = Engine(EngineSettings(check_ids=("KF-POD-012",), keep_passed=True), REGISTRY)
POD_FIELD = "spec.securityContext.seccompProfile.type"
KINDS = ("initContainers", "containers", "ephemeralContainers")
POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def container_fields(pod: dict[str, Any]) -> dict[str, str]:
    """container name -> the PSS field path of its seccompProfile type."""
    out = {}
    for kind in KINDS:
        for i, c in enumerate(pod["spec"].get(kind) or []):
            out[c["name"]] = f"spec.{kind}[{i}].securityContext.seccompProfile.type"
    return out


def kf_verdicts(pod: dict[str, Any]) -> dict[str, str]:
    outs = [o for o in ENGINE.check_object(pod) if o.check_id == "KF-POD-012"]
    return {o.container: o.status.value for o in outs}


def pss_fields(pod: dict[str, Any], level: str, version: str) -> set[str]:
    violations = pss.evaluate(pod["metadata"], pod["spec"], level, version)
    return {v.field for v in violations if v.control.startswith("seccompProfile")}


def assert_agreement(pod: dict[str, Any]) -> None:
    fields = container_fields(pod)
    verdicts = kf_verdicts(pod)
    windows = (pod["spec"].get("os") or {}).get("name") == "windows"
    assert set(verdicts) == set(fields), (verdicts, fields)  # windows pods: passed (exempt)
    if windows:
        assert set(verdicts.values()) <= {"passed"}
    for version in ("v1.27", "latest"):
        restricted = pss_fields(pod, "restricted", version)
        baseline = pss_fields(pod, "baseline", version)
        for name, field in fields.items():
            kf_failed = verdicts.get(name) == "failed"
            assert kf_failed == (field in restricted), (version, name, verdicts, restricted)
            if field in baseline:
                assert kf_failed, (version, name, baseline)
        container_reported = restricted - {POD_FIELD}
        assert container_reported <= set(fields.values())
        if POD_FIELD in restricted and not container_reported:
            # the one PSS finding without a failing container: a pod-level profile that every
            # container overrides with an allowed one
            assert all(v == "passed" for v in verdicts.values())
            for kind in KINDS:
                for c in pod["spec"].get(kind) or []:
                    assert (c.get("securityContext") or {}).get("seccompProfile") is not None


@pytest.mark.parametrize("pod", pssgen.generate(), ids=lambda p: p["metadata"]["name"])
def test_generated_pods_agree_with_pss(pod):
    assert_agreement(pod)


PROFILES = [
    None,
    {"type": "RuntimeDefault"},
    {"type": "Localhost", "localhostProfile": "p.json"},
    {"type": "Unconfined"},
    {"type": "runtimedefault"},
    {"type": "localhost"},
]
ANNOTATION_VALUES = [None, "runtime/default", "docker/default", "unconfined", "localhost/p.json", ""]


@st.composite
def seccomp_pods(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    names = iter(f"c{i}" for i in range(20))
    for kind in KINDS:
        n = draw(st.integers(1 if kind == "containers" else 0, 2))
        cs = []
        for _ in range(n):
            c: dict[str, Any] = {"name": next(names), "image": "registry.example.com/app:1.0"}
            profile = draw(st.sampled_from(PROFILES))
            if profile is not None:
                c["securityContext"] = {"seccompProfile": copy.deepcopy(profile)}
            cs.append(c)
        if cs:
            spec[kind] = cs
    profile = draw(st.sampled_from(PROFILES))
    if profile is not None:
        spec["securityContext"] = {"seccompProfile": copy.deepcopy(profile)}
    if draw(st.integers(0, 9)) == 0:
        # the API rejects seccomp fields in Windows pods (validation of spec.os.name: windows), as
        # tests/pssgen.py knows: a Windows pod carries none, and both sides exempt it
        spec["os"] = {"name": "windows"}
        for sc in [spec.get("securityContext") or {}] + [
            c.get("securityContext") or {} for k in KINDS for c in spec.get(k, [])
        ]:
            sc.pop("seccompProfile", None)
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    annotations: dict[str, str] = {}
    value = draw(st.sampled_from(ANNOTATION_VALUES))
    if value is not None:
        annotations[POD_ANNOTATION] = value
    for kind in KINDS:
        for c in spec.get(kind, []):
            value = draw(st.sampled_from(ANNOTATION_VALUES))
            if value is not None:
                annotations[CONTAINER_ANNOTATION + c["name"]] = value
    meta: dict[str, Any] = {"name": "p"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@settings(max_examples=400, deadline=None)
@given(seccomp_pods())
def test_any_seccomp_configuration_agrees_with_pss(pod):
    assert_agreement(pod)


@settings(max_examples=200, deadline=None)
@given(seccomp_pods())
def test_annotations_change_nothing(pod):
    """Adding, removing or changing the legacy annotations never changes a verdict (only a message)."""
    bare = copy.deepcopy(pod)
    bare["metadata"].pop("annotations", None)
    with_all = copy.deepcopy(pod)
    ann = with_all["metadata"].setdefault("annotations", {})
    ann[POD_ANNOTATION] = "runtime/default"
    for kind in KINDS:
        for c in with_all["spec"].get(kind, []):
            ann[CONTAINER_ANNOTATION + c["name"]] = "runtime/default"
    assert kf_verdicts(bare) == kf_verdicts(pod) == kf_verdicts(with_all)


def test_annotation_only_is_unconfined_and_says_why():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {POD_ANNOTATION: "runtime/default"}},
        "spec": {"containers": [{"name": "app", "image": "x:1"}]},
    }
    (o,) = [o for o in ENGINE.check_object(pod) if o.check_id == "KF-POD-012"]
    assert o.status.value == "failed"
    assert o.message == (
        "container 'app': no seccomp profile is set on the container or the pod: the legacy annotation "
        "seccomp.security.alpha.kubernetes.io/pod='runtime/default' is ignored since Kubernetes 1.27 "
        "(no longer copied into securityContext.seccompProfile), so it runs Unconfined"
    )
    assert pss_fields(pod, "restricted", "latest") == {"spec.containers[0].securityContext.seccompProfile.type"}
