"""`kubefort scan --pss LEVEL`: the JSON contract for tools and CI (objects[].pss)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from conftest import ROOT
from test_cli import kf, write

WORKLOADS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: plain, namespace: shop}
spec:
  template:
    spec:
      containers: [{name: app, image: "nginx:1.27"}]
---
apiVersion: v1
kind: Pod
metadata: {name: hardened}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: nginx:1.27
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
---
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec: {hostPID: "yes", containers: [{name: a, image: "x:1"}]}
"""


def test_pss_objects_contract(tmp_path: Path):
    f = write(tmp_path, "w.yaml", WORKLOADS)
    p = kf("scan", str(f), "--pss", "restricted", "--pss-version", "v1.30", "-o", "json")
    rep = json.loads(p.stdout)
    schema = json.loads((ROOT / "src/kubefort/schemas/report.schema.json").read_text())
    jsonschema.validate(rep, schema)
    objs = {o["name"]: o for o in rep["objects"]}
    assert "pss" not in objs["cfg"]
    assert objs["hardened"]["pss"] == {"level": "restricted", "version": "v1.30", "allowed": True, "violations": []}
    plain = objs["plain"]["pss"]
    assert plain["allowed"] is False
    assert {v["control"] for v in plain["violations"]} == {
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "runAsNonRoot",
        "seccompProfile_restricted",
    }
    assert {
        "control": "runAsNonRoot",
        "field": "spec.template.spec.containers[0].securityContext.runAsNonRoot",
        "value": "<unset>",
    } in plain["violations"]
    assert objs["broken"]["pss"]["allowed"] is None and "hostPID" in objs["broken"]["pss"]["error"]
    # only the restricted verdict check ran
    ran = {c["id"] for c in rep["checks"]}
    assert "KF-PSS-002" in ran and "KF-PSS-001" not in ran


def test_pss_baseline_level_and_bad_version(tmp_path: Path):
    f = write(tmp_path, "w.yaml", WORKLOADS)
    rep = json.loads(kf("scan", str(f), "--pss", "baseline", "-o", "json").stdout)
    objs = {o["name"]: o for o in rep["objects"]}
    assert objs["plain"]["pss"]["allowed"] is True and objs["plain"]["pss"]["version"] == "latest"
    p = kf("scan", str(f), "--pss", "baseline", "--pss-version", "1.30")
    assert p.returncode == 2


def test_pss_version_in_config(tmp_path: Path):
    write(tmp_path, "w.yaml", WORKLOADS)
    write(tmp_path, ".kubefort.yaml", "options:\n  KF-PSS-002: {version: v1.25}\n")
    rep = json.loads(kf("scan", str(tmp_path / "w.yaml"), "-o", "json", "--checks", "KF-PSS-002").stdout)
    (msg,) = [r["message"] for r in rep["results"] if r["check_id"] == "KF-PSS-002" and r["outcome"] == "failed"]
    assert "(v1.25)" in msg
    write(tmp_path, ".kubefort.yaml", "options:\n  KF-PSS-002: {version: 1.25}\n")
    assert kf("scan", str(tmp_path / "w.yaml")).returncode == 2
