"""Every audit check (`target="audit"`) against its fixture `tests/fixtures/audit/checks/<ID>.yaml`:
exact outcomes per event (see the comment at the top of any fixture for the format)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import FIXTURES
from kubefort.audit.analyzer import AuditAnalyzer, AuditSettings
from kubefort.audit.event import AuditEvent, AuditEventError
from kubefort.config import make_options
from kubefort.registry import REGISTRY

AUDIT_FIXTURES = FIXTURES / "audit" / "checks"
AUDIT_CHECKS = [m for m in REGISTRY if m.target == "audit"]
EXPECTS = {"failed", "passed", "not-evaluated", "not-applicable", "suppressed"}


def _fixture(meta_id: str) -> tuple[dict[str, Any], Path]:
    path = AUDIT_FIXTURES / f"{meta_id}.yaml"
    assert path.is_file(), f"{meta_id} has no fixture {path}"
    return yaml.safe_load(path.read_text()), path


def _options(path: Path) -> dict[str, object]:
    m = re.search(r"^# kubefort-test-options: (.*)$", path.read_text(), re.MULTILINE)
    raw = json.loads(m.group(1)) if m else {}
    return {cid: make_options(REGISTRY.get(cid), v, path.name) for cid, v in raw.items()}


def _event(defaults: dict[str, Any], spec: dict[str, Any]) -> tuple[dict[str, Any], str, str | None]:
    raw = copy.deepcopy(defaults)
    spec = dict(spec)
    expect = spec.pop("test.expect")
    message = spec.pop("test.message", None)
    raw.update(copy.deepcopy(spec))
    assert expect in EXPECTS, expect
    return raw, expect, message


def run_case(meta_id: str, defaults: dict[str, Any], events: list[dict[str, Any]], options: dict[str, object]) -> None:
    analyzer = AuditAnalyzer(AuditSettings((meta_id,), options=options), REGISTRY)
    for i, spec in enumerate(events):
        raw, expect, message = _event(defaults, spec)
        try:
            ev = AuditEvent.read(raw, "fixture.jsonl", i + 1)
        except AuditEventError:
            actual, text = "unreadable", ""
        else:
            before = analyzer.passed
            outs = analyzer.feed(ev)
            assert len(outs) <= 1, outs
            if outs:
                actual, text = outs[0].status.value, outs[0].message
                assert outs[0].fingerprint and outs[0].event is not None
                assert outs[0].location is not None and outs[0].location.line == i + 1
            else:
                actual, text = ("passed" if analyzer.passed > before else "not-applicable"), ""
        assert actual == expect, f"event {i}: {actual} != {expect} ({text})"
        if message is not None:
            assert message in text, text


@pytest.mark.parametrize("meta", AUDIT_CHECKS, ids=lambda m: m.id)
def test_audit_check_fixture(meta) -> None:
    data, path = _fixture(meta.id)
    statuses = {e["test.expect"] for c in data["cases"] for e in c["events"]}
    assert {"failed", "passed"} <= statuses, f"{meta.id} fixture needs failing and passing cases, has {statuses}"
    for case in data["cases"]:
        try:
            run_case(meta.id, data.get("defaults", {}), case["events"], _options(path))
        except AssertionError as exc:
            raise AssertionError(f"{meta.id} case {case['name']}: {exc}") from None


def test_wrong_types_are_refused_with_their_path() -> None:
    with pytest.raises(AuditEventError) as exc:
        AuditEvent.read({"user": {"username": 7}})
    assert exc.value.path == "user.username"
    with pytest.raises(AuditEventError) as exc:
        AuditEvent.read({"responseStatus": {"code": "403"}})
    assert exc.value.path == "responseStatus.code"


def test_checks_whose_options_are_off_are_never_called() -> None:
    """The audit analyzer honours `OffUntilSet` as the engine does: KF-AUDIT-021 without networks
    is not called at all; with networks it judges every request."""
    from kubefort.checks.audit.networks import NetworkOptions

    ev = {"auditID": "n-1", "stage": "ResponseComplete", "verb": "get", "sourceIPs": ["203.0.113.9"]}
    off = AuditAnalyzer(AuditSettings(("KF-AUDIT-021",)), REGISTRY)
    assert off.feed(AuditEvent.read(dict(ev))) == [] and off.evaluated["KF-AUDIT-021"] == 0
    on = AuditAnalyzer(
        AuditSettings(("KF-AUDIT-021",), options={"KF-AUDIT-021": NetworkOptions(("10.0.0.0/8",))}), REGISTRY
    )
    assert [o.status.value for o in on.feed(AuditEvent.read(dict(ev)))] == ["failed"]
    assert on.evaluated["KF-AUDIT-021"] == 1
