"""Snapshot files without a server: what the reader refuses, and what it must never let pass."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from kubefort.cluster.collect import ListStatus, Page
from kubefort.cluster.discovery import Discovery, ResourceType
from kubefort.cluster.source import SnapshotError, SnapshotSource, SnapshotWriter, cluster_info, is_snapshot

PODS = ResourceType("", "v1", "pods", "Pod", True, ("list",))
SECRETS = ResourceType("", "v1", "secrets", "Secret", True, ("list",))
CRB = ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, ("list",))


def header() -> dict:
    return {
        "kind": "KubefortClusterSnapshot",
        "version": 1,
        "kubefortVersion": "test",
        "created": "2026-11-25T00:00:00+00:00",
        "cluster": {"name": "lab", "server": "https://127.0.0.1:6443"},
        "info": cluster_info(
            "lab", "https://127.0.0.1:6443", {"gitVersion": "v1.37.2", "major": "1", "minor": "37"}, None
        ),
        "discovery": Discovery([PODS, SECRETS, CRB], "aggregated").as_dict(),
        "scope": {"namespaces": None, "skip": [], "anonymousProbe": False},
    }


def pod(name: str, **spec: object) -> dict:
    return {
        "metadata": {"name": name, "namespace": "shop", "managedFields": [{"manager": "kubectl"}]},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27", **spec}]},
    }


def write(path: Path, pages: list[Page], statuses: list[ListStatus]) -> Path:
    w = SnapshotWriter(str(path), header())
    for p in pages:
        w.page(p)
    w.close(statuses)
    return path


def page(
    rtype: ResourceType, items: list[dict], index: int, attempt: int = 0, number: int = 0, table: bool = False
) -> Page:
    body = (
        {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version, "metadata": {}, "items": items}
        if not table
        else items[0]
    )
    return Page(index, rtype, None, attempt, number, orjson.dumps(body), table=table)


def scan(path: Path, *args: str) -> tuple[int, dict, str]:
    out = path.parent / "report.json"
    r = subprocess.run(
        [sys.executable, "-m", "kubefort", "scan", str(path), "-o", f"json={out}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r.returncode, (json.loads(out.read_text()) if out.exists() else {}), r.stderr


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    secret_table = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [{"name": "Name"}, {"name": "Type"}, {"name": "Data"}, {"name": "Age"}],
        "rows": [
            {
                "cells": ["db", "Opaque", 1, "1d"],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {
                        "name": "db",
                        "namespace": "shop",
                        "annotations": {
                            "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"c2VjcmV0"}}'
                        },
                    },
                },
            }
        ],
    }
    return write(
        tmp_path / "lab.json.gz",
        [
            page(PODS, [pod("web", securityContext={"privileged": True}), pod("api")], 0),
            page(SECRETS, [secret_table], 1, table=True),
        ],
        [
            ListStatus(PODS, None, "ok"),
            ListStatus(SECRETS, None, "ok"),
            ListStatus(CRB, None, "forbidden", message="403: forbidden"),
        ],
    )


def test_snapshot_scan_reports_objects_findings_and_the_forbidden_list(snap):
    code, rep, err = scan(snap, "--fail-on", "never")
    assert code == 3, err  # incomplete: the ClusterRoleBindings could not be listed
    names = {(o["kind"], o["name"]) for o in rep["objects"]}
    assert {("Pod", "web"), ("Pod", "api"), ("Secret", "db"), ("ClusterInfo", "lab")} <= names
    failed = {(o["check_id"], o["resource"]["name"]) for o in rep["results"] if o["outcome"] == "failed"}
    assert ("KF-POD-001", "web") in failed and ("KF-POD-001", "api") not in failed
    (gap,) = [o for o in rep["results"] if o["check_id"] == "KF-INPUT-004"]
    assert (
        gap["file"] == "cluster://lab/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" and "403" in gap["message"]
    )
    assert all(o["outcome"] == "not-evaluated" for o in rep["results"] if o["check_id"].startswith("KF-RBAC-"))


def test_snapshot_holds_no_secret_value_and_no_managed_fields(snap):
    text = gzip.decompress(snap.read_bytes())
    assert b"c2VjcmV0" not in text and b"managedFields" not in text and b"last-applied" not in text
    assert b'"type":"Opaque"' in text


def test_abandoned_attempts_are_dropped(tmp_path):
    """Pages of a list that restarted after 410 Gone: only the last attempt counts."""
    path = write(
        tmp_path / "s.json",
        [
            page(PODS, [pod("a"), pod("b")], 0, attempt=0, number=0),
            page(PODS, [pod("a"), pod("b")], 0, attempt=1, number=0),
            page(PODS, [pod("c")], 0, attempt=1, number=1),
        ],
        [ListStatus(PODS, None, "ok"), ListStatus(SECRETS, None, "ok"), ListStatus(CRB, None, "ok")],
    )
    _code, rep, err = scan(path, "--fail-on", "never")
    pods = sorted(o["name"] for o in rep["objects"] if o["kind"] == "Pod")
    assert pods == ["a", "b", "c"], err
    assert [i["objects"] for i in rep["inputs"] if i["path"].endswith("/pods")] == [3]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b'{"kind":"KubefortClusterSnapshot"}\n', "first line has no page list"),
        (lambda b: b.replace(b'"version":1', b'"version":9', 1), "format version 9 is not supported"),
        (lambda b: b"\n".join(b.split(b"\n")[:2]) + b"\n", "truncated"),
        (lambda b: b.replace(b'{"list":0', b'{"list":7', 1), "page 1 is malformed"),
        (lambda b: b.replace(b'"statuses":[', b'"statuses":[{"x":1},', 1), "unreadable list statuses"),
    ],
)
def test_damaged_snapshots_are_refused(snap, tmp_path, mutate, message):
    raw = gzip.decompress(snap.read_bytes())
    bad = tmp_path / "bad.json"
    bad.write_bytes(mutate(raw))
    assert is_snapshot(str(bad))
    with pytest.raises(SnapshotError, match=message):
        src = SnapshotSource(str(bad))
        list(src.pages())
    code, _, err = scan(bad)
    assert code == 2 and message in err


def test_items_of_the_wrong_type_are_not_evaluated_not_a_crash(tmp_path):
    path = write(
        tmp_path / "s.json",
        [],
        [ListStatus(PODS, None, "ok"), ListStatus(SECRETS, None, "ok"), ListStatus(CRB, None, "ok")],
    )
    raw = path.read_bytes().replace(
        b'"pages":[\n', b'"pages":[\n{"list":0,"namespace":null,"attempt":0,"number":0,"items":5}\n', 1
    )
    path.write_bytes(raw)
    code, rep, err = scan(path, "--fail-on", "never")
    assert code == 3, err
    (bad,) = [o for o in rep["results"] if o["check_id"] == "KF-INPUT-001"]
    assert "items is int, not a list" in bad["message"]


def test_hostile_yaml_tags_in_snapshot_strings_are_just_strings(tmp_path):
    evil = pod("evil")
    evil["metadata"]["annotations"] = {"x": "!!python/object/apply:os.system ['touch /tmp/kubefort-pwned']"}
    path = write(
        tmp_path / "s.json",
        [page(PODS, [evil], 0)],
        [ListStatus(PODS, None, "ok"), ListStatus(SECRETS, None, "ok"), ListStatus(CRB, None, "ok")],
    )
    scan(path, "--fail-on", "never")
    assert not Path("/tmp/kubefort-pwned").exists()


def test_namespace_posture_across_the_cluster(tmp_path):
    ns_t = ResourceType("", "v1", "namespaces", "Namespace", False, ("list",))
    np_t = ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("list",))
    rq_t = ResourceType("", "v1", "resourcequotas", "ResourceQuota", True, ("list",))
    lr_t = ResourceType("", "v1", "limitranges", "LimitRange", True, ("list",))
    h = header()
    h["discovery"] = Discovery([ns_t, np_t, rq_t, lr_t, PODS], "aggregated").as_dict()
    w = SnapshotWriter(str(tmp_path / "p.json"), h)
    w.page(
        page(
            ns_t,
            [
                {"metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
                {"metadata": {"name": "lab"}},
            ],
            0,
        )
    )
    w.page(
        page(
            np_t,
            [
                {
                    "metadata": {"name": "deny", "namespace": "shop"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                }
            ],
            1,
        )
    )
    w.page(
        page(
            rq_t,
            [
                {
                    "metadata": {"name": "q", "namespace": "shop"},
                    "spec": {
                        "hard": {
                            "requests.cpu": "4",
                            "requests.memory": "8Gi",
                            "limits.cpu": "8",
                            "limits.memory": "16Gi",
                            "pods": "20",
                        }
                    },
                }
            ],
            2,
        )
    )
    w.page(
        page(
            lr_t,
            [
                {
                    "metadata": {"name": "l", "namespace": "shop"},
                    "spec": {
                        "limits": [
                            {
                                "type": "Container",
                                "default": {"cpu": "500m", "memory": "256Mi"},
                                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                            }
                        ]
                    },
                }
            ],
            3,
        )
    )
    w.close([ListStatus(t, None, "ok") for t in (ns_t, np_t, rq_t, lr_t, PODS)])
    code, rep, err = scan(tmp_path / "p.json", "--fail-on", "never")
    assert code == 0, err
    assert rep["extras"]["cluster"]["namespaces"] == {
        "lab": {
            "podSecurityEnforce": None,
            "defaultDenyIngress": False,
            "defaultDenyEgress": False,
            "resourceQuota": False,
            "limitRange": False,
        },
        "shop": {
            "podSecurityEnforce": "restricted",
            "defaultDenyIngress": True,
            "defaultDenyEgress": True,
            "resourceQuota": True,
            "limitRange": True,
        },
    }
    table = subprocess.run(
        [sys.executable, "-m", "kubefort", "scan", str(tmp_path / "p.json"), "--fail-on", "never", "--no-color"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "namespaces: 2; Pod Security enforce: restricted 1, no label 1" in table
    flowed = " ".join(table.split())  # the table wraps at the terminal's (or a pipe's default) width
    assert "with default-deny ingress 1/2, default-deny egress 1/2, ResourceQuota 1/2, LimitRange 1/2" in flowed


def test_a_skip_name_that_matches_nothing_is_a_warning(tmp_path):
    h = header()
    h["scope"]["skip"] = ["secret", "events", "pods"]  # a typo, a default, a real type
    w = SnapshotWriter(str(tmp_path / "s.json"), h)
    w.close(
        [
            ListStatus(PODS, None, "skipped", message="--skip-resources"),
            ListStatus(SECRETS, None, "ok"),
            ListStatus(CRB, None, "ok"),
        ]
    )
    code, rep, err = scan(tmp_path / "s.json", "--fail-on", "never")
    assert code == 3, err  # the lists were empty: no object read, nothing evaluated (issue 12 item 4)
    assert rep["warnings"] == [
        "--skip-resources 'secret' matches no resource type the server serves (use plural names, name.group for other groups)",
        f"no Kubernetes objects found in snapshot {tmp_path / 's.json'}: nothing was evaluated",
    ]


def test_cluster_scans_report_the_cross_object_phase(snap):
    """After the listing, the cross-object checks report progress one by one, as in a manifest scan."""
    from kubefort.cluster.scan import scan_source
    from kubefort.engine import EngineSettings
    from kubefort.engine.progress import ProgressEvent
    from kubefort.model import options_off
    from kubefort.registry import REGISTRY

    events: list[ProgressEvent] = []
    # checks whose default options leave them off (OffUntilSet: KF-IMG-007..009 without scan data) are not run
    cross_ids = sorted(
        m.id for m in REGISTRY if m.target == "cluster" and not options_off(m.options() if m.options else None)
    )
    ids = tuple(m.id for m in REGISTRY if m.target != "audit")
    scan_source(SnapshotSource(str(snap)), EngineSettings(check_ids=ids), jobs=1, phases=events.append)
    cross = [e for e in events if e.phase == "cross-object"]
    assert [e.done for e in cross] == list(range(len(cross_ids) + 1))
    assert sorted(e.current for e in cross[1:]) == cross_ids
