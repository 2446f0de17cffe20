"""The pure parts of kubefort.images.pullsecrets: which Secrets the pods name, and what each
kind of pull secret holds (the reading itself is tested against the real API server in
tests/test_images_pullsecrets_cluster.py)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from kubefort.images.oci import Credentials, docker_credentials
from kubefort.images.pullsecrets import _auths, pull_secret_refs
from kubefort.model import Resource, ResourceId, Source


def _res(obj: dict[str, Any]) -> Resource:
    meta = obj.get("metadata") or {}
    return Resource(
        ResourceId(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta.get("name", "")), obj, Source("t")
    )


def _pod_spec(secrets: object) -> dict[str, Any]:
    return {"containers": [{"name": "c", "image": "x"}], "imagePullSecrets": secrets}


def test_refs_come_from_pods_and_templates_in_their_namespace() -> None:
    objs = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"},
         "spec": _pod_spec([{"name": "reg"}, {"name": "reg"}, {"name": ""}, {}, "bad"])},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "b"},
         "spec": {"template": {"spec": _pod_spec([{"name": "other"}])}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q", "namespace": "c"}, "spec": _pod_spec("nope")},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "r", "namespace": "d"}, "spec": "broken"},
    ]  # fmt: skip
    assert pull_secret_refs([_res(o) for o in objs]) == [("a", "reg"), ("b", "other")]


def _b64json(doc: object) -> str:
    return base64.b64encode(orjson.dumps(doc)).decode()


AUTH = base64.b64encode(b"user:pw").decode()


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": _b64json({"auths": {"r.io": {"auth": AUTH}}})}},
         {"r.io": {"auth": AUTH}}),
        # the legacy format: the registries at the top level
        ({"type": "kubernetes.io/dockercfg", "data": {".dockercfg": _b64json({"r.io": {"auth": AUTH}})}},
         {"r.io": {"auth": AUTH}}),
        ({"type": "Opaque", "data": {}}, "of type 'Opaque', not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg"),
        ({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "%%"}}, "its .dockerconfigjson is not base64 JSON"),
        ({"type": "kubernetes.io/dockerconfigjson", "data": {}}, "its .dockerconfigjson is not base64 JSON"),
        ({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": _b64json({"auths": []})}},
         "its .dockerconfigjson has no auths"),
        ({"type": "kubernetes.io/dockerconfigjson", "data": "x"}, "its .dockerconfigjson is not base64 JSON"),
    ],
)  # fmt: skip
def test_what_a_pull_secret_holds(secret: dict[str, Any], expected: object) -> None:
    assert _auths(secret) == expected


def test_the_merged_auths_are_read_as_docker_config() -> None:
    found = _auths(
        {"type": "kubernetes.io/dockercfg", "data": {".dockercfg": _b64json({"https://r.io": {"auth": AUTH}})}}
    )
    assert isinstance(found, dict)
    assert docker_credentials("r.io", {"auths": found}) == Credentials("user", "pw")
