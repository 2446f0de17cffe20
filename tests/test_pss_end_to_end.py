"""Upstream Pod Security fixtures through the whole pipeline: files -> loader -> views -> engine.

tests/test_pss_conformance.py checks the evaluator itself; this one scans each fixture
directory as a user would (`--pss LEVEL --pss-version V`) and requires the per-object verdict
to match upstream's pass/fail on every fixture.
"""

from __future__ import annotations

import pytest

from conftest import shared_dir
from kubefort.checks import pss
from kubefort.drivers.manifests import scan
from kubefort.engine import EngineSettings
from kubefort.loaders.manifests import discover
from kubefort.registry import REGISTRY

SHARED = shared_dir()
pytestmark = pytest.mark.skipif(SHARED is None, reason="../shared is not present")
DATA = SHARED / "conformance" / "pss" / "test" / "testdata" if SHARED else None


def _dirs():
    if DATA is None:
        return []
    return sorted(
        (lvl.name, ver.name) for lvl in DATA.iterdir() if lvl.is_dir() for ver in lvl.iterdir() if ver.is_dir()
    )


@pytest.mark.parametrize("level,version", _dirs())
def test_fixture_directory(level, version):
    root = DATA / level / version
    ids = tuple(m.id for m in REGISTRY if m.target == "input") + (
        "KF-PSS-001" if level == "baseline" else "KF-PSS-002",
    )
    res = scan(
        discover([str(root)]), EngineSettings(check_ids=ids, object_report=pss.object_report(level, version)), jobs=1
    )
    assert not [o for o in res.outcomes if o.check_id.startswith("KF-INPUT")], "every fixture must load"
    seen = 0
    for (_rid, src), extra in res.object_extra.items():
        expected_allowed = "/pass/" in src.file
        assert extra["pss"]["allowed"] is expected_allowed, (src.file, extra["pss"])
        seen += 1
    assert seen == len(res.resources) > 0
