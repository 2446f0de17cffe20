"""A container's `env` and `ports` read fast decide exactly as read entry by entry.

When every entry is a mapping whose fields have their type (`ContainerView.plain_env`,
`plain_ports`), the checks read the entries with `get`; otherwise entry by entry through the
accessors, which raise NotEvaluated (reason and path) at the first entry the API server rejects.
For any `env` and `ports` (entries of other types, fields of other types, nulls, whole floats,
booleans), the fast reading must give what the careful one gives, the same error included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.checks.containers import _duplicates, duplicates_checked
from kubefort.checks.legacy import _env_value, env_value_checked
from kubefort.checks.pod_security.host_namespaces import _host_ports, host_ports_checked
from kubefort.checks.pod_security.processes import (
    _declared_ports,
    _ssh_ports,
    declared_ports_checked,
    ssh_ports_checked,
)
from kubefort.kube.pods import ContainerView
from kubefort.model import NotEvaluated

ODD: st.SearchStrategy[Any] = st.sampled_from([None, True, 0, 1.0, 80.0, "x", [], {}, ["a"]])
NAMES = st.sampled_from(["A", "B", "TILLER_NAMESPACE", "", "ssh", "SSH", "http"])


def _entry(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping with each field mostly of its type, sometimes of another, sometimes absent."""
    return st.fixed_dictionaries({k: st.one_of(v, v, v, ODD, st.just("__absent__")) for k, v in fields.items()}).map(
        lambda d: {k: v for k, v in d.items() if v != "__absent__"}
    )


ENV_ENTRY = _entry(
    {
        "name": NAMES,
        "value": st.sampled_from(["", "v", "$(A)", "$(A):x", "$(B)"]),
        "valueFrom": st.sampled_from([None, {"secretKeyRef": {"name": "s", "key": "k"}}]),
    }
)
PORT_ENTRY = _entry(
    {"containerPort": st.sampled_from([22, 80, 8080, 0]), "name": NAMES, "hostPort": st.sampled_from([0, 22, 8080])}
)
ENV = st.none() | ODD | st.lists(st.one_of(ENV_ENTRY, ENV_ENTRY, ENV_ENTRY, ODD), min_size=1, max_size=4)
PORTS = st.none() | ODD | st.lists(st.one_of(PORT_ENTRY, PORT_ENTRY, PORT_ENTRY, ODD), min_size=1, max_size=4)


def _container(env: object, ports: object) -> ContainerView:
    data: dict[str, Any] = {"name": "c", "image": "x"}
    if env != "absent":
        data["env"] = env
    if ports != "absent":
        data["ports"] = ports
    return ContainerView(data, ("spec", "containers", 0), "c", "container", "containers", 0)


def _outcome(read: Callable[[ContainerView], object], env: object, ports: object) -> object:
    try:
        found: Any = read(_container(env, ports))
        return found if isinstance(found, tuple) else list(found)
    except NotEvaluated as exc:
        return ("not evaluated", exc.reason, exc.path)


@settings(max_examples=300)
@given(env=ENV | st.just("absent"), name=NAMES)
def test_env_read_fast_equals_entry_by_entry(env: object, name: str) -> None:
    assert _outcome(lambda c: _env_value(c, name), env, "absent") == _outcome(
        lambda c: env_value_checked(c, name), env, "absent"
    )
    assert _outcome(_duplicates, env, "absent") == _outcome(duplicates_checked, env, "absent")


@settings(max_examples=300)
@given(ports=PORTS | st.just("absent"))
def test_ports_read_fast_equals_entry_by_entry(ports: object) -> None:
    assert _outcome(_declared_ports, "absent", ports) == _outcome(declared_ports_checked, "absent", ports)
    assert _outcome(_ssh_ports, "absent", ports) == _outcome(ssh_ports_checked, "absent", ports)


@settings(max_examples=300)
@given(ports=PORTS | st.just("absent"))
def test_host_ports_read_fast_equal_entry_by_entry(ports: object) -> None:
    assert _outcome(_host_ports, "absent", ports) == _outcome(host_ports_checked, "absent", ports)
