"""The prometheus report format over a real scan of examples/insecure-app.

Every expected value is computed here from the outcomes themselves, then compared with what
prometheus_client's own parser reads back from the rendered text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import prometheus_client
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT
from kubefort import __version__, engine
from kubefort.drivers import manifests as manifest_driver
from kubefort.loaders.manifests import LoadOptions, discover
from kubefort.model import ScanResult, Status
from kubefort.registry import REGISTRY
from kubefort.reporters import FORMATS, render
from kubefort.reporters import prometheus as prom

INSECURE = ROOT / "examples" / "insecure-app"
SEVERITIES = ("info", "low", "medium", "high", "critical")
STATUSES = ("passed", "failed", "suppressed", "not-evaluated")


def _scan(path: Path, baseline: set[str] | None = None) -> ScanResult:
    settings = engine.EngineSettings(check_ids=tuple(sorted(m.id for m in REGISTRY)), load=LoadOptions())
    return manifest_driver.scan(discover([str(path)]), settings, baseline=baseline, jobs=1)


def _parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        assert fam.type == "gauge", fam.name
        out[fam.name] = [(dict(s.labels), s.value) for s in fam.samples]
    return out


def _scalar(metrics: dict, name: str) -> float:
    ((labels, value),) = metrics[name]
    assert labels == {}
    return value


def _by(metrics: dict, name: str, label: str) -> dict[str, float]:
    return {labels[label]: value for labels, value in metrics[name]}


@pytest.fixture(scope="module")
def insecure() -> ScanResult:
    return _scan(INSECURE)


def test_registered_as_a_format() -> None:
    assert "prometheus" in FORMATS


def test_findings_are_failed_outcomes_by_check_severity_namespace_kind(insecure: ScanResult) -> None:
    expected: Counter[tuple[str, str, str, str]] = Counter()
    for o in insecure.outcomes:
        if o.status != Status.FAILED:
            continue
        rid = o.resource
        assert rid is not None  # every finding of this example is about an object
        namespace = rid.name if rid.kind == "Namespace" else (rid.namespace or "")
        expected[(o.check_id, o.severity.name.lower(), namespace, rid.kind)] += 1
    assert sum(expected.values()) > 50  # the example is meant to fail a lot

    m = _parse(render("prometheus", insecure, REGISTRY))
    got = {(lb["check_id"], lb["severity"], lb["namespace"], lb["kind"]): v for lb, v in m["kubefort_findings"]}
    assert got == {k: float(v) for k, v in expected.items()}
    # spot checks against the example itself: one privileged Deployment, three Namespace-level gaps
    assert got[("KF-POD-001", "critical", "shop", "Deployment")] == 1.0
    assert got[("KF-PSA-001", "medium", "shop", "Namespace")] == 1.0
    assert got[("KF-SEC-001", "high", "shop", "Secret")] == 1.0


def test_summary_gauges(insecure: ScanResult) -> None:
    status = Counter(o.status.value for o in insecure.outcomes)
    failed_sev = Counter(o.severity.name.lower() for o in insecure.outcomes if o.status == Status.FAILED)
    m = _parse(prom.render(insecure, REGISTRY, timestamp=1_700_000_000.5))

    assert _by(m, "kubefort_outcomes", "status") == {s: float(status.get(s, 0)) for s in STATUSES}
    assert _by(m, "kubefort_findings_by_severity", "severity") == {s: float(failed_sev.get(s, 0)) for s in SEVERITIES}
    assert _scalar(m, "kubefort_checks_run") == len(REGISTRY) == len(insecure.checks_run)
    docs = [
        d for f in sorted(INSECURE.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict)
    ]
    assert _scalar(m, "kubefort_objects_scanned") == len(docs) == len(insecure.resources)
    assert _scalar(m, "kubefort_scan_duration_seconds") == pytest.approx(insecure.duration_s)
    assert _scalar(m, "kubefort_scan_timestamp_seconds") == 1_700_000_000.5
    assert _scalar(m, "kubefort_incomplete") == 0.0
    assert m["kubefort_info"] == [({"version": __version__}, 1.0)]
    assert sum(v for _, v in m["kubefort_findings"]) == status["failed"]


def test_timestamp_defaults_to_now_for_a_result_without_one(insecure: ScanResult) -> None:
    import dataclasses
    import time

    r = dataclasses.replace(insecure, finished_at=0.0)
    before = time.time()
    m = _parse(prom.render(r, REGISTRY))
    assert before <= _scalar(m, "kubefort_scan_timestamp_seconds") <= time.time()


def test_timestamp_comes_from_the_result(insecure: ScanResult) -> None:
    import dataclasses

    assert insecure.finished_at > 0  # the engine sets it
    r = dataclasses.replace(insecure, finished_at=1_650_000_000.25)
    a, b = render("prometheus", r, REGISTRY), render("prometheus", r, REGISTRY)
    assert a == b and _scalar(_parse(a), "kubefort_scan_timestamp_seconds") == 1_650_000_000.25


def test_suppressed_outcomes_are_not_findings(insecure: ScanResult) -> None:
    failed = [o for o in insecure.outcomes if o.status == Status.FAILED]
    chosen = {o.fingerprint for o in failed if o.check_id.startswith("KF-RES-")}
    assert chosen
    result = _scan(INSECURE, baseline=chosen)
    m = _parse(render("prometheus", result, REGISTRY))
    suppressed = sum(1 for o in result.outcomes if o.status == Status.SUPPRESSED)
    assert suppressed == sum(1 for o in failed if o.fingerprint in chosen)
    assert _by(m, "kubefort_outcomes", "status")["suppressed"] == suppressed
    assert not any(lb["check_id"].startswith("KF-RES-") for lb, _ in m["kubefort_findings"])
    assert sum(v for _, v in m["kubefort_findings"]) == len(failed) - suppressed


def test_incomplete_when_something_is_not_evaluated(tmp_path: Path) -> None:
    shutil.copytree(INSECURE, tmp_path / "app")
    (tmp_path / "app" / "broken.yaml").write_text("kind: Pod\nmetadata: {name: [unclosed\n")
    result = _scan(tmp_path / "app")
    m = _parse(render("prometheus", result, REGISTRY))
    not_evaluated = sum(1 for o in result.outcomes if o.status == Status.NOT_EVALUATED)
    assert not_evaluated >= 1
    assert _scalar(m, "kubefort_incomplete") == 1.0
    assert _by(m, "kubefort_outcomes", "status")["not-evaluated"] == not_evaluated


def test_empty_scan_still_exports_every_series_with_zeros(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    m = _parse(render("prometheus", _scan(tmp_path / "empty.yaml"), REGISTRY))
    assert m["kubefort_findings"] == []
    assert _by(m, "kubefort_findings_by_severity", "severity") == dict.fromkeys(SEVERITIES, 0.0)
    assert _by(m, "kubefort_outcomes", "status") == dict.fromkeys(STATUSES, 0.0)
    assert _scalar(m, "kubefort_objects_scanned") == 0.0


def test_labels_stay_bounded(insecure: ScanResult) -> None:
    """No object or container names, paths, messages or fingerprints as label values."""
    text = render("prometheus", insecure, REGISTRY)
    m = _parse(text)
    assert {k for lb, _ in m["kubefort_findings"] for k in lb} == {"check_id", "severity", "namespace", "kind"}
    namespaces = {rid.name for rid, _ in insecure.resources if rid.kind == "Namespace"} | {
        rid.namespace for rid, _ in insecure.resources if rid.namespace
    }
    names = {rid.name for rid, _ in insecure.resources if rid.kind != "Namespace"} - namespaces
    containers = {o.container for o in insecure.outcomes if o.container}
    values = {v for fam in m.values() for lb, _ in fam for v in lb.values()}
    assert names and not values & names
    assert not values & containers
    assert not any("/" in v or ".yaml" in v for v in values - {__version__})


def test_fresh_registry_each_time(insecure: ScanResult) -> None:
    before = {m.name for m in prometheus_client.REGISTRY.collect()}
    a = prom.render(insecure, REGISTRY, timestamp=1.0)
    b = prom.render(insecure, REGISTRY, timestamp=1.0)  # no "Duplicated timeseries" on a second render
    assert a == b and a.endswith("\n") and not a.endswith("\n\n")
    after = {m.name for m in prometheus_client.REGISTRY.collect()}
    assert before == after and not any(n.startswith("kubefort") for n in after)


def test_cli_writes_a_textfile(tmp_path: Path) -> None:
    out = tmp_path / "kubefort.prom"
    p = subprocess.run(
        [sys.executable, "-m", "kubefort", "scan", str(INSECURE), "-q", "-o", f"prometheus={out}", "-o", "json"],
        capture_output=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert p.returncode == 1  # findings at or above high
    m = _parse(out.read_text())
    assert _scalar(m, "kubefort_incomplete") == 0.0
    assert _by(m, "kubefort_outcomes", "status")["failed"] > 0
    assert b'"schema_version"' in p.stdout  # the JSON report still goes to stdout
