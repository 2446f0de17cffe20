"""Every check against its fixture: exact outcomes per object and container.

A fixture `tests/fixtures/checks/<ID>.yaml` holds objects annotated with what the check must
conclude for them:

    test.kubefort.io/expect: "failed"                      # object or pod level
    test.kubefort.io/expect: "app=failed side=passed"      # per container
    test.kubefort.io/line: "14"                            # line of the (first) failure
    test.kubefort.io/message: "keys: password"             # substring of the message

A check with options can declare them in a header comment, as `.kubefort.yaml` would:

    # kubefort-test-options: {"KF-IMG-004": {"allowed_registries": ["ghcr.io/acme"]}}

Objects without the annotation must get no outcome at all from that check (kinds it does not
apply to). The fixture must contain at least one failed and one passed expectation.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from checkrun import fixture_options
from conftest import FIXTURES, scan_file
from kubefort.loaders.manifests import InputSpec, load
from kubefort.registry import REGISTRY

CHECKS_DIR = FIXTURES / "checks"
EVALUATED = [m for m in REGISTRY if m.target not in ("input", "audit")]  # audit checks: tests/test_audit_checks.py
# checks whose failing cases need a real external component; their fixture holds what they decide
# without it (never a pass), the failures are asserted where the component runs
FAILS_ELSEWHERE = {
    "KF-IMG-011": "tests/test_images_signatures.py (a real registry, cosign and crane)",
    "KF-IMG-013": "tests/test_images_signatures.py (a real registry, cosign and crane)",
}


def _expectations(path: Path) -> dict[str, dict[str | None, str]]:
    li = load(InputSpec("file", str(path), path.stat().st_size))
    assert not li.problems, f"fixture {path.name} does not load: {li.problems}"
    out: dict[str, dict[str | None, str]] = {}
    for r in li.resources:
        ann = (r.obj.get("metadata") or {}).get("annotations") or {}
        exp = ann.get("test.kubefort.io/expect")
        if exp is None:
            continue
        if "=" in exp:
            out[r.id.name] = dict(item.split("=", 1) for item in exp.split())
        else:
            out[r.id.name] = {None: exp.strip()}
    return out


def _annotation(path: Path, name: str, key: str) -> str | None:
    li = load(InputSpec("file", str(path), path.stat().st_size))
    for r in li.resources:
        if r.id.name == name:
            return ((r.obj.get("metadata") or {}).get("annotations") or {}).get(key)
    return None


@pytest.mark.parametrize("meta", EVALUATED, ids=lambda m: m.id)
def test_check_has_fixture_with_failed_and_passed(meta):
    path = CHECKS_DIR / f"{meta.id}.yaml"
    assert path.is_file(), f"{meta.id} has no fixture {path}"
    statuses = {s for exp in _expectations(path).values() for s in exp.values()}
    if meta.id in FAILS_ELSEWHERE:
        assert {"not-evaluated", "passed"} <= statuses, f"{meta.id} fixture needs passing and not-evaluated cases"
        return
    assert {"failed", "passed"} <= statuses, f"{meta.id} fixture needs failing and passing cases, has {statuses}"


@pytest.mark.parametrize("meta", EVALUATED, ids=lambda m: m.id)
def test_check_exact_outcomes(meta):
    path = CHECKS_DIR / f"{meta.id}.yaml"
    expected = _expectations(path)
    outcomes = [o for o in scan_file(path, (meta.id,), options=fixture_options(path)) if o.check_id == meta.id]
    actual: dict[str, dict[str | None, str]] = defaultdict(dict)
    for o in outcomes:
        assert o.resource is not None
        key = o.container if meta.target == "container" else None
        assert key not in actual[o.resource.name], f"two outcomes for {o.resource.name}/{key}"
        actual[o.resource.name][key] = o.status.value
    assert dict(actual) == expected
    for o in outcomes:
        if o.status.value != "passed":
            assert o.location is not None and o.location.line is not None, o
            assert o.fingerprint and o.message
        line = _annotation(path, o.resource.name, "test.kubefort.io/line")
        if line and o.status.value == "failed":
            assert o.location.line == int(line), (o.resource.name, o.location)
        msg = _annotation(path, o.resource.name, "test.kubefort.io/message")
        if msg and o.status.value == "failed":
            assert msg in o.message, o.message


def test_secret_values_never_in_messages():
    path = CHECKS_DIR / "KF-SEC-001.yaml"
    for o in scan_file(path):
        for secret in ("hunter2", "aHVudGVyMg==", "YWRtaW4=", "s3cr3t-value-never-shown"):
            assert secret not in o.message
