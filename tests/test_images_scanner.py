"""`kubefort images --scan-with` (kubefort.images.scanner) with the real trivy, built from the Go
module proxy by tools/install-test-registry.sh, scanning images of the real test registry of
test_images_signatures. Trivy runs offline with its secret scanner only (no vulnerability
database can be downloaded here), so its reports carry no vulnerabilities: the test proves the
run, the report files and their mapping onto the inventory, and that a failed run is a problem
(exit 3), never an image reported clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import test_images_signatures
from conftest import tool_missing
from kubefort.cli import cli
from kubefort.images.scanner import command, report_name
from test_images_signatures import TOOLS, World, _deployment

world = test_images_signatures.world  # the registry fixture (one registry per module)
TRIVY = TOOLS / "trivy"


def _offline(tmp_path: Path) -> list[str]:
    return [
        "--scanner-arg=--scanners=secret",
        "--scanner-arg=--skip-db-update",
        f"--scanner-arg=--cache-dir={tmp_path / 'trivy-cache'}",
    ]


def test_trivy_reports_are_mapped_onto_the_inventory(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not TRIVY.is_file():
        tool_missing("trivy not built: run `bash tools/install-test-registry.sh` (needs Go)")
    monkeypatch.setenv("KUBEFORT_TRIVY", str(TRIVY))
    monkeypatch.setenv("SSL_CERT_FILE", str(world.ca))  # trivy (Go) trusts the test registry
    monkeypatch.setenv("HOME", str(tmp_path))
    digest = world.push("scan/app:v1", "scan me")
    h = world.host
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "app.yaml").write_text(
        yaml.safe_dump_all([_deployment("app", f"{h}/scan/app@{digest}"), _deployment("tagged", f"{h}/scan/app:v1")])
    )
    out = tmp_path / "reports"
    res = CliRunner().invoke(
        cli,
        ["images", str(tmp_path / "k8s"), "--no-config", "--scan-with", "trivy", *_offline(tmp_path),
         "--scan-dir", str(out), "-o", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    got = {e["image"]: (e["scan"]["format"], e["vulnerabilities"]) for e in doc["images"]}
    zero = {"critical": 0, "high": 0, "medium": 0, "low": 0, "unknown": 0}
    assert got == {f"{h}/scan/app@{digest}": ("trivy", zero), f"{h}/scan/app:v1": ("trivy", zero)}
    assert doc["summary"]["scanned"] == 2
    # one report per image given to the scanner, kept in --scan-dir
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [report_name(f"{h}/scan/app@{digest}"), report_name(f"{h}/scan/app:v1")]
    )


def test_a_failed_scan_is_a_problem_never_a_clean_image(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not TRIVY.is_file():
        tool_missing("trivy not built: run `bash tools/install-test-registry.sh` (needs Go)")
    monkeypatch.setenv("KUBEFORT_TRIVY", str(TRIVY))
    monkeypatch.setenv("SSL_CERT_FILE", str(world.ca))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TRIVY_TIMEOUT", "30s")
    missing = f"{world.host}/scan/missing:v1"
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(_deployment("gone", missing)))
    res = CliRunner().invoke(
        cli,
        ["images", str(tmp_path / "app.yaml"), "--no-config", "--scan-with", "trivy", *_offline(tmp_path), "-o", "json",
         "--scanner-arg=--image-src=remote"],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 3, res.output
    (entry,) = json.loads(res.stdout)["images"]
    assert entry["scan"] is None and entry["vulnerabilities"] is None
    assert f"kubefort: not read: trivy on {missing}: exit 1: " in res.stderr


def test_a_missing_scanner_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEFORT_GRYPE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(_deployment("app", "nginx:1.27")))
    res = CliRunner().invoke(cli, ["images", str(tmp_path / "app.yaml"), "--no-config", "--scan-with", "grype"])
    assert res.exit_code == 2
    assert (
        "grype: not on PATH, and $KUBEFORT_GRYPE is not set; install grype or point $KUBEFORT_GRYPE at it" in res.output
    )
    monkeypatch.setenv("KUBEFORT_GRYPE", str(tmp_path / "nope"))
    res = CliRunner().invoke(cli, ["images", str(tmp_path / "app.yaml"), "--no-config", "--scan-with", "grype"])
    assert res.exit_code == 2 and f"$KUBEFORT_GRYPE ({tmp_path / 'nope'}) is not an executable" in res.output
    res = CliRunner().invoke(cli, ["images", str(tmp_path / "app.yaml"), "--scanner-arg=-q"])
    assert res.exit_code == 2 and "--scanner-arg and --scan-dir need --scan-with" in res.output


def test_the_command_lines() -> None:
    out = Path("/r/x.json")
    assert command("trivy", "/bin/trivy", "r.io/a@sha256:1", out, ["--offline-scan"]) == [
        "/bin/trivy", "image", "--format", "json", "--output", "/r/x.json", "--quiet", "--offline-scan", "r.io/a@sha256:1",
    ]  # fmt: skip
    assert command("grype", "/bin/grype", "r.io/a:1", out, ["--config", "g.yaml"]) == [
        "/bin/grype", "r.io/a:1", "--output", "json", "--file", "/r/x.json", "--config", "g.yaml",
    ]  # fmt: skip
    assert report_name("r.io/a:1") != report_name("r.io/a_1")  # the hash keeps similar names apart
