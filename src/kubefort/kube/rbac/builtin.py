"""kubefort's built-in RBAC knowledge, one set per Kubernetes minor release: the bootstrap policy
(the default roles and bindings the API server creates and reconciles) and the built-in
resource table with scopes. Generated from each release's sources by tools/gen_rbac_data.py into
`data/rbac/<minor>/` (Apache-2.0, The Kubernetes Authors: see data/rbac/NOTICE), never hand-kept.

Which release: `--kubernetes-version`, else the API server's version (a live cluster's or a
snapshot's `ClusterInfo.serverVersion`), else the newest release shipped (`LATEST`). A cluster
release kubefort ships no data for is read with the nearest shipped one (`pick_version` says so).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import orjson

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")
# Resources that exist only for the authorizer (no API serves them): impersonation of users,
# groups, uids and extra fields, and CSR signers (docs: "User impersonation", "Certificate
# signing requests: authorization"). They are cluster-scoped.
VIRTUAL_RESOURCES: tuple[tuple[str, str, str, bool, str], ...] = (
    ("", "users", "User", False, "user"),
    ("", "groups", "Group", False, "group"),
    ("authentication.k8s.io", "uids", "UID", False, "uid"),
    ("authentication.k8s.io", "userextras", "UserExtra", False, "userextra"),
    ("certificates.k8s.io", "signers", "Signer", False, "signer"),
)


# the package data beside this package (setuptools installs it as files): read directly, since
# importlib.resources' reader machinery costs a scan ~5 ms to set up
_DATA = Path(__file__).resolve().parent.parent / "data" / "rbac"


def _data(*parts: str) -> Any:
    return orjson.loads(_DATA.joinpath(*parts).read_bytes())


@functools.lru_cache(maxsize=1)
def shipped_versions() -> tuple[str, ...]:
    """The minor releases kubefort has RBAC data for, oldest first ("1.29", ... )."""
    return tuple(sorted(_data("index.json"), key=_key))


def latest() -> str:
    return shipped_versions()[-1]


def source_of(version: str) -> str:
    """Where a release's data come from (`k8s.io/kubernetes@v1.37.2`)."""
    return str(_data("index.json")[version]["source"])


def _key(v: str) -> tuple[int, int]:
    major, _, minor = v.partition(".")
    return int(major), int(minor)


def parse_minor(text: str) -> str:
    """`1.30`, `v1.30`, `v1.30.2`, `v1.30.4-eks-1234` -> "1.30"; ValueError otherwise."""
    m = _VERSION.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a Kubernetes version (expected 1.N or v1.N.P)")
    return f"{int(m[1])}.{int(m[2])}"


def check_version(text: str) -> str:
    """A version the user asked for: its minor, which kubefort must ship (ValueError otherwise)."""
    minor = parse_minor(text)
    if minor not in shipped_versions():
        v = shipped_versions()
        raise ValueError(f"kubefort has no RBAC data for Kubernetes {minor}: it ships {v[0]} to {v[-1]}")
    return minor


def pick_version(requested: str | None, cluster: str | None) -> tuple[str, str]:
    """(minor, why): the requested minor (checked), else the cluster's (the nearest shipped one
    when kubefort has none for it), else the newest shipped."""
    if requested:
        return check_version(requested), "as requested"
    if cluster:
        try:
            minor = parse_minor(cluster)
        except ValueError:
            return latest(), f"the newest shipped: the API server's version {cluster!r} is unreadable"
        v = shipped_versions()
        if minor in v:
            return minor, f"the API server's version ({cluster})"
        nearest = v[0] if _key(minor) < _key(v[0]) else v[-1]
        return nearest, f"the API server is {cluster}, which kubefort ships no RBAC data for: nearest {nearest}"
    return latest(), "the newest shipped: no --kubernetes-version and no cluster version in the input"


@functools.cache
def bootstrap_objects(version: str) -> tuple[dict[str, Any], ...]:
    """The default RBAC objects of a fresh cluster of that release (read-only: copy before changing)."""
    return tuple(_data(version, "bootstrap.json"))


@functools.cache
def resource_table(version: str) -> tuple[tuple[str, str, str, bool, tuple[str, ...]], ...]:
    """(group, resource, kind, namespaced, names kubectl also accepts) of every built-in resource."""
    rows = [(r[0], r[1], r[2], bool(r[3]), tuple(x for x in r[4:] if x)) for r in _data(version, "resources.json")]
    rows += [(g, res, kind, ns, (singular,)) for g, res, kind, ns, singular in VIRTUAL_RESOURCES]
    return tuple(rows)


@functools.cache
def scopes(version: str) -> dict[tuple[str, str], bool]:
    """(group, resource) -> namespaced, for the release's built-in resources."""
    return {(g, r): ns for g, r, _k, ns, _s in resource_table(version)}
