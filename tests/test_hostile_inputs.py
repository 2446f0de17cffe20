"""Hostile and broken inputs: each gives a clear not-evaluated outcome, in bounded time and
memory, never a crash, never a silent pass, never code execution.

Each case runs the real CLI in a subprocess limited to 2 GiB of address space and 120 s.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

MEM_LIMIT = 2 * 1024**3


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


def run_scan(path: Path, *args: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "kubefort", "scan", str(path), "-o", "json", "-q", *args],
        capture_output=True,
        timeout=120,
        preexec_fn=_limit,
    )
    assert proc.returncode in (0, 1, 3), proc.stderr.decode()[-2000:]
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()[-2000:]
    return proc.returncode, json.loads(proc.stdout)


def not_evaluated(report: dict) -> list[dict]:
    return [r for r in report["results"] if r["outcome"] == "not-evaluated"]


def test_python_tags_are_never_constructed(tmp_path):
    marker = tmp_path / "pwned"
    f = tmp_path / "evil.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: evil\n"
        f'data: !!python/object/apply:os.system ["touch {marker}"]\n'
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n"
    )
    code, rep = run_scan(f)
    assert code == 3 and not marker.exists()
    ne = not_evaluated(rep)
    assert len(ne) == 1 and ne[0]["check_id"] == "KF-INPUT-001"
    assert "unsupported YAML tag" in ne[0]["message"] and ne[0]["line"] == 5
    assert [o["name"] for o in rep["objects"]] == ["fine"]  # the next document is still scanned


def test_billion_laughs(tmp_path):
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    f = tmp_path / "bomb.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "\n".join("  " + ln for ln in lines) + "\n"
    )
    code, rep = run_scan(f)
    assert code == 3
    (ne,) = not_evaluated(rep)
    assert "excessive YAML aliasing" in ne["message"]


def test_recursive_alias(tmp_path):
    f = tmp_path / "loop.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata: &x\n  self: *x\n")
    code, rep = run_scan(f)
    assert code == 3
    (ne,) = not_evaluated(rep)
    assert "recursive YAML alias" in ne["message"]


def test_file_over_the_size_limit(tmp_path):
    f = tmp_path / "big.yaml"
    with open(f, "wb") as fh:
        fh.write(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n")
        fh.write(b"  k: " + b"x" * (50 * 1024 * 1024) + b"\n")
    code, rep = run_scan(f)
    assert code == 3
    (ne,) = not_evaluated(rep)
    assert "over the" in ne["message"] and "--max-file-size" in ne["message"]
    assert rep["inputs"][0]["error"]


def test_invalid_utf8(tmp_path):
    f = tmp_path / "latin1.yaml"
    f.write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n")
    code, rep = run_scan(f)
    assert code == 3
    (ne,) = not_evaluated(rep)
    assert "invalid UTF-8" in ne["message"] and ne["line"] == 4


def test_binary_file(tmp_path):
    f = tmp_path / "blob.yaml"
    f.write_bytes(bytes(range(256)) * 64)
    code, rep = run_scan(f)
    assert code == 3
    (ne,) = not_evaluated(rep)
    assert "binary file" in ne["message"]


@pytest.mark.parametrize("shape", ["flow", "block"])
def test_deeply_nested(tmp_path, shape):
    f = tmp_path / "deep.yaml"
    n = 20000
    if shape == "flow":
        f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + "[" * n + "]" * n + "\n")
    else:
        f.write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n"
            + "".join(" " * (i + 1) + "k:\n" for i in range(3000))
        )
    code, rep = run_scan(f)
    assert code == 3
    (ne,) = not_evaluated(rep)
    assert "nesting" in ne["message"]


def test_wrong_types_are_not_evaluated_with_the_field(tmp_path):
    f = tmp_path / "types.yaml"
    f.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: null-containers}\n"
        "spec: {template: {spec: {containers: null}}}\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: spec-number}\nspec: 5\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: container-string}\nspec: {containers: [nginx]}\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata: []\n"
        "---\napiVersion: v1\nkind: 5\nmetadata: {name: x}\n"
    )
    code, rep = run_scan(f)
    assert code == 3
    by_obj: dict[str, set[str]] = {}
    for r in not_evaluated(rep):
        name = r["resource"]["name"] if r["resource"] else "-"
        by_obj.setdefault(name, set()).add(r["message"])
    assert any("containers is missing" in m or "containers is null" in m for m in by_obj["null-containers"])
    assert any("spec is a number" in m for m in by_obj["spec-number"])
    assert any("is a string, expected a container mapping" in m for m in by_obj["container-string"])
    malformed = [r for r in not_evaluated(rep) if r["check_id"] == "KF-INPUT-003"]
    assert {r["line"] for r in malformed} == {18, 21}
    # nothing about these objects passed: every pod check on them is not evaluated
    passed = [r for r in rep["results"] if r["outcome"] == "passed"]
    assert passed == []


def test_scalar_and_list_documents_are_recorded_not_checked(tmp_path):
    f = tmp_path / "values.yaml"
    f.write_text("just a string\n---\n- a\n- b\n---\nreplicaCount: 2\n")
    code, rep = run_scan(f)
    assert code == 3  # no Kubernetes object at all: nothing was evaluated (issue 12 item 4)
    assert rep["objects"] == [] and len(rep["inputs"][0]["skipped"]) == 3


def test_empty_file(tmp_path):
    f = tmp_path / "empty.yaml"
    f.write_text("")
    code, rep = run_scan(f)
    assert code == 3 and rep["results"] == [] and rep["objects"] == []  # nothing was evaluated
