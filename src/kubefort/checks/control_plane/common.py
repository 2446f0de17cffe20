"""Helpers shared by the KF-CP modules: component views, flag tests and admission plugins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.checks.node_common import viol
from kubefort.kube.flags import ComponentView, component_view
from kubefort.kube.pods import type_name
from kubefort.model import NotEvaluated, Path_, Resource, Violation

API_REF = "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/"
KCM_REF = "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/"
SCHED_REF = "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/"
PROFILING_WHY = (
    "The profiling endpoints (/debug/pprof) reveal the program's internals and can be used to slow the "
    "component down; they are a debugging aid that a production control plane does not need."
)


def api(res: Resource) -> ComponentView:
    return component_view(res, "kube-apiserver")


def flags_set(res: Resource, component: str, *flags: str) -> Iterator[Violation]:
    """Each of `flags` must be given."""
    v = component_view(res, component)
    for f in flags:
        ok, p = v.is_set(f)
        if not ok:
            yield viol(v, f"--{f} is not set", p)


def bool_flag(
    res: Resource, component: str, flag: str, want: bool, default: bool, default_note: str
) -> Iterator[Violation]:
    """The boolean `flag` (default `default`) must be `want`."""
    v = component_view(res, component)
    got, p = v.boolean(flag, default)
    if got != want:
        f = v.last(flag)
        if f is None:
            yield viol(v, f"--{flag} is not set; {default_note}", p)
        elif f.spelled == f"--{flag}={str(got).lower()}":
            yield viol(v, f.spelled, p)
        else:
            yield viol(v, f"{f.spelled} means --{flag}={str(got).lower()}", p)


def int_at_least(res: Resource, component: str, flag: str, minimum: int) -> Iterator[Violation]:
    """The integer `flag` must be given and at least `minimum`."""
    v = component_view(res, component)
    n, p = v.integer(flag)
    if n is None:
        yield viol(v, f"--{flag} is not set (it must be at least {minimum})", p)
    elif n < minimum:
        yield viol(v, f"--{flag}={n} is below {minimum}", p)


def admission_plugins(v: ComponentView) -> tuple[dict[str, Path_], dict[str, Path_]]:
    """(enabled, disabled) admission plugins with the path of the flag naming each."""
    enabled = dict(v.items("enable-admission-plugins")[0])
    for name, p in v.items("admission-control")[0] if v.last("admission-control") else []:  # the deprecated spelling
        enabled.setdefault(name, p)
    disabled = dict(v.items("disable-admission-plugins")[0])
    return enabled, disabled


def plugin_enabled(res: Resource, plugin: str) -> Iterator[Violation]:
    """The API server must enable the admission plugin (and not disable it)."""
    v = api(res)
    enabled, disabled = admission_plugins(v)
    if plugin in disabled:
        yield viol(v, f"--disable-admission-plugins disables {plugin}", disabled[plugin])
    elif plugin not in enabled:
        f = v.last("enable-admission-plugins")
        yield viol(v, f"--enable-admission-plugins does not include {plugin}", v.at(f))


def plugin_not_disabled(res: Resource, plugin: str) -> Iterator[Violation]:
    """The API server must not disable the admission plugin (on by default)."""
    v = api(res)
    _, disabled = admission_plugins(v)
    if plugin in disabled:
        yield viol(v, f"--disable-admission-plugins disables {plugin}", disabled[plugin])


def config_file(v: ComponentView, flag: str) -> dict[str, Any]:
    """The parsed content of a structured config named by `flag`; NotEvaluated when unavailable."""
    f = v.last(flag)
    entry = v.file(flag)
    if entry is None:
        raise NotEvaluated(
            f"--{flag}={f.value if f else ''} names a file that is not part of the input; "
            "`kubefort node` reads it on the node",
            v.at(f),
        )
    if "error" in entry:
        raise NotEvaluated(str(entry["error"]), v.at(f))
    content = entry.get("content")
    if not isinstance(content, dict):
        raise NotEvaluated(f"{entry.get('path')} is {type_name(content)}, not a configuration mapping", v.at(f))
    return content
