"""`kubefort images` (JSON, CSV, table, exit codes) and the scan-data path of `kubefort scan`."""

from __future__ import annotations

import csv
import io
import json
import shutil
from types import SimpleNamespace

import orjson
from click.testing import CliRunner

from conftest import FIXTURES
from kubefort.cli import cli
from kubefort.images.sources import source_resources

IMAGES = FIXTURES / "images"
SCANS = IMAGES / "scans"
A = "sha256:" + "a1" * 32


def _run(*args: str):
    return CliRunner().invoke(cli, ["images", *args], catch_exceptions=False)


def test_json_interface():
    r = _run(str(IMAGES / "inventory.yaml"), "-o", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    images = {d["image"]: d for d in doc["images"]}
    assert sorted(images) == [
        "docker.io/library/busybox:latest",
        "docker.io/library/nginx:1.25",
        "ghcr.io/acme/canary:3.0",
        f"registry.example.com/shop/app:1.4@{A}",
        "registry.example.com:5000/ops/report@sha256:" + "b2" * 32,
    ]
    pinned = images[f"registry.example.com/shop/app:1.4@{A}"]
    assert pinned["digest"] == A and pinned["reference"] == "digest"
    assert pinned["workloads"] == [{"kind": "Deployment", "namespace": "shop", "name": "web", "container": "pinned"}]
    assert images["docker.io/library/busybox:latest"]["workloads"] == [
        {"kind": "Deployment", "namespace": "shop", "name": "web", "container": "debug"},
        {"kind": "Deployment", "namespace": "shop", "name": "web", "container": "init"},
    ]
    assert "vulnerabilities" not in pinned  # no scan data given, no counts
    assert doc["invalid"] == [
        {
            "image": "{{ .Values.image }}",
            "error": "image '{{ .Values.image }}' is a template placeholder, filled in at deploy time",
            "workloads": [{"kind": "Pod", "namespace": "shop", "name": "bad", "container": "templated"}],
        }
    ]
    assert doc["summary"] == {"images": 5, "pinned": 2, "running_statuses": 0, "with_findings": 0, "scanned": None}


def _scanned_manifest(tmp_path):
    p = tmp_path / "app.yaml"
    p.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, namespace: shop}\nspec:\n  template:\n    spec:\n"
        "      containers:\n      - {name: app, image: registry.example.com/shop/app:1.4.2}\n"
        "      - {name: worker, image: ghcr.io/acme/worker:2.0}\n      - {name: cache, image: redis:7}\n"
    )
    return p


def test_scans_give_counts_and_csv(tmp_path):
    p = _scanned_manifest(tmp_path)
    r = _run(str(p), "--scans", str(SCANS), "-o", "json")
    assert r.exit_code == 0, r.output
    images = {d["image"]: d for d in json.loads(r.stdout)["images"]}
    app = images["registry.example.com/shop/app:1.4.2"]
    assert app["vulnerabilities"] == {"critical": 1, "high": 2, "medium": 0, "low": 1, "unknown": 0}
    assert app["scan"]["format"] == "trivy" and app["scan"]["scanned_at"] == "2024-05-02T10:11:12.123456+00:00"
    assert app["fixable"] == 3
    assert images["ghcr.io/acme/worker:2.0"]["scan"]["format"] == "grype"
    assert (
        images["docker.io/library/redis:7"]["scan"] is None
        and images["docker.io/library/redis:7"]["vulnerabilities"] is None
    )
    out = tmp_path / "images.csv"
    r = _run(str(p), "--scans", str(SCANS / "trivy-app.json"), "-o", f"csv={out}")
    assert r.exit_code == 0 and r.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(x["image"], x["container"], x["critical"], x["high"]) for x in rows] == [
        ("docker.io/library/redis:7", "cache", "", ""),
        ("ghcr.io/acme/worker:2.0", "worker", "", ""),
        ("registry.example.com/shop/app:1.4.2", "app", "1", "2"),
    ]


def test_table_lists_findings_and_bad_scan_files_exit_3(tmp_path):
    shutil.copy(SCANS / "trivy-app.json", tmp_path / "ok.json")
    (tmp_path / "broken.json").write_text("<html>")
    r = _run(str(FIXTURES / "checks" / "KF-IMG-010.yaml"), "--scans", str(tmp_path))
    assert r.exit_code == 3
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "BY", "WORKLOADS", "NAMESPACES", "RUNNING", "C/H/M/L", "NOTES"]
    web = next(line for line in lines if line.startswith("registry.example.com/web:2.1 "))
    assert "the tag '2.1' runs 2 different digests" in web and "no scan" in web
    assert f"kubefort: not read: {tmp_path / 'broken.json'}: not JSON" in r.stderr


def test_usage_errors():
    assert _run().exit_code == 2
    assert _run("--cluster", "x.yaml").exit_code == 2
    assert _run("x.yaml", "-n", "shop").exit_code == 2
    assert _run(str(IMAGES / "inventory.yaml"), "-o", "yaml").exit_code == 2
    r = _run("does-not-exist.yaml")
    assert r.exit_code == 2 and "does-not-exist.yaml" in r.stderr


def test_source_resources_reads_every_pod_of_a_cluster_source():
    from kubefort.cluster.collect import ListStatus, Page
    from kubefort.cluster.discovery import ResourceType

    pods = ResourceType(group="", version="v1", resource="pods", kind="Pod", namespaced=True, verbs=("list",))
    deps = ResourceType(
        group="apps", version="v1", resource="deployments", kind="Deployment", namespaced=True, verbs=("list",)
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
        "status": {"containerStatuses": [{"name": "c", "imageID": f"docker.io/library/nginx@{A}"}]},
    }
    source = SimpleNamespace(
        name="test",
        pages=lambda: iter([Page(0, pods, None, 0, 0, orjson.dumps({"items": [pod]}), normalized=True)]),
        statuses=[ListStatus(pods, None, "ok", 1), ListStatus(deps, "shop", "forbidden", 0, "403")],
    )
    resources, problems = source_resources(source)
    assert [str(r.id) for r in resources] == ["Pod/shop/p"]
    assert problems == ["/apis/apps/v1/namespaces/shop/deployments: could not be listed (forbidden: 403)"]
    from kubefort.images.inventory import build_inventory

    assert build_inventory(resources).images["docker.io/library/nginx:1"].running == {A: {"shop/p"}}


def test_help_lists_images():
    r = CliRunner().invoke(cli, ["--help"])
    assert "images" in r.output


# ---------------------------------------------------------------- kubefort scan + image_scans
def test_scan_reads_image_scans_from_config(tmp_path):
    p = _scanned_manifest(tmp_path)
    shutil.copytree(SCANS, tmp_path / "scans")
    (tmp_path / ".kubefort.yaml").write_text("image_scans:\n  files: [scans/]\n")
    r = CliRunner().invoke(
        cli, ["scan", str(p), "--checks", "KF-IMG-007,KF-IMG-008,KF-IMG-009", "-o", "json", "--fail-on", "never"]
    )
    doc = json.loads(r.stdout)
    got = {(f["check_id"], f["outcome"]) for f in doc["results"]}
    assert ("KF-IMG-007", "failed") in got  # CVE-2024-2961 etc., fixes older than 30 days
    assert ("KF-IMG-009", "failed") in got  # scans from 2024/2025, older than 7 days
    assert ("KF-IMG-008", "not-evaluated") in got  # redis:7 has no scan result
    assert r.exit_code == 3  # not-evaluated outcomes make the scan incomplete
    # what the history metrics read: the same counts as `kubefort images` (4 + 2 vulnerabilities)
    assert doc["extras"]["images"] == {"images": 3, "scanned": 2, "vulnerabilities": 6, "scan_data_errors": 0}
    inv = json.loads(_run(str(p), "--scans", str(SCANS), "-o", "json").stdout)
    assert inv["summary"]["scanned"] == 2
    assert sum(sum((e["vulnerabilities"] or {}).values()) for e in inv["images"]) == 6


def test_stored_scans_give_the_image_metrics(tmp_path):
    p = _scanned_manifest(tmp_path)
    shutil.copytree(SCANS, tmp_path / "scans")
    (tmp_path / ".kubefort.yaml").write_text("image_scans:\n  files: [scans/]\n")
    store = f"sqlite:///{tmp_path / 'history.db'}"
    r = CliRunner().invoke(cli, ["scan", str(p), "--store", store, "-q", "--fail-on", "never", "-o", "json=/dev/null"])
    assert r.exit_code == 3, r.output
    r = CliRunner().invoke(cli, ["metrics", "--store", store, "-o", "json"])
    metrics = {m["name"]: m for m in json.loads(r.stdout)["metrics"]}
    assert (metrics["images_scanned"]["value"], metrics["vulnerabilities_per_image"]["value"]) == (2, 3.0)
    assert metrics["time_to_remediate_vulnerabilities_median"]["available"] is False  # nothing fixed yet


def test_scan_without_scan_data_runs_none_of_the_scan_checks(tmp_path):
    p = _scanned_manifest(tmp_path)
    r = CliRunner().invoke(
        cli,
        [
            "scan",
            str(p),
            "--no-config",
            "--checks",
            "KF-IMG-007,KF-IMG-008,KF-IMG-009",
            "-o",
            "json",
            "--include-passed",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [x for x in doc["results"] if x["check_id"].startswith("KF-IMG")] == []


def test_engine_does_not_call_a_cross_object_check_that_is_off(tmp_path):
    import dataclasses

    from kubefort.engine import Engine, EngineSettings
    from kubefort.loaders.manifests import InputSpec, load
    from kubefort.registry import REGISTRY, Registry

    calls = []
    meta = REGISTRY.get("KF-IMG-008")

    def probe(*args):
        calls.append(args[0].id.name)
        return iter(())

    registry = Registry()
    registry.add(dataclasses.replace(meta, func=probe))
    p = _scanned_manifest(tmp_path)
    li = load(InputSpec("file", str(p), p.stat().st_size))
    for options, expected in (({}, []), ({"KF-IMG-008": meta.options(vulnerability_reports=True)}, ["app"])):
        engine = Engine(EngineSettings(check_ids=("KF-IMG-008",), options=options), registry)
        calls.clear()
        engine.cross_object(engine.evaluate(li).collected)
        assert calls == expected
