"""Helpers and references shared by the KF-POD modules."""

from __future__ import annotations

from typing import Any

from kubefort.kube.pods import ContainerView, PodView, memoised, optional
from kubefort.model import NotEvaluated, Path_, format_path

NSA_POD = ("NSA-CISA Kubernetes Hardening Guide: Kubernetes Pod security",)
NSA_HOST = ("NSA-CISA Kubernetes Hardening Guide: Kubernetes Pod security (host file systems and devices)",)


def effective_int(pod: PodView, c: ContainerView, field: str) -> tuple[int | None, Path_, bool]:
    """A securityContext integer as the kubelet applies it: the container's, else the pod's.

    Returns (value, path of the field that decided, whether it came from the pod)."""
    # KF-POD-008 and -009 both ask for runAsUser: resolved once per container
    return memoised(c.memo, ("effective_int", field), _effective_int, pod, c, field)


def _effective_int(pod: PodView, c: ContainerView, field: str) -> tuple[int | None, Path_, bool]:
    own = c.int("securityContext", field)
    if own is not None:
        return own, c.at("securityContext", field), False
    scope = pod.scope("securityContext")
    inherited = scope.int("securityContext", field)
    if inherited is not None:
        return inherited, scope.at("securityContext", field), True
    return None, c.at("securityContext", field), False


def annotation(pod: PodView, key: str) -> tuple[str | None, Path_]:
    """A pod-template annotation (string or absent) and its path."""
    meta = pod.meta
    if meta is None:
        return None, ()
    path = meta.path + ("annotations", key)
    v = pod.annotations().get(key)
    return (v if v is None or type(v) is str else optional(v, str, "a string", path)), path


def profile_type(view: Any, *keys: str) -> tuple[bool, str | None, Path_]:
    """(is the profile mapping set, its `type`, path of `type`) for seccompProfile / appArmorProfile."""
    path = view.at(*keys, "type")
    if view.get(*keys) is None:
        return False, None, path
    view.mapping(*keys)
    kind = view.str(*keys, "type")
    if kind is None:
        raise NotEvaluated(
            f"{format_path(path)} is missing; the API server requires a type when the profile is set", path
        )
    return True, kind, path


def pod_profile_type(pod: PodView, profile: str) -> tuple[bool, str | None, Path_]:
    """`profile_type` of the pod-level `securityContext.<profile>`; read by the check of every
    container that sets none of its own, so resolved once per pod."""
    return memoised(pod.memo, ("profile_type", profile), _pod_profile_type, pod, profile)


def _pod_profile_type(pod: PodView, profile: str) -> tuple[bool, str | None, Path_]:
    return profile_type(pod.scope("securityContext"), "securityContext", profile)
