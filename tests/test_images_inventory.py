"""kubefort.images.inventory: exact inventories, normalisation against imageref, imageID parsing."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from kubefort.checks.images import ImageRef
from kubefort.images.inventory import Workload, build_inventory, parse_image_id, reference_key
from kubefort.kube import imageref
from kubefort.loaders.manifests import load_resources
from kubefort.model import Resource, ResourceId, Source

IMAGES = FIXTURES / "images"
A = "sha256:" + "a1" * 32
B = "sha256:" + "b2" * 32


def _inventory(path):
    resources, problems, _ = load_resources([str(path)])
    assert not problems
    return build_inventory(resources)


def test_fixture_inventory_is_exact():
    inv = _inventory(IMAGES / "inventory.yaml")
    got = {k: sorted((w.kind, w.namespace, w.name, w.container) for w in e.workloads) for k, e in inv.images.items()}
    assert got == {
        "docker.io/library/busybox:latest": [
            ("Deployment", "shop", "web", "debug"),
            ("Deployment", "shop", "web", "init"),
        ],
        "docker.io/library/nginx:1.25": [
            ("Deployment", "shop", "web", "proxy"),
            ("Deployment", "shop", "web", "web"),
            ("Pod", "shop", "bad", "weak-digest"),
        ],
        f"registry.example.com/shop/app:1.4@{A}": [("Deployment", "shop", "web", "pinned")],
        f"registry.example.com:5000/ops/report@{B}": [("CronJob", "ops", "report", "report")],
        "ghcr.io/acme/canary:3.0": [("Rollout", "shop", "canary", "app")],
    }
    nginx = inv.images["docker.io/library/nginx:1.25"]
    assert nginx.written == {"nginx:1.25", "index.docker.io/library/nginx:1.25", "nginx:1.25@sha256:ABC"}
    assert list(nginx.bad_digests) == ["nginx:1.25@sha256:ABC"] and nginx.digest is None and not nginx.pinned
    pinned = inv.images[f"registry.example.com/shop/app:1.4@{A}"]
    assert (pinned.repository, pinned.tag, pinned.digest, pinned.pinned) == (
        "registry.example.com/shop/app",
        "1.4",
        A,
        True,
    )
    report = inv.images[f"registry.example.com:5000/ops/report@{B}"]
    assert (report.tag, report.digest) == (None, B)  # pinned without tag: no :latest added
    assert list(inv.invalid) == ["{{ .Values.image }}"]
    assert inv.invalid["{{ .Values.image }}"].workloads == {Workload("Pod", "shop", "bad", "templated")}
    assert inv.problems == [] and inv.statuses_read == 0
    assert nginx.namespaces == ["shop"]


def _res(kind, name, obj, ns="shop", api="v1"):
    obj = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns, **obj.pop("metadata", {})},
        **obj,
    }
    return Resource(ResourceId(api, kind, ns, name), obj, Source("x"))


def _pod(name, image, image_id, owner_uid=None, uid=None):
    meta = {"uid": uid or f"uid-{name}"}
    if owner_uid:
        meta["ownerReferences"] = [{"uid": owner_uid, "controller": True, "kind": "ReplicaSet", "name": "rs"}]
    return _res(
        "Pod",
        name,
        {
            "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": image}]},
            "status": {"containerStatuses": [{"name": "app", "imageID": image_id}]},
        },
    )


def test_pods_fold_into_their_controller_and_report_running_digests():
    dep = _res(
        "Deployment",
        "web",
        {
            "metadata": {"uid": "d1"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:2"}]}}},
        },
        api="apps/v1",
    )
    rs = _res(
        "ReplicaSet",
        "web-1",
        {
            "metadata": {"uid": "r1", "ownerReferences": [{"uid": "d1", "controller": True}]},
            "spec": {"replicas": 0, "template": {"spec": {"containers": [{"name": "app", "image": "web:1"}]}}},
        },
        api="apps/v1",
    )
    p1 = _pod("web-1-a", "web:2", f"docker.io/library/web@{A}", "r1")
    p2 = _pod("web-1-b", "web:2", f"docker-pullable://web@{B}", "r1")
    p3 = _pod("web-1-c", "web:2", "sha256:" + "cc" * 32, "r1")
    lone = _pod("lone", "web:2", "", None)
    inv = build_inventory([dep, rs, p1, p2, p3, lone])
    assert sorted(inv.images) == ["docker.io/library/web:2"]  # the old revision (web:1) adds nothing
    e = inv.images["docker.io/library/web:2"]
    assert e.workloads == {Workload("Deployment", "shop", "web", "app"), Workload("Pod", "shop", "lone", "app")}
    assert e.running == {A: {"shop/web-1-a"}, B: {"shop/web-1-b"}}
    assert e.local_ids == {"sha256:" + "cc" * 32: {"shop/web-1-c"}}
    assert e.pods_without_status == {"shop/lone"}
    assert inv.statuses_read == 3
    assert e.findings() == [
        f"the tag '2' runs 2 different digests: it was moved while pods kept the old image ({A}, {B})"
    ]


def test_pinned_digest_other_than_running_is_a_finding():
    inv = build_inventory([_pod("p", f"web@{A}", f"web@{B}")])
    (e,) = inv.images.values()
    assert e.findings() == [f"the reference pins {A} but pods report {B}"]
    assert (
        build_inventory([_pod("p", f"web@{A}", f"docker-pullable://docker.io/library/web@{A}")])
        .images[f"docker.io/library/web@{A}"]
        .findings()
        == []
    )


def test_parse_image_id_forms():
    assert parse_image_id(f"docker-pullable://nginx@{A}").digest == A
    assert parse_image_id(f"docker-pullable://nginx@{A}").repository == "docker.io/library/nginx"
    assert parse_image_id(f"registry.example.com:5000/x/y@{A}").repository == "registry.example.com:5000/x/y"
    for local in (A, f"docker://{A}"):
        r = parse_image_id(local)
        assert r is not None and r.local and r.repository is None and r.digest == A
    for nothing in ("", None, 5, "sha256:abc", "nginx@md5:abc", "docker://nonsense", "not an id"):
        assert parse_image_id(nothing) is None


# ---------------------------------------------------------------- normalisation vs imageref
_component = st.from_regex(r"[a-z0-9]{1,6}([._-][a-z0-9]{1,6})?", fullmatch=True)
_host = st.sampled_from(
    ["", "docker.io/", "index.docker.io/", "localhost:5000/", "Registry.Example.com/", "ghcr.io/", "[::1]:5000/"]
)
_tag = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True))
_digest = st.one_of(
    st.none(), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}")
)


@settings(max_examples=300, deadline=None)
@given(_host, st.lists(_component, min_size=1, max_size=3), _tag, _digest)
def test_reference_key_is_the_kubelet_normalisation(host, path, tag, digest):
    text = host + "/".join(path) + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    try:
        ref = imageref.parse_normalized(text)
    except imageref.ImageRefError:
        return  # e.g. a one-component name that is 64 hex digits; build_inventory lists these as invalid
    key = reference_key(ImageRef(ref.domain, ref.path, ref.tag, str(ref.digest) if ref.digest else None))
    host_part = ref.domain.lower()
    repo = ref.path
    if host_part in ("docker.io", "index.docker.io"):
        host_part = "docker.io"
    assert key.startswith(f"{host_part}/{repo}")
    if ref.tag is None and ref.digest is None:
        assert key.endswith(":latest")
    if ref.digest is not None:
        assert key.endswith(f"@{ref.digest}")
    # every spelling of one image gives one key
    if host in ("", "docker.io/", "index.docker.io/") and len(path) == 1:
        assert key.startswith(f"docker.io/library/{path[0]}")
    # the key itself parses to the same image
    again = imageref.parse_normalized(key)
    assert (again.domain.lower(), again.path, again.digest) == (host_part, repo, ref.digest)
    assert again.tag == (ref.tag if ref.tag is not None else ("latest" if ref.digest is None else None))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable, max_size=80))
def test_inventory_never_crashes_on_any_image_text(text):
    inv = build_inventory([_res("Pod", "p", {"spec": {"containers": [{"name": "c", "image": text}]}})])
    assert len(inv.images) + len(inv.invalid) + len(inv.problems) == 1
