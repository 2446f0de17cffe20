#!/usr/bin/env python3
"""Generate kubefort's versioned RBAC knowledge from the Kubernetes sources of each release.

For every supported minor release (the newest patch the Go module proxy serves of each minor in
MINORS), this downloads the k8s.io/kubernetes module with `go mod download` (the ordinary Go
client; GOPROXY as configured) and extracts:

* the bootstrap policy, from upstream's golden files
  `plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/{cluster-roles,cluster-role-bindings,
  namespace-roles,namespace-role-bindings,controller-roles,controller-role-bindings}.yaml`
  (what the API server's RBAC post-start hook creates and reconciles with the default feature
  gates; `TestBootstrap*` in that package keeps them equal to the code);
* the built-in resource table with scopes, from the discovery documents the release keeps in
  `api/discovery/` (`api__v1.json` and `apis__<group>__<version>.json`, every group version the
  API server can serve, alpha and beta included: the scope of a resource does not depend on
  whether its version is enabled).

It writes compact JSON under src/kubefort/kube/data/rbac/<minor>/ (`bootstrap.json`,
`resources.json`) and the index `src/kubefort/kube/data/rbac/index.json`. The data are
Kubernetes' own (Apache-2.0, copyright The Kubernetes Authors); see data/rbac/NOTICE.

    .venv/bin/python tools/gen_rbac_data.py                 # every minor in MINORS
    .venv/bin/python tools/gen_rbac_data.py --minor 1.37    # one
    .venv/bin/python tools/gen_rbac_data.py --modcache ~/go/pkg/mod   # reuse a module cache

Without --modcache the modules go to a temporary module cache that is removed at the end
(each release is ~20 MB to download and ~120 MB unpacked).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "kubefort" / "kube" / "data" / "rbac"
MODULE = "k8s.io/kubernetes"
MINORS = tuple(f"1.{m}" for m in range(29, 38))  # the releases kubefort ships RBAC data for
GOLDEN_DIR = "plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata"
GOLDEN_FILES = (
    "cluster-roles.yaml",
    "cluster-role-bindings.yaml",
    "namespace-roles.yaml",
    "namespace-role-bindings.yaml",
    "controller-roles.yaml",
    "controller-role-bindings.yaml",
)
DISCOVERY_DIR = "api/discovery"
_DISCOVERY_FILE = re.compile(r"^(api__v1|apis__[^_]+__v[0-9a-z]+)\.json$")  # APIResourceLists


def go() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)
    if found is None:
        sys.exit("gen_rbac_data: `go` not found (it downloads the k8s.io/kubernetes module)")
    return found


def go_env(modcache: Path) -> dict[str, str]:
    env = dict(os.environ, GOMODCACHE=str(modcache), GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    env.setdefault("GOPROXY", "https://proxy.golang.org")
    return env


def newest_patches(minors: tuple[str, ...], env: dict[str, str]) -> dict[str, str]:
    """minor -> the newest vX.Y.Z the module proxy lists (pre-releases left out)."""
    out = subprocess.run(
        [go(), "list", "-m", "-versions", MODULE], check=True, capture_output=True, text=True, env=env, cwd="/"
    ).stdout.split()
    best: dict[str, tuple[int, str]] = {}
    for v in out[1:]:
        m = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", v)
        if m is None:
            continue
        minor = f"{m[1]}.{m[2]}"
        if minor in minors and int(m[3]) >= best.get(minor, (-1, ""))[0]:
            best[minor] = (int(m[3]), v)
    missing = [m for m in minors if m not in best]
    if missing:
        sys.exit(f"gen_rbac_data: the module proxy lists no release of {', '.join(missing)}")
    return {m: best[m][1] for m in minors}


def download(version: str, env: dict[str, str]) -> Path:
    res = subprocess.run(
        [go(), "mod", "download", "-json", f"{MODULE}@{version}"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    return Path(json.loads(res.stdout)["Dir"])


# ------------------------------------------------------------------------------------------------
# extraction (pure: a module directory in, data out)
# ------------------------------------------------------------------------------------------------
def bootstrap_policy(src: Path) -> list[dict[str, Any]]:
    """Every default RBAC object of the release, golden file by golden file, `null` fields dropped."""
    objects: list[dict[str, Any]] = []
    for name in GOLDEN_FILES:
        doc = yaml.safe_load((src / GOLDEN_DIR / name).read_text())
        for obj in doc["items"]:
            objects.append(_drop_nulls(obj))
    return objects


def _drop_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None and k != "creationTimestamp"}
    if isinstance(v, list):
        return [_drop_nulls(x) for x in v]
    return v


def resource_table(src: Path) -> list[list[Any]]:
    """[group, resource, kind, namespaced, singular, shortNames...] for every top-level resource of
    every group version the release serves (subresources share their resource's scope)."""
    rows: dict[tuple[str, str], list[Any]] = {}
    for f in sorted((src / DISCOVERY_DIR).iterdir()):
        m = _DISCOVERY_FILE.match(f.name)
        if m is None:
            continue
        doc = json.loads(f.read_text())
        gv = doc.get("groupVersion", "")
        group = gv.rpartition("/")[0] if "/" in gv else ""
        for r in doc.get("resources") or ():
            name = r["name"]
            if "/" in name:
                continue
            key = (group, name)
            row = [
                group,
                name,
                r["kind"],
                bool(r["namespaced"]),
                r.get("singularName") or "",
                *(r.get("shortNames") or ()),
            ]
            old = rows.get(key)
            if old is not None and old[3] != row[3]:
                raise SystemExit(f"gen_rbac_data: {name}.{group} is namespaced in one version and not in another")
            if old is None or len(row) > len(old):
                rows[key] = row
    return [rows[k] for k in sorted(rows)]


def write_minor(minor: str, version: str, src: Path) -> dict[str, Any]:
    d = OUT / minor
    d.mkdir(parents=True, exist_ok=True)
    policy = bootstrap_policy(src)
    table = resource_table(src)
    _write_json(d / "bootstrap.json", policy)
    _write_json(d / "resources.json", table)
    return {"source": f"{MODULE}@{version}", "objects": len(policy), "resources": len(table)}


def _write_json(path: Path, data: Any) -> None:
    # one object per line: compact, and a release's diff stays readable
    lines = ",\n".join(json.dumps(x, separators=(",", ":"), sort_keys=True) for x in data)
    path.write_text(f"[\n{lines}\n]\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minor", action="append", help="only this minor release (1.N); repeatable")
    ap.add_argument("--modcache", type=Path, help="Go module cache to use (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    minors = tuple(args.minor) if args.minor else MINORS
    tmp = None if args.modcache else Path(tempfile.mkdtemp(prefix="kubefort-rbac-gen-"))
    modcache: Path = args.modcache if tmp is None else tmp
    env = go_env(modcache)
    try:
        index_path = OUT / "index.json"
        index = json.loads(index_path.read_text()) if index_path.exists() else {}
        for minor, version in newest_patches(minors, env).items():
            print(f"gen_rbac_data: {minor}: {MODULE}@{version}", file=sys.stderr)
            index[minor] = write_minor(minor, version, download(version, env))
        OUT.mkdir(parents=True, exist_ok=True)
        index = {k: index[k] for k in sorted(index, key=lambda v: tuple(int(x) for x in v.split(".")))}
        index_path.write_text(json.dumps(index, indent=1) + "\n")
    finally:
        if tmp is not None:
            subprocess.run([go(), "clean", "-modcache"], env=env, cwd="/", check=False, capture_output=True)
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
