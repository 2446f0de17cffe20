"""The bench scripts run against the current API (they are not timed here: figures come from
running them by hand, see bench/README.md). Tiny sizes, so a renamed engine function or a
moved module shows up in the suite instead of the next time someone measures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

BENCH = ROOT / "bench"


@pytest.mark.parametrize(
    "argv",
    [
        ["bench_rbac.py", "--bindings", "60", "--roles", "30", "--repeat", "1"],
        ["bench_netpol.py", "--pods", "40", "--policies", "8", "--namespaces", "4", "--yaml", "--baseline-rows", "0"],
        ["bench_admission.py", "--seconds", "0.2"],
        ["bench_scan.py", "--repeat", "1", "--jobs", "1", str(ROOT / "examples")],
    ],
    ids=lambda a: a[0],
)
def test_bench_script_runs(argv: list[str]) -> None:
    p = subprocess.run([sys.executable, str(BENCH / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.strip()
