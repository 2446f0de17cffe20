"""kubefort.images.vulns and scandata: the four scanner formats, bad input, matching, config."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import pytest
import referencing
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from kubefort.config import ConfigError, load_config
from kubefort.images.scandata import ImageScanOptions, ScanIndex, load_files
from kubefort.images.vulns import ScanError, ScanRef, read_document, read_scan_file
from kubefort.registry import REGISTRY

IMAGES = FIXTURES / "images"
SCANS = IMAGES / "scans"
SCHEMAS = IMAGES / "schemas"
A = "sha256:" + "a1" * 32
B = "sha256:" + "b2" * 32
C = "sha256:" + "c3" * 32
UTC = dt.UTC


def _validator(name: str) -> jsonschema.protocols.Validator:
    resources = []
    for f in SCHEMAS.glob("*.json"):
        schema = json.loads(f.read_text())
        resource = referencing.Resource.from_contents(schema)  # the draft its $schema names
        resources += [(schema.get("$id", f.name), resource), (f.name, resource)]  # bom-1.6 refs "spdx.schema.json"
    registry = referencing.Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry)


@pytest.mark.parametrize(
    ("fixture", "schema"),
    [
        ("cyclonedx-cache.json", "bom-1.6.schema.json"),
        ("cyclonedx-1.4-busybox.json", "bom-1.4.schema.json"),
        ("grype-worker.json", "grype-document-1.0.0.schema.json"),
    ],
)
def test_fixtures_follow_the_published_schemas(fixture, schema):
    doc = json.loads((SCANS / fixture).read_text())
    errors = sorted(_validator(schema).iter_errors(doc), key=str)
    assert not errors, [e.message for e in errors[:3]]


def test_trivy():
    (s,) = read_scan_file(SCANS / "trivy-app.json")
    assert s.format == "trivy"
    assert s.refs == (
        ScanRef("registry.example.com/shop/app", "1.4.2", None),
        ScanRef("registry.example.com/shop/app", "1.4.2", A),
    )
    assert s.scanned_at == dt.datetime(2024, 5, 2, 10, 11, 12, 123456, tzinfo=UTC)
    assert [(v.id, v.severity, v.fixed, v.fix_available) for v in s.vulnerabilities] == [
        ("CVE-2024-2961", "high", ("2.36-9+deb12u7",), True),
        ("CVE-2023-4911", "critical", (), False),
        ("CVE-2024-0001", "low", ("1:1.2.13.1", "1:1.3"), True),
        ("CVE-2023-44487", "high", ("0.17.0",), True),
    ]
    assert s.vulnerabilities[3].published == dt.datetime(2023, 10, 10, 14, 15, 10, 883000, tzinfo=UTC)
    assert s.counts() == {"critical": 1, "high": 2, "medium": 0, "low": 1, "unknown": 0}


def test_grype():
    (s,) = read_scan_file(SCANS / "grype-worker.json")
    assert s.format == "grype"
    assert s.refs == (
        ScanRef("ghcr.io/acme/worker", "2.0", None),
        ScanRef("ghcr.io/acme/worker", "2.0", B),
        ScanRef("ghcr.io/acme/worker", None, C),
    )
    assert s.scanned_at == dt.datetime(2025, 1, 10, 8, 8, 7, 654321, tzinfo=UTC)  # +01:00 to UTC
    crit, negligible = s.vulnerabilities
    assert (crit.id, crit.severity, crit.fixed, crit.fix_available, crit.package) == (
        "CVE-2024-45337",
        "critical",
        ("0.31.0",),
        True,
        "golang.org/x/crypto",
    )
    assert crit.fix_date == dt.datetime(2024, 12, 11, tzinfo=UTC) and crit.dated == crit.fix_date
    assert (negligible.severity, negligible.fix_available) == ("low", False)


def test_cyclonedx_with_vex():
    (s,) = read_scan_file(SCANS / "cyclonedx-cache.json")
    assert s.format == "cyclonedx"
    assert s.refs == (ScanRef("quay.io/acme/cache", None, A), ScanRef("quay.io/acme/cache", "7.2", None))
    by_id = {v.id: v for v in s.vulnerabilities}
    assert by_id["CVE-2023-5678"].severity == "high"  # the highest rating
    assert by_id["CVE-2023-5678"].fixed == ("3.0.13-1~deb12u1",) and by_id["CVE-2023-5678"].package == "openssl"
    assert by_id["CVE-2023-38545"].vex == "not_affected" and by_id["CVE-2023-38545"].suppressed
    assert by_id["CVE-2023-38546"].vex == "exploitable" and not by_id["CVE-2023-38546"].suppressed
    assert s.counts() == {"critical": 0, "high": 1, "medium": 0, "low": 1, "unknown": 0}  # VEX-suppressed not counted
    (old,) = read_scan_file(SCANS / "cyclonedx-1.4-busybox.json")
    assert old.refs == (ScanRef("docker.io/library/busybox", "1.36", None),)


def test_vulnerability_report_list():
    (s,) = read_scan_file(SCANS / "vulnerabilityreports.json")
    assert s.format == "trivy-operator"
    assert s.refs == (ScanRef("docker.io/library/nginx", "1.25.3", B),)
    assert s.source.endswith("(VulnerabilityReport/shop/replicaset-web-6d4cf56db6-web)")
    assert [(v.id, v.severity, v.fixed) for v in s.vulnerabilities] == [
        ("CVE-2023-52425", "high", ("2.5.0-1+deb12u1",))
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>rate limited</html>", "not JSON"),
        (b"[1, 2]", "a scan report is a JSON object, this is a JSON list"),
        (b'{"kind": "Deployment"}', "not a scan report kubefort reads (Trivy JSON, Grype JSON, CycloneDX"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.2"}', "CycloneDX specVersion '1.2' is not supported"),
        (
            b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {"component": {"type": "library"}}}',
            "describes no container image",
        ),
        (
            b'{"matches": [], "descriptor": {}, "source": {"type": "directory", "target": "/src"}}',
            "not of a container image",
        ),
        (b'{"SchemaVersion": 2, "ArtifactName": "./rootfs.tar", "Results": []}', "names no image reference"),
        (b'{"SchemaVersion": 2, "ArtifactName": "nginx", "Results": "oops"}', None),
    ],
)
def test_wrong_files_are_clear_errors(tmp_path, content, message):
    f = tmp_path / "x.json"
    f.write_bytes(content)
    if message is None:  # wrong types inside a recognised document are read as absent
        assert read_scan_file(f)[0].vulnerabilities == ()
        return
    with pytest.raises(ScanError) as exc:
        read_scan_file(f)
    assert message in str(exc.value) and str(f) in str(exc.value)


def test_oversized_and_missing_files(tmp_path):
    f = tmp_path / "big.json"
    f.write_bytes(b"{" + b" " * 2000 + b"}")
    with pytest.raises(ScanError, match="larger than 1,000 bytes"):
        read_scan_file(f, max_bytes=1000)
    with pytest.raises(ScanError, match="cannot read"):
        read_scan_file(tmp_path / "absent.json")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["trivy-app.json", "grype-worker.json", "cyclonedx-cache.json", "vulnerabilityreports.json"]),
    st.data(),
)
def test_mutated_reports_never_crash(name, data):
    doc = json.loads((SCANS / name).read_text())
    # replace one value somewhere in the document with arbitrary JSON
    node = doc
    for _ in range(data.draw(st.integers(0, 4))):
        children = (
            list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        )
        containers = [(k, v) for k, v in children if isinstance(v, (dict, list)) and v]
        if not containers:
            break
        _k, node = data.draw(st.sampled_from(containers))
    if isinstance(node, dict) and node:
        node[data.draw(st.sampled_from(sorted(node)))] = data.draw(_json)
    elif isinstance(node, list) and node:
        node[data.draw(st.integers(0, len(node) - 1))] = data.draw(_json)
    try:
        scans = read_document(doc, name)
    except ScanError:
        return
    for s in scans:
        assert s.refs and all(v.severity in ("critical", "high", "medium", "low", "unknown") for v in s.vulnerabilities)


# ------------------------------------------------------------------------------ matching
def _scans():
    scans, errors = load_files([str(SCANS)])
    assert errors == []
    return ScanIndex(scans)


def test_matching_by_digest_then_tag():
    idx = _scans()
    assert idx.find("registry.example.com/shop/app", "1.4.2").format == "trivy"  # by tag
    assert idx.find("registry.example.com/shop/app", "1.4.2", [A]).format == "trivy"  # by digest
    assert idx.find("registry.example.com/shop/app", "1.4.2", ["sha256:" + "00" * 32]) is None  # other content
    assert idx.find("ghcr.io/acme/worker", None, [C]).format == "grype"  # the platform manifest digest
    assert idx.find("docker.io/library/busybox", "1.36").format == "cyclonedx"
    assert idx.find("docker.io/library/busybox", "1.36", [A]).format == "cyclonedx"  # a tag-only scan
    assert idx.find("docker.io/library/redis", "7") is None


def test_load_files_reports_bad_files_and_empty_directories(tmp_path):
    (tmp_path / "bad.json").write_text("nope")
    scans, errors = load_files([str(tmp_path)])
    assert scans == [] and len(errors) == 1 and "bad.json: not JSON" in errors[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_files([str(empty)]) == ([], [f"no scan file (*.json) found in {empty}"])
    assert load_files([str(tmp_path / "absent")])[1] == [f"scan file {tmp_path / 'absent'} does not exist"]


def test_config_image_scans_sets_every_scan_check(tmp_path):
    cfg_path = tmp_path / ".kubefort.yaml"
    cfg_path.write_text(
        "image_scans:\n  files: [scans/, /abs/x.json]\n  vulnerability_reports: true\n"
        "options:\n  KF-IMG-007: {max_fix_age_days: 3}\n"
    )
    cfg = load_config(cfg_path, REGISTRY)
    scan_checks = sorted(cid for cid, o in cfg.options.items() if isinstance(o, ImageScanOptions))
    assert scan_checks == ["KF-IMG-007", "KF-IMG-008", "KF-IMG-009"]
    o7 = cfg.options["KF-IMG-007"]
    assert o7.scans == (str(tmp_path / "scans/"), "/abs/x.json") and o7.vulnerability_reports
    assert o7.max_fix_age_days == 3 and not o7.off
    assert ImageScanOptions().off


@pytest.mark.parametrize(
    "text",
    [
        "image_scans: [a.json]\n",
        "image_scans: {files: a.json}\n",
        "image_scans: {reports: true}\n",
        "image_scans: {vulnerability_reports: 1}\n",
    ],
)
def test_config_image_scans_errors(tmp_path, text):
    p = tmp_path / ".kubefort.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match="image_scans"):
        load_config(p, REGISTRY)


def test_schema_files_have_their_licence_noted():
    readme = (IMAGES / "README.md").read_text()
    for f in SCHEMAS.glob("*.json"):
        assert f.name in readme
    assert "Apache-2.0" in readme
