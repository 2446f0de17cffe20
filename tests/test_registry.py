"""The registry tests itself (as ruff's does): IDs, names, docs, mappings, generated docs."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT
from kubefort import docs
from kubefort.model import Severity
from kubefort.registry import REGISTRY, REQUIRED_SECTIONS, CheckMeta, Registry, check

METAS = list(REGISTRY)
# a name describes the pattern flagged, not the fix (ruff's disallowed_rule_names)
DISALLOWED_NAME = re.compile(r"^(avoid|use|prefer|ensure|no)-|-(used)$")


@pytest.mark.parametrize("m", METAS, ids=lambda m: m.id)
def test_check_metadata(m: CheckMeta):
    assert re.fullmatch(r"KF-[A-Z]+-\d{3}", m.id)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", m.name) and not DISALLOWED_NAME.search(m.name)
    assert m.title and not m.title.endswith(".")
    assert m.remediation.endswith("."), "remediation is a sentence"
    sections = m.sections()
    for s in REQUIRED_SECTIONS:
        assert sections.get(s), f"{m.id} lacks '## {s}'"
    maps = m.mappings.as_dict()
    if m.area not in ("INPUT", "META"):  # kubefort's own input and annotation checks map to no framework
        assert set(maps) & {"cis", "nsa", "pss", "mitre", "owasp"}, f"{m.id} needs a framework mapping"
    if m.target in ("pod", "container"):
        assert "mitre" in maps and "owasp" in maps, f"{m.id} needs MITRE and OWASP mappings"


def test_ids_and_names_unique_and_lookup():
    assert len({m.id for m in METAS}) == len({m.name for m in METAS}) == len(METAS)
    assert REGISTRY.get("kf-pod-001").name == "privileged-container"
    assert REGISTRY.get("privileged-container").id == "KF-POD-001"
    with pytest.raises(KeyError):
        REGISTRY.get("KF-POD-999")
    assert [m.id for m in REGISTRY.select(["KF-POD-00"])][:2] == ["KF-POD-001", "KF-POD-002"]
    with pytest.raises(KeyError):
        REGISTRY.select(["KF-NOPE"])


def test_registry_rejects_duplicates_and_bad_ids():
    reg = Registry()
    kw = {"title": "t", "severity": Severity.LOW, "target": "object", "remediation": "x.", "registry": reg}
    check(id="KF-T-001", name="a-thing", **kw)(lambda r, c: [])
    with pytest.raises(ValueError):
        check(id="KF-T-001", name="b-thing", **kw)(lambda r, c: [])
    with pytest.raises(ValueError):
        check(id="KF-T-002", name="a-thing", **kw)(lambda r, c: [])
    with pytest.raises(ValueError):
        check(id="KF-T-2", name="c-thing", **kw)(lambda r, c: [])
    with pytest.raises(ValueError):
        check(id="KF-T-003", name="Not_Kebab", **kw)(lambda r, c: [])


def test_generated_checks_doc_is_current():
    expected = docs.checks_page(METAS)
    actual = (ROOT / "docs" / "checks.md").read_text()
    assert actual == expected, "docs/checks.md is stale: run `make docs`"


def test_every_check_id_is_written_in_its_source_file():
    # docs/checks.md names the file only (no line, so edits above a check keep it current):
    # the ID must then be found in that file by a search
    for m in METAS:
        path = ROOT / "src" / m.source.rsplit(":", 1)[0]
        assert m.id in path.read_text(), (m.id, m.source)
        line = int(m.source.rsplit(":", 1)[1])
        assert 0 < line <= len(path.read_text().splitlines()), m.source
