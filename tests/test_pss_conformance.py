"""PSS conformance: kubefort.kube.pss must decide every upstream pod-security-admission fixture
the way upstream does.

Fixtures and their expectations come from ``../shared/conformance/pss`` (beside the repository;
override the shared folder with ``KUBEFORT_SHARED``). ``cases.jsonl`` has one row per fixture:
file, level, version, expected (pass|fail), check (absent for base*.yaml),
expected_message_substring (fail only). The module skips when the folder is absent.

Rules checked, as upstream's test/run.go applies them:

* a ``pass`` fixture must produce no violation at its level and version;
* a ``fail`` fixture must produce at least one violation of the fixture's check (or, at the
  restricted level, of the restricted check that overrides it) whose message contains the
  expected substring.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kubefort.kube import pss

yaml = pytest.importorskip("yaml")

SHARED = Path(os.environ.get("KUBEFORT_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
PSS_DIR = SHARED / "conformance" / "pss"
CASES_FILE = PSS_DIR / "cases.jsonl"

if not CASES_FILE.is_file():
    pytest.skip(f"PSS conformance fixtures not found at {PSS_DIR}", allow_module_level=True)

# at the restricted level these restricted checks replace a baseline check (upstream
# OverrideCheckIDs), so a baseline fixture is reported under the restricted check's ID
OVERRIDDEN_BY = {
    "hostPathVolumes": "restrictedVolumes",
    "seccompProfile_baseline": "seccompProfile_restricted",
    "capabilities_baseline": "capabilities_restricted",
    "procMount": "procMount_restricted",
}

# kinds whose pod template lives at spec.template (CronJob: spec.jobTemplate.spec.template)
TEMPLATE_KINDS = {"ReplicationController", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job"}


def _load_cases() -> list[dict]:
    with CASES_FILE.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


CASES = _load_cases()


def _pod_parts(doc: dict) -> tuple[dict | None, dict]:
    """(metadata, spec) of a Pod, a PodTemplate or a workload's pod template."""
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("metadata"), doc.get("spec")
    if kind == "PodTemplate":
        template = doc["template"]
    elif kind == "CronJob":
        template = doc["spec"]["jobTemplate"]["spec"]["template"]
    elif kind in TEMPLATE_KINDS:
        template = doc["spec"]["template"]
    else:  # pragma: no cover - the fixtures are all Pods
        raise AssertionError(f"unexpected fixture kind {kind!r}")
    return template.get("metadata"), template.get("spec")


def _case_id(case: dict) -> str:
    return case["file"].removeprefix("test/testdata/").removesuffix(".yaml")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_fixture(case: dict) -> None:
    with (PSS_DIR / case["file"]).open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    assert doc.get("apiVersion") == "v1", case["file"]
    metadata, spec = _pod_parts(doc)

    violations = pss.evaluate(metadata, spec, case["level"], case["version"])
    rendered = "\n".join(f"  {v.control} {v.field}={v.value}: {v.message}" for v in violations)

    if case["expected"] == "pass":
        assert violations == [], f"expected pass, got:\n{rendered}"
        return

    assert violations, "expected fail, got no violation"
    check = case.get("check")
    if check is None:
        return
    accepted = {check}
    if case["level"] == "restricted" and check in OVERRIDDEN_BY:
        accepted.add(OVERRIDDEN_BY[check])
    substring = case.get("expected_message_substring") or check
    matching = [v for v in violations if v.control in accepted and substring in v.message]
    assert matching, f"no {sorted(accepted)} violation mentioning {substring!r}; got:\n{rendered}"


def test_case_counts() -> None:
    """The fixture list is the one EXPECTED.md describes (4,537 fixtures, all levels covered)."""
    counts: dict[tuple[str, str], int] = {}
    for case in CASES:
        key = (case["level"], case["expected"])
        counts[key] = counts.get(key, 0) + 1
    assert counts == {
        ("baseline", "pass"): 433,
        ("baseline", "fail"): 1122,
        ("restricted", "pass"): 618,
        ("restricted", "fail"): 2364,
    }


def test_latest_covers_fixture_versions() -> None:
    newest = max(pss.parse_version(c["version"]) for c in CASES)
    assert pss.parse_version(pss.LATEST) == newest
