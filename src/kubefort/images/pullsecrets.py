"""Registry credentials from a cluster's image pull secrets, for signature verification.

Read only when the user asks (`image_verification.pull_secrets: true`) and only when a live
cluster is scanned: a cluster scan otherwise lists Secrets as metadata and never reads a value.
What is read is exactly the Secrets the scanned pods name in `spec.imagePullSecrets` (pods and
pod templates; the ServiceAccount admission plugin has already copied a service account's pull
secrets into its pods), one GET each, in the pod's namespace, as the kubelet resolves them.

A Secret of type `kubernetes.io/dockerconfigjson` gives the `auths` of its `.dockerconfigjson`;
one of type `kubernetes.io/dockercfg` (the legacy format) the top-level entries of its
`.dockercfg`. Credentials are used per registry host, before docker's own config.json; a pull
secret of one namespace may so read the signatures of an image another namespace runs (a
signature is a fact about the image digest, whoever reads it). A Secret that cannot be read
(forbidden, absent, another type, undecodable) is named in a warning and skipped: the registry
may then refuse, and the image's verification is not evaluated, never passed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from kubefort.kube.pods import find_pods
from kubefort.model import NotEvaluated, Resource

__all__ = ["pull_secret_refs", "read_pull_secrets"]

DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
MAX_SECRETS = 1000  # GETs per scan; more refs than this are named in a warning, not read


class _Getter(Protocol):
    def get(self, path: str) -> Any: ...


def pull_secret_refs(resources: Iterable[Resource]) -> list[tuple[str, str]]:
    """(namespace, Secret name) of every pull secret the objects' pods name, sorted."""
    refs: set[tuple[str, str]] = set()
    for res in resources:
        ns = res.id.namespace
        if ns is None:
            continue
        try:
            pods = find_pods(res, {})
        except NotEvaluated:
            continue
        for pod in pods:
            items = pod.spec.get("imagePullSecrets")
            for item in items if isinstance(items, list) else []:
                name = item.get("name") if isinstance(item, dict) else None
                if isinstance(name, str) and name:
                    refs.add((ns, name))
    return sorted(refs)


def _auths(secret: dict[str, Any]) -> dict[str, Any] | str:
    """The `auths` a pull secret holds, or why it holds none."""
    kind = secret.get("type")
    data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
    key = {DOCKERCONFIGJSON: ".dockerconfigjson", DOCKERCFG: ".dockercfg"}.get(kind) if isinstance(kind, str) else None
    if key is None:
        return f"of type {kind!r}, not {DOCKERCONFIGJSON} or {DOCKERCFG}"
    raw = data.get(key) if isinstance(data, dict) else None
    try:
        doc = orjson.loads(base64.b64decode(raw, validate=True)) if isinstance(raw, str) else None
    except (ValueError, orjson.JSONDecodeError):
        doc = None
    if not isinstance(doc, dict):
        return f"its {key} is not base64 JSON"
    auths = doc.get("auths") if kind == DOCKERCONFIGJSON else doc
    if not isinstance(auths, dict):
        return f"its {key} has no auths"
    return auths


def read_pull_secrets(cluster: _Getter, refs: list[tuple[str, str]]) -> tuple[dict[str, Any], list[str]]:
    """A docker config (`{"auths": {...}}`) of every readable pull secret, and warnings for the
    others. The first Secret (in `refs` order) to name a registry wins, as docker's own lookup
    takes one entry per registry."""
    from urllib.parse import quote

    merged: dict[str, Any] = {}
    warnings: list[str] = []
    if len(refs) > MAX_SECRETS:
        warnings.append(f"pull secrets: {len(refs)} referenced, the first {MAX_SECRETS} read")
    for ns, name in refs[:MAX_SECRETS]:
        where = f"pull secret {ns}/{name}"
        r = cluster.get(f"/api/v1/namespaces/{quote(ns, safe='')}/secrets/{quote(name, safe='')}")
        if r.status != 200:
            warnings.append(f"{where}: not read (HTTP {r.status}{' ' + r.reason if r.reason else ''})")
            continue
        try:
            secret = r.json()
        except ValueError:
            warnings.append(f"{where}: the API server's answer is not JSON")
            continue
        found = _auths(secret) if isinstance(secret, dict) else "not an object"
        if isinstance(found, str):
            warnings.append(f"{where}: no registry credentials ({found})")
            continue
        for host, entry in found.items():
            merged.setdefault(host, entry)
    return {"auths": merged}, warnings
