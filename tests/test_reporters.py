"""Reporters: every format over one synthetic scan that holds every kind of outcome.

The scan uses a local Registry, so these tests depend on nothing but the model and the reporters.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from kubefort.model import (
    InputRecord,
    Location,
    Outcome,
    ResourceId,
    ScanResult,
    Severity,
    Source,
    Status,
    Suppression,
    fingerprint,
)
from kubefort.registry import CheckMeta, Mappings, Registry
from kubefort.reporters import FORMATS, render

SRC_ROOT = Path(__file__).resolve().parents[1] / "src" / "kubefort"
REPORT_SCHEMA = SRC_ROOT / "schemas" / "report.schema.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

DOC = """## What it does
Flags {what}.

## Why is this bad?
It is bad.

## Example
```yaml
kind: Pod
```

## How to fix
{fix}

## References
- Kubernetes documentation
"""


def _meta(id: str, name: str, title: str, sev: Severity, target: str, fix: str, **maps: tuple[str, ...]) -> CheckMeta:
    return CheckMeta(
        id=id,
        name=name,
        title=title,
        severity=sev,
        area=id.split("-")[1],
        target=target,
        kinds=None,
        mappings=Mappings(**maps),
        raw_doc=DOC.format(what=title.lower(), fix=fix),
        remediation=fix,
    )


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.add(
        _meta(
            "KF-POD-001",
            "privileged-container",
            "Privileged container",
            Severity.CRITICAL,
            "container",
            "Set securityContext.privileged to false.",
            cis=("5.2.2",),
            pss=("baseline/privileged",),
            trivy=("KSV-0017",),
        )
    )
    reg.add(
        _meta(
            "KF-IMG-001",
            "image-tag-mutable",
            "Image uses a mutable tag",
            Severity.MEDIUM,
            "container",
            "Pin the image by digest.",
            checkov=("CKV_K8S_43",),
        )
    )
    reg.add(
        _meta(
            "KF-INPUT-001",
            "input-unparseable",
            "Input could not be parsed",
            Severity.HIGH,
            "input",
            "Fix the YAML syntax.",
        )
    )
    return reg


WEB = ResourceId("apps/v1", "Deployment", "prod", "web")
DEBUG = ResourceId("v1", "Pod", None, "debug")  # from stdin
CRON = ResourceId("batch/v1", "CronJob", "batch", "nightly")

WEB_SRC = Source("deploy/web.yaml", 0, 1)
DEBUG_SRC = Source("-", 0, None)  # stdin, line unknown
CRON_SRC = Source("deploy/cron.yaml", 0, 3)
BROKEN_SRC = Source("deploy/broken.yaml", 0, 1)


def _o(check: str, status: Status, rid: ResourceId | None, src: Source, sev: Severity, **kw: object) -> Outcome:
    o = Outcome(check_id=check, status=status, resource=rid, source=src, severity=sev, **kw)  # type: ignore[arg-type]
    o.fingerprint = fingerprint(check, rid, o.container, o.path, src.file)
    return o


def _outcomes() -> list[Outcome]:
    priv_path = ("spec", "template", "spec", "containers", 0, "securityContext", "privileged")
    return [
        _o(
            "KF-POD-001",
            Status.FAILED,
            WEB,
            WEB_SRC,
            Severity.CRITICAL,
            container="app",
            message="container 'app' is privileged",
            path=priv_path,
            location=Location("deploy/web.yaml", 21, 13),
        ),
        _o(
            "KF-IMG-001",
            Status.FAILED,
            WEB,
            WEB_SRC,
            Severity.MEDIUM,
            container="app",
            message="image 'nginx:latest' uses the mutable tag 'latest'",
            path=("spec", "template", "spec", "containers", 0, "image"),
            location=Location("deploy/web.yaml", 18, 16),
        ),
        _o(
            "KF-IMG-001",
            Status.FAILED,
            DEBUG,
            DEBUG_SRC,
            Severity.MEDIUM,
            container="shell",
            message="image 'busybox' has no tag",
            path=("spec", "containers", 0, "image"),
        ),
        _o(
            "KF-POD-001",
            Status.SUPPRESSED,
            DEBUG,
            DEBUG_SRC,
            Severity.CRITICAL,
            container="shell",
            message="container 'shell' is privileged",
            path=("spec", "containers", 0, "securityContext", "privileged"),
            suppression=Suppression(
                "annotation", "debug pod, deleted after use", where="kubefort.dev/ignore.KF-POD-001"
            ),
        ),
        _o(
            "KF-IMG-001",
            Status.SUPPRESSED,
            CRON,
            CRON_SRC,
            Severity.MEDIUM,
            container="sidecar",
            message="image 'proxy:1' uses the mutable tag '1'",
            location=Location("deploy/cron.yaml", 30, 20),
            suppression=Suppression(
                "config", "vendor image, tracked in OPS-12", expires="2031-01-01", where=".kubefort.yaml:12"
            ),
        ),
        _o(
            "KF-POD-001",
            Status.NOT_EVALUATED,
            CRON,
            CRON_SRC,
            Severity.CRITICAL,
            message="spec.jobTemplate.spec.template.spec.containers is a str, not a list",
            path=("spec", "jobTemplate", "spec", "template", "spec", "containers"),
            location=Location("deploy/cron.yaml", 9, 7),
        ),
        _o(
            "KF-IMG-001",
            Status.PASSED,
            CRON,
            CRON_SRC,
            Severity.MEDIUM,
            container="main",
            location=Location("deploy/cron.yaml", 12, 9),
        ),
        _o(
            "KF-INPUT-001",
            Status.FAILED,
            None,
            BROKEN_SRC,
            Severity.HIGH,
            message="could not parse YAML: mapping values are not allowed here",
            location=Location("deploy/broken.yaml", 4, 3),
        ),
    ]


def _result(outcomes: list[Outcome] | None = None) -> ScanResult:
    return ScanResult(
        tool_version="0.1.0",
        outcomes=_outcomes() if outcomes is None else outcomes,
        inputs=[
            InputRecord("deploy/web.yaml", "file", documents=1, objects=1),
            InputRecord(
                "deploy/cron.yaml",
                "file",
                documents=2,
                objects=1,
                skipped=["document 2: not a Kubernetes object (no kind)"],
            ),
            InputRecord("-", "stdin", documents=1, objects=1),
            InputRecord(
                "deploy/broken.yaml", "file", error="could not parse YAML: mapping values are not allowed here"
            ),
        ],
        resources=[(WEB, WEB_SRC), (CRON, CRON_SRC), (DEBUG, DEBUG_SRC)],
        checks_run=["KF-POD-001", "KF-IMG-001", "KF-INPUT-001"],
        warnings=["helm not found: skipped charts/app"],
        unused_exceptions=["KF-POD-001 for Deployment/prod/old (.kubefort.yaml:7)"],
        expired_exceptions=["KF-IMG-001 for Deployment/prod/api (.kubefort.yaml:19, expired 2024-01-01)"],
        duration_s=0.1234,
        finished_at=1_700_000_000.5,
        extras={"pss": {"Deployment/prod/web": "privileged"}},
    )


def _clean_result() -> ScanResult:
    """A scan with nothing wrong: only passed outcomes."""
    return ScanResult(
        tool_version="0.1.0",
        outcomes=[
            _o("KF-POD-001", Status.PASSED, WEB, WEB_SRC, Severity.CRITICAL, container="app"),
            _o("KF-IMG-001", Status.PASSED, WEB, WEB_SRC, Severity.MEDIUM, container="app"),
        ],
        inputs=[InputRecord("deploy/web.yaml", "file", documents=1, objects=1)],
        resources=[(WEB, WEB_SRC)],
        checks_run=["KF-POD-001", "KF-IMG-001"],
    )


# ---------------------------------------------------------------- dispatch


def test_formats_and_dispatch(registry: Registry) -> None:
    assert {"table", "json", "sarif", "junit", "prometheus"} == FORMATS
    for fmt in FORMATS:
        out = render(fmt, _result(), registry)
        assert isinstance(out, str) and out.endswith("\n") and not out.endswith("\n\n")
    with pytest.raises(ValueError, match="unknown output format"):
        render("html", _result(), registry)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_output_is_deterministic(registry: Registry, fmt: str) -> None:
    shuffled = _outcomes()
    random.Random(7).shuffle(shuffled)
    assert render(fmt, _result(shuffled), registry) == render(fmt, _result(), registry)


def test_unknown_check_id_does_not_crash(registry: Registry) -> None:
    o = _o("KF-XYZ-999", Status.FAILED, WEB, WEB_SRC, Severity.LOW, message="from a plugin")
    for fmt in FORMATS:
        assert "KF-XYZ-999" in render(fmt, _result([o]), registry)


# ---------------------------------------------------------------- json


def _json(registry: Registry, result: ScanResult | None = None, **kw: bool) -> dict:
    doc = json.loads(render("json", result or _result(), registry, **kw))
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
    return doc


def test_json_schema_id() -> None:
    schema = json.loads(REPORT_SCHEMA.read_text())
    assert schema["$id"] == "https://kubefort.dev/schemas/report/v1.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_json_summary_and_top_level(registry: Registry) -> None:
    doc = _json(registry)
    assert list(doc) == [
        "schema_version",
        "tool",
        "inputs",
        "summary",
        "checks",
        "objects",
        "results",
        "exceptions",
        "warnings",
        "extras",
    ]
    assert doc["schema_version"] == "1.1"  # 1.1: results[].event and extras.audit (kubefort audit)
    assert doc["tool"] == {"name": "kubefort", "version": "0.1.0"}
    s = doc["summary"]
    assert s["outcomes"] == {"passed": 1, "failed": 4, "suppressed": 2, "not-evaluated": 1}
    assert s["failed_by_severity"] == {"critical": 1, "high": 1, "medium": 2, "low": 0, "info": 0}
    assert (s["checks"], s["objects"], s["complete"], s["duration_s"]) == (3, 3, False, 0.123)
    assert [c["id"] for c in doc["checks"]] == ["KF-IMG-001", "KF-INPUT-001", "KF-POD-001"]
    pod = doc["checks"][2]
    assert pod == {
        "id": "KF-POD-001",
        "name": "privileged-container",
        "title": "Privileged container",
        "severity": "critical",
        "area": "POD",
        "mappings": {"cis": ["5.2.2"], "pss": ["baseline/privileged"], "trivy": ["KSV-0017"]},
    }
    assert doc["objects"] == [
        {"apiVersion": "v1", "kind": "Pod", "namespace": None, "name": "debug", "file": "-", "line": None},
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "namespace": "batch",
            "name": "nightly",
            "file": "deploy/cron.yaml",
            "line": 3,
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": "prod",
            "name": "web",
            "file": "deploy/web.yaml",
            "line": 1,
        },
    ]
    assert doc["inputs"][1] == {
        "path": "deploy/cron.yaml",
        "kind": "file",
        "documents": 2,
        "objects": 1,
        "skipped": ["document 2: not a Kubernetes object (no kind)"],
        "error": None,
    }
    assert doc["inputs"][3]["error"].startswith("could not parse YAML")
    assert doc["exceptions"]["unused"] == ["KF-POD-001 for Deployment/prod/old (.kubefort.yaml:7)"]
    assert len(doc["exceptions"]["expired"]) == 1
    assert doc["warnings"] == ["helm not found: skipped charts/app"]
    assert doc["extras"] == {"pss": {"Deployment/prod/web": "privileged"}}


def test_json_results(registry: Registry) -> None:
    doc = _json(registry)
    results = doc["results"]
    assert len(results) == 7  # passed left out
    assert [(r["file"], r["line"], r["check_id"]) for r in results] == [
        ("-", None, "KF-IMG-001"),
        ("-", None, "KF-POD-001"),
        ("deploy/broken.yaml", 4, "KF-INPUT-001"),
        ("deploy/cron.yaml", 9, "KF-POD-001"),
        ("deploy/cron.yaml", 30, "KF-IMG-001"),
        ("deploy/web.yaml", 18, "KF-IMG-001"),
        ("deploy/web.yaml", 21, "KF-POD-001"),
    ]
    priv = results[-1]
    assert priv == {
        "check_id": "KF-POD-001",
        "check_name": "privileged-container",
        "severity": "critical",
        "outcome": "failed",
        "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "prod", "name": "web"},
        "container": "app",
        "file": "deploy/web.yaml",
        "line": 21,
        "column": 13,
        "path": "spec.template.spec.containers[0].securityContext.privileged",
        "message": "container 'app' is privileged",
        "remediation": "Set securityContext.privileged to false.",
        "fingerprint": fingerprint("KF-POD-001", WEB, "app", _outcomes()[0].path, "deploy/web.yaml"),
        "suppression": None,
    }
    stdin = results[0]
    assert (stdin["file"], stdin["line"], stdin["column"], stdin["outcome"]) == ("-", None, None, "failed")
    assert results[1]["suppression"] == {
        "kind": "annotation",
        "reason": "debug pod, deleted after use",
        "expires": None,
        "where": "kubefort.dev/ignore.KF-POD-001",
    }
    assert results[4]["suppression"]["expires"] == "2031-01-01"
    assert results[3]["outcome"] == "not-evaluated"
    broken = results[2]
    assert broken["resource"] is None and broken["container"] is None and broken["path"] is None
    assert len({r["fingerprint"] for r in results}) == len(results)


def test_json_include_passed(registry: Registry) -> None:
    doc = _json(registry, include_passed=True)
    passed = [r for r in doc["results"] if r["outcome"] == "passed"]
    assert len(doc["results"]) == 8 and len(passed) == 1
    assert passed[0]["container"] == "main" and passed[0]["suppression"] is None


def test_json_clean_scan_is_complete(registry: Registry) -> None:
    doc = _json(registry, _clean_result())
    assert doc["summary"]["complete"] is True
    assert doc["summary"]["outcomes"] == {"passed": 2, "failed": 0, "suppressed": 0, "not-evaluated": 0}
    assert doc["results"] == []


def test_json_schema_rejects_bad_documents(registry: Registry) -> None:
    doc = _json(registry)
    validator = jsonschema.Draft202012Validator(json.loads(REPORT_SCHEMA.read_text()))
    doc["results"][1]["suppression"] = None  # a suppressed result must say why
    assert not validator.is_valid(doc)
    doc = _json(registry)
    doc["objects"][0]["future_member"] = {"anything": 1}  # objects may grow members
    assert validator.is_valid(doc)
    doc["objects"][0]["pss"] = {
        "level": "baseline",
        "version": "v1.30",
        "allowed": False,
        "violations": [{"control": "privileged", "field": "spec.containers[0]", "value": "true"}],
    }
    assert validator.is_valid(doc)
    doc["objects"][0]["pss"] = {"level": "baseline"}  # the --pss contract is strict
    assert not validator.is_valid(doc)
    doc = _json(registry)
    doc["results"][0]["severity"] = "urgent"
    assert not validator.is_valid(doc)


# ---------------------------------------------------------------- sarif


def _shared_dir() -> Path:
    env = os.environ.get("KUBEFORT_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def _sarif(registry: Registry, result: ScanResult | None = None) -> dict:
    return json.loads(render("sarif", result or _result(), registry))


def test_sarif_validates_against_official_schema(registry: Registry) -> None:
    schema_file = _shared_dir() / "schemas" / "sarif-schema-2.1.0.json"
    if not schema_file.is_file():
        pytest.skip(f"SARIF schema not found at {schema_file} (set KUBEFORT_SHARED)")
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.Draft7Validator(schema)
    for result in (_result(), _clean_result(), _result([])):
        errors = sorted(validator.iter_errors(_sarif(registry, result)), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_sarif_github_constraints(registry: Registry) -> None:
    log = _sarif(registry)
    assert log["version"] == "2.1.0" and log["$schema"]
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("kubefort", "0.1.0")
    assert driver["informationUri"] == "https://github.com/kubefort/kubefort"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["KF-IMG-001", "KF-INPUT-001", "KF-POD-001"]
    for rule in rules:
        sev = rule["properties"]["security-severity"]
        assert isinstance(sev, str) and 0.0 <= float(sev) <= 10.0
        assert rule["properties"]["precision"] == "high"
        assert "security" in rule["properties"]["tags"]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", rule["name"])
    pod = rules[2]
    assert pod["name"] == "PrivilegedContainer"
    assert pod["properties"]["kubefort-name"] == "privileged-container"
    assert pod["properties"]["security-severity"] == "9.0"
    assert pod["defaultConfiguration"]["level"] == "error"
    assert {"POD".lower(), "cis:5.2.2", "trivy:KSV-0017"} <= set(pod["properties"]["tags"])
    assert pod["fullDescription"]["text"] == "Flags privileged container."
    assert "## How to fix" in pod["help"]["markdown"] and "##" not in pod["help"]["text"]
    assert rules[0]["defaultConfiguration"]["level"] == "warning"
    assert rules[0]["properties"]["security-severity"] == "5.0"

    results = run["results"]
    assert len(results) == 6  # 4 failed + 2 suppressed; no passed, no not-evaluated
    for res in results:
        assert res["ruleId"] and rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["message"]["text"]
        assert res["locations"] and res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        fp = res["partialFingerprints"]["kubefortFingerprint/v1"]
        assert isinstance(fp, str) and fp
        assert res["level"] in {"error", "warning", "note"}
    assert sum("suppressions" in r for r in results) == 2


def test_sarif_locations(registry: Registry) -> None:
    results = _sarif(registry)["runs"][0]["results"]
    by_key = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]): r for r in results}

    web = by_key[("KF-POD-001", "deploy/web.yaml")]
    phys = web["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"] == {"uri": "deploy/web.yaml", "uriBaseId": "%SRCROOT%"}
    assert phys["region"] == {"startLine": 21, "startColumn": 13}
    assert web["level"] == "error"
    assert web["message"]["text"] == "Deployment/prod/web: container 'app' is privileged"
    assert web["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "Deployment/prod/web"

    stdin = by_key[("KF-IMG-001", "stdin")]
    phys = stdin["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"] == {"uri": "stdin"}
    assert "region" not in phys  # line unknown
    assert stdin["level"] == "warning"

    broken = by_key[("KF-INPUT-001", "deploy/broken.yaml")]
    assert broken["locations"][0]["physicalLocation"]["region"] == {"startLine": 4, "startColumn": 3}
    assert "logicalLocations" not in broken["locations"][0]


def test_sarif_suppressions_and_notifications(registry: Registry) -> None:
    run = _sarif(registry)["runs"][0]
    sup = {r["ruleId"]: r["suppressions"][0] for r in run["results"] if "suppressions" in r}
    assert sup["KF-POD-001"]["kind"] == "inSource"
    assert sup["KF-POD-001"]["justification"] == "debug pod, deleted after use"
    assert sup["KF-IMG-001"]["kind"] == "external"
    assert sup["KF-IMG-001"]["properties"]["expires"] == "2031-01-01"

    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is False
    notes = inv["toolExecutionNotifications"]
    not_eval = [n for n in notes if n.get("associatedRule")]
    assert len(not_eval) == 1
    assert not_eval[0]["level"] == "warning"
    assert not_eval[0]["associatedRule"]["id"] == "KF-POD-001"
    assert "is a str" in not_eval[0]["message"]["text"]
    region = not_eval[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 9, "startColumn": 7}
    assert any(n["level"] == "error" and "deploy/broken.yaml" in n["message"]["text"] for n in notes)
    assert len(inv["toolConfigurationNotifications"]) == 2


def test_sarif_clean_scan(registry: Registry) -> None:
    run = _sarif(registry, _clean_result())["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0] == {"executionSuccessful": True}
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["KF-IMG-001", "KF-POD-001"]


def test_sarif_uris() -> None:
    from kubefort.reporters.sarif import artifact_uri, pascal_case

    assert artifact_uri("-") == ("stdin", None)
    assert artifact_uri("./k8s/app.yaml") == ("k8s/app.yaml", "%SRCROOT%")
    assert artifact_uri("k8s\\my app.yaml") == ("k8s/my%20app.yaml", "%SRCROOT%")
    assert artifact_uri("/srv/k8s/app.yaml") == ("file:///srv/k8s/app.yaml", None)
    assert artifact_uri("C:\\k8s\\app.yaml") == ("file:///C:/k8s/app.yaml", None)
    assert pascal_case("host-pid-namespace") == "HostPidNamespace"


def test_sarif_uses_effective_severity(registry: Registry) -> None:
    # configuration lowered KF-POD-001 to low: the rule follows the outcomes, not the default
    o = _o("KF-POD-001", Status.FAILED, WEB, WEB_SRC, Severity.LOW, container="app", message="privileged")
    run = _sarif(registry, _result([o]))["runs"][0]
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "KF-POD-001")
    assert rule["properties"]["security-severity"] == "3.0"
    assert rule["defaultConfiguration"]["level"] == "note"
    assert run["results"][0]["level"] == "note"


# ---------------------------------------------------------------- junit


def _junit(registry: Registry, result: ScanResult | None = None) -> ET.Element:
    text = render("junit", result or _result(), registry)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode())  # noqa: S314 - our own report, not untrusted input


def test_junit_counts(registry: Registry) -> None:
    root = _junit(registry)
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == [
        "KF-IMG-001 image-tag-mutable",
        "KF-INPUT-001 input-unparseable",
        "KF-POD-001 privileged-container",
    ]
    # KF-IMG-001: web/app failed, debug/shell failed, nightly/sidecar suppressed, nightly/main passed
    # KF-INPUT-001: broken.yaml failed
    # KF-POD-001: web/app failed, debug/shell suppressed, nightly not evaluated
    expected = {
        "KF-IMG-001 image-tag-mutable": (4, 2, 0, 1),
        "KF-INPUT-001 input-unparseable": (1, 1, 0, 0),
        "KF-POD-001 privileged-container": (3, 1, 1, 1),
    }
    for name, (tests, failures, errors, skipped) in expected.items():
        s = suites[name]
        cases = s.findall("testcase")
        assert len(cases) == tests == int(s.get("tests"))
        assert sum(c.find("failure") is not None for c in cases) == failures == int(s.get("failures"))
        assert sum(c.find("error") is not None for c in cases) == errors == int(s.get("errors"))
        assert sum(c.find("skipped") is not None for c in cases) == skipped == int(s.get("skipped"))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("8", "4", "1", "2")
    assert root.get("time") == "0.123"


def test_junit_testcases(registry: Registry) -> None:
    root = _junit(registry)
    pod = root.find("testsuite[@name='KF-POD-001 privileged-container']")
    cases = {c.get("name"): c for c in pod.findall("testcase")}
    web = cases["Deployment/prod/web (container: app)"]
    assert web.get("classname") == "deploy/web.yaml" and web.get("line") == "21"
    failure = web.find("failure")
    assert failure.get("type") == "critical" and failure.get("message") == "container 'app' is privileged"
    assert "fix: Set securityContext.privileged to false." in failure.text
    assert "deploy/web.yaml:21:13" in failure.text
    debug = cases["Pod/debug (container: shell)"]
    assert debug.get("classname") == "stdin"
    assert debug.find("skipped").get("message") == "suppressed: debug pod, deleted after use"
    cron = cases["CronJob/batch/nightly"]
    assert cron.find("error").get("type") == "not-evaluated"
    assert cron.find("error").get("message").startswith("not evaluated: spec.jobTemplate")

    img = root.find("testsuite[@name='KF-IMG-001 image-tag-mutable']")
    passed = [c for c in img.findall("testcase") if len(c) == 0]
    assert [c.get("name") for c in passed] == ["CronJob/batch/nightly (container: main)"]
    broken = root.find("testsuite[@name='KF-INPUT-001 input-unparseable']/testcase")
    assert broken.get("name") == "deploy/broken.yaml" and broken.find("failure").get("type") == "high"


def test_junit_one_testcase_per_check_object_container(registry: Registry) -> None:
    outcomes = [
        _o(
            "KF-IMG-001",
            Status.FAILED,
            WEB,
            WEB_SRC,
            Severity.MEDIUM,
            container="app",
            message="tag latest",
            path=("spec", "containers", 0, "image"),
        ),
        _o(
            "KF-IMG-001",
            Status.SUPPRESSED,
            WEB,
            WEB_SRC,
            Severity.MEDIUM,
            container="app",
            message="other",
            suppression=Suppression("config", "ok"),
        ),
        _o("KF-IMG-001", Status.FAILED, WEB, WEB_SRC, Severity.MEDIUM, container="side", message="tag \x00 bad"),
    ]
    root = _junit(registry, _result(outcomes))
    suite = root.find("testsuite[@name='KF-IMG-001 image-tag-mutable']")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "Deployment/prod/web (container: app)",
        "Deployment/prod/web (container: side)",
    ]
    assert all(c.find("failure") is not None for c in cases)
    assert "suppressed: ok" in cases[0].find("failure").text
    # checks that ran but produced no outcome get no suite: an empty <testsuite> is noise to CI
    assert root.find("testsuite[@name='KF-POD-001 privileged-container']") is None
    assert [s.get("name") for s in root.findall("testsuite")] == ["KF-IMG-001 image-tag-mutable"]


# ---------------------------------------------------------------- table


def test_table_content(registry: Registry) -> None:
    out = render("table", _result(), registry, width=200)
    assert not ANSI.search(out)
    for check_id in ("KF-POD-001", "KF-IMG-001", "KF-INPUT-001"):
        assert check_id in out
    assert "Deployment/prod/web  deploy/web.yaml:1" in out
    assert "deploy/web.yaml:21:13" in out and "deploy/web.yaml:18:16" in out
    assert "Pod/debug  stdin" in out
    assert "fix: Set securityContext.privileged to false." in out
    assert "container=app" in out and "privileged-container" in out
    assert "not-evaluated" in out and "is a str, not a list" in out
    assert "container=main" not in out  # the passed outcome
    # suppressed findings are counted by what suppressed them, and listed only on request
    assert "4 failed, 2 suppressed (exceptions 1, inline ignores 1), 1 not-evaluated, 1 passed" in out
    assert "suppressed by" not in out and "container=sidecar" not in out
    assert "(--show-suppressed lists them)" in out
    shown = render("table", _result(), registry, width=200, show_suppressed=True)
    assert "suppressed by annotation (kubefort.dev/ignore.KF-POD-001): debug pod, deleted after use" in shown
    assert "expires 2031-01-01" in shown and "container=sidecar" in shown
    assert "--show-suppressed" not in shown
    assert "1 critical, 1 high, 2 medium, 0 low, 0 info" in out
    assert "3 checks × 3 objects" in out
    # an input's error is shown once: its KF-INPUT-001 row, at the file's position, not again below
    assert "deploy/broken.yaml:4:3" in out
    assert out.count("could not parse YAML: mapping values are not allowed here") == 1
    assert "KF-POD-001 for Deployment/prod/old" in out and "expired 2024-01-01" in out
    assert "helm not found" in out and "not a Kubernetes object" in out
    assert "4 failed checks" in out and "no failed checks" not in out


def test_table_order(registry: Registry) -> None:
    out = render("table", _result(), registry, width=200)
    headers = [line.split("  ")[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert headers[:4] == ["Pod/debug", "deploy/broken.yaml", "CronJob/batch/nightly", "Deployment/prod/web"]
    web = out[out.index("Deployment/prod/web") :]
    assert web.index("KF-IMG-001") < web.index("KF-POD-001")  # line 18 before line 21


def test_table_include_passed(registry: Registry) -> None:
    out = render("table", _result(), registry, include_passed=True, width=200)
    assert "container=main" in out and "passed" in out


def test_table_color(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # the caller decides; the environment does not override
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert ANSI.search(render("table", _result(), registry, color=True))
    plain = render("table", _result(), registry, color=False)
    assert not ANSI.search(plain)
    assert ANSI.sub("", render("table", _result(), registry, color=True)) == plain


def test_table_width(registry: Registry) -> None:
    out = render("table", _result(), registry, width=80)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "KF-POD-001" in out


def test_table_clean_scan(registry: Registry) -> None:
    out = render("table", _clean_result(), registry)
    assert "no failed checks" in out
    assert "KF-POD-001" not in out  # passed outcomes hidden by default
    assert "0 failed, 0 suppressed, 0 not-evaluated, 2 passed" in out
    assert "incomplete" not in out


def test_table_folds_long_words_and_wide_characters(registry: Registry) -> None:
    long_value = "x" * 150
    o = _o(
        "KF-IMG-001",
        Status.FAILED,
        WEB,
        WEB_SRC,
        Severity.MEDIUM,
        container="app",
        message=f"image 'registry.example/{long_value}' 镜像标签可变 uses a mutable tag",
        location=Location("deploy/web.yaml", 18, 16),
    )
    out = render("table", _result([o]), registry, width=80)
    lines = out.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    assert all(line == line.rstrip() for line in lines)
    joined = "".join(line.strip() for line in lines)
    assert long_value in joined  # folded, never truncated
    assert "镜像标签可变" in joined and "deploy/web.yaml:18:16" in joined


def test_table_neutralises_control_characters(registry: Registry) -> None:
    o = _o(
        "KF-INPUT-001",
        Status.FAILED,
        None,
        BROKEN_SRC,
        Severity.HIGH,
        message='could not parse YAML: mapping values\n  in "broken.yaml", line 4\x1b[31m evil',
        location=Location("deploy/broken.yaml", 4, 3),
    )
    for color in (False, True):
        out = render("table", _result([o]), registry, color=color, width=120)
        assert "\x1b[31m evil" not in out
        line = next(ln for ln in ANSI.sub("", out).splitlines() if "mapping values" in ln)
        assert 'mapping values in "broken.yaml", line 4\ufffd[31m evil' in line


# ---------------------------------------------------------------- passed rows say what was verified


def _passed_row(meta: CheckMeta, registry: Registry) -> str:
    o = _o(meta.id, Status.PASSED, WEB, WEB_SRC, meta.severity, container="app" if meta.target == "container" else None)
    out = render("table", _result([o]), registry, include_passed=True, width=100_000)
    (row,) = [ln for ln in out.splitlines() if ln.startswith("  passed")]
    return row


def test_passed_rows_never_use_the_failure_title() -> None:
    """Every built-in check: a passed row says what the check verified, never its title (which
    names the problem: "Namespace has no Pod Security enforce label")."""
    from kubefort.registry import REGISTRY, load_builtin_checks

    load_builtin_checks()
    for meta in (m for m in REGISTRY if m.source.startswith("kubefort/checks/")):  # not tests' own checks
        # a built-in check says it in its own words (the generic phrase is for checks from elsewhere)
        assert meta.verified, f"{meta.id}: add verified='what a pass means' to its @check"
        row = _passed_row(meta, REGISTRY)
        assert f"  {meta.passed_text()}  deploy/web.yaml" in row, meta.id
        assert f"  {meta.title}  " not in row, f"{meta.id}: a passed row reads like a failure"
        assert meta.passed_text().strip().lower() != meta.title.strip().lower()
        assert not meta.passed_text().lower().startswith("verified:")


def test_passed_row_falls_back_to_a_generic_phrase(registry: Registry) -> None:
    meta = registry.get("KF-IMG-001")  # the local registry's checks say nothing about their passes
    assert meta.verified == "" and meta.passed_text() == "check passed: image-tag-mutable"
    row = _passed_row(meta, registry)
    assert "check passed: image-tag-mutable" in row and meta.title not in row
    assert "check passed: kf-xyz-999" in _passed_row(check_meta_for("KF-XYZ-999"), registry)


def check_meta_for(check_id: str) -> CheckMeta:
    from kubefort.reporters import check_meta

    return check_meta(Registry(), check_id)


def test_verified_phrase_must_differ_from_the_title() -> None:
    reg = Registry()
    meta = _meta("KF-POD-001", "privileged-container", "Container runs privileged", Severity.HIGH, "container", "x")
    with pytest.raises(ValueError, match="cannot repeat the title"):
        reg.add(CheckMeta(**{**{f: getattr(meta, f) for f in meta.__slots__}, "verified": "container runs privileged"}))


# ---------------------------------------------------------------- objects without kind or name


_PLACEHOLDERS = st.sampled_from(["?", "", "(no name)"])
_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)


@given(
    kind=st.one_of(st.sampled_from(["?", ""]), st.sampled_from(["Pod", "Deployment", "ConfigMap"])),
    name=st.one_of(_PLACEHOLDERS, _NAMES),
    ns=st.one_of(st.none(), _NAMES),
    doc=st.integers(0, 50),
    item=st.one_of(st.just(()), st.tuples(st.just("items"), st.integers(0, 9))),
)
def test_object_titles_never_show_placeholders(kind: str, name: str, ns: str | None, doc: int, item: tuple) -> None:
    from kubefort.reporters import object_title

    rid = ResourceId("v1", kind, ns, name)
    src = Source("deploy/x.yaml", doc, doc * 10 + 1, item)
    title = object_title(rid, src)
    known = kind not in ("?", "") and name not in ("?", "", "(no name)")
    if known:
        assert title == str(rid)
    else:
        assert "?" not in title and "None" not in title and not title.startswith("/")
        assert f"document {doc + 1}" in title
        if item:
            assert f"items[{item[1]}] of document {doc + 1}" in title
        if kind not in ("?", ""):
            assert title.startswith(kind)


def test_table_headers_for_malformed_objects(registry: Registry) -> None:
    bad = _o(
        "KF-INPUT-001",
        Status.NOT_EVALUATED,
        ResourceId("?", "?", None, "?"),
        Source("deploy/odd.yaml", 1, 9),
        Severity.MEDIUM,
        message="document 2 (line 9): malformed object: kind is missing",
    )
    out = render("table", _result([bad]), registry, width=200)
    assert "document 2  deploy/odd.yaml:9" in out.splitlines()[0]
    assert "?/?" not in out
    junit = render("junit", _result([bad]), registry)
    assert 'name="document 2"' in junit and "?/?" not in junit


# ---------------------------------------------------------------- plural forms


@given(st.integers(0, 10**6), st.from_regex(r"[a-z]{1,12}", fullmatch=True))
def test_plural(count: int, noun: str) -> None:
    from kubefort.wording import inflect, plural, plural_form

    text = plural(count, noun)
    assert text == f"{count} {inflect(count, noun)}"
    if count == 1:
        assert text == f"1 {noun}"
    else:
        form = plural_form(noun)
        assert text == f"{count} {form}" and form != noun and "(" not in form
        if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
            assert form == noun[:-1] + "ies"
        elif noun.endswith(("s", "x", "z", "ch", "sh")):
            assert form == noun + "es"
        else:
            assert form == noun + "s"


def test_plural_examples() -> None:
    from kubefort.wording import inflect, plural

    assert [plural(n, "policy") for n in (0, 1, 3)] == ["0 policies", "1 policy", "3 policies"]
    assert plural(2, "day") == "2 days" and plural(2, "NetworkPolicy") == "2 NetworkPolicies"
    assert plural(1, "failed check") == "1 failed check" and plural(4, "failed check") == "4 failed checks"
    assert plural(2, "index", "indices") == "2 indices" and inflect(2, "unknown key") == "unknown keys"


def test_no_counted_noun_is_written_with_a_parenthesised_plural() -> None:
    """No message in the source says "3 polic(ies)" or "1 check(s)": counts go through
    kubefort.wording.plural. (Prose such as "the config file(s)" counts nothing and may stay.)"""
    counted = re.compile(r"\}\s?[A-Za-z][A-Za-z -]*\((s|es|ies)\)")
    offenders = [
        f"{p.relative_to(SRC_ROOT)}:{i}: {line.strip()}"
        for p in SRC_ROOT.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if counted.search(line)
    ]
    assert not offenders, "\n".join(offenders)


# ---------------------------------------------------------------- the CLI: suppressed, exceptions, formats


def _kf(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "kubefort", *args], capture_output=True, timeout=300, env=env, cwd=cwd)


INSECURE = SRC_ROOT.parents[1] / "examples" / "insecure-app"


def test_baselined_findings_are_counted_not_listed(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    assert _kf("scan", str(INSECURE), "--write-baseline", str(base), "-q").returncode in (0, 1)
    fresh = json.loads(_kf("scan", str(INSECURE), "-o", "json").stdout)
    n = fresh["summary"]["outcomes"]["failed"]
    assert n > 10

    p = _kf("scan", str(INSECURE), "--baseline", str(base), "--no-config")
    table = p.stdout.decode()
    assert f"0 failed, {n} suppressed (baseline {n})" in table
    row = re.compile(r"^  suppressed +(critical|high|medium|low|info) ", re.MULTILINE)
    assert "suppressed by baseline" not in table and not row.search(table)
    assert "--show-suppressed lists them" in table
    shown = _kf("scan", str(INSECURE), "--baseline", str(base), "--no-config", "--show-suppressed").stdout.decode()
    assert shown.count("suppressed by baseline (--baseline): present in the baseline") == n
    assert len(row.findall(shown)) == n

    # the machine-readable formats keep every suppressed outcome, with or without the flag
    timing = re.compile(rb'("duration_s": |time=")[0-9.]+')
    for fmt in ("json", "sarif", "junit"):
        outs = [
            timing.sub(
                rb"\g<1>0", _kf("scan", str(INSECURE), "--baseline", str(base), "--no-config", "-o", fmt, *flag).stdout
            )
            for flag in ((), ("--show-suppressed",))
        ]
        assert outs[0] == outs[1], fmt
        if fmt == "json":
            assert sum(r["outcome"] == "suppressed" for r in json.loads(outs[0])["results"]) == n


def test_exceptions_listed_once(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text((INSECURE / "app.yaml").read_text())
    (tmp_path / ".kubefort.yaml").write_text(
        "exceptions:\n"
        "  - checks: [KF-POD-001]\n    namespaces: [nowhere]\n    reason: matches nothing\n"
        "  - checks: [KF-POD-004]\n    reason: long gone\n    expires: 2020-01-01\n"
    )
    report = tmp_path / "r.json"
    p = _kf("scan", str(tmp_path), "-o", "table", "-o", f"json={report}", "-o", f"sarif={tmp_path / 'r.sarif'}")
    table = " ".join(p.stdout.decode().split())  # unwrapped
    doc = json.loads(report.read_text())
    ((unused,), (expired,)) = doc["exceptions"]["unused"], doc["exceptions"]["expired"]
    assert "exceptions[0]" in unused and "exceptions[1]" in expired
    assert table.count(unused) == 1 and table.count(expired) == 1
    assert not any("exception" in w for w in doc["warnings"])
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    notes = [
        n["message"]["text"]
        for inv in sarif["runs"][0]["invocations"]
        for k in inv
        if k.endswith("Notifications")
        for n in inv[k]
    ]
    assert sum(unused in t for t in notes) == 1 and sum(expired in t for t in notes) == 1


def test_junit_has_no_empty_testsuite() -> None:
    root = ET.fromstring(_kf("scan", str(INSECURE), "-o", "junit").stdout)  # noqa: S314 - our own report
    suites = root.findall("testsuite")
    assert suites and all(int(s.get("tests")) == len(s.findall("testcase")) > 0 for s in suites)
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites)


def test_table_is_the_human_format_everywhere_and_text_a_deprecated_alias() -> None:
    for args in (("scan", "--help"), ("checks", "--help"), ("explain", "--help"), ("netpol", "explain", "--help")):
        help_text = _kf(*args).stdout.decode()
        assert "table" in help_text and "[text" not in help_text and "|text" not in help_text, args
    new = _kf("explain", "KF-POD-001")
    old = _kf("explain", "KF-POD-001", "-o", "text")
    assert old.returncode == 0 and old.stdout == new.stdout
    assert old.stderr.decode().strip() == "kubefort: -o text is deprecated: use -o table"
    timing = re.compile(rb" in [0-9.]+s\n")
    scan = _kf("scan", str(INSECURE), "-o", "text")
    assert scan.returncode == 1
    assert timing.sub(b"", scan.stdout) == timing.sub(b"", _kf("scan", str(INSECURE), "-o", "table").stdout)
    assert scan.stderr.decode().splitlines()[0] == "kubefort: -o text is deprecated: use -o table"


def test_objects_without_kind_or_name_in_a_real_table(tmp_path: Path) -> None:
    f = tmp_path / "odd.yaml"
    f.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n  containers: [{name: a, image: nginx:1.27}]\n"
        "---\napiVersion: v1\nmetadata: {name: x}\n"
        "---\nkind: ConfigMap\napiVersion: null\nmetadata: {name: cm}\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: 5}\n"
    )
    out = _kf("scan", str(f), "--checks", "KF-POD-001", "--include-passed").stdout.decode()
    headers = [ln.split("  ")[0] for ln in out.splitlines() if ln and not ln.startswith(" ")]
    assert headers[:4] == [
        "Pod without a name, document 1",
        "document 2",
        "ConfigMap, document 3",
        "Deployment, document 4",
    ]
    assert "?/" not in out and "/?" not in out and "None" not in out
    assert "kind is missing, expected a non-empty string" in out
    assert "apiVersion is null, expected a non-empty string" in out
