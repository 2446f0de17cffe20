"""What `kubefort audit` reads besides the log: the cluster's audit Policy (coverage and the
KF-CP-057/058 findings on it), the cluster's RBAC objects (what the detections judge roles and
bindings against), and the first-seen usage baseline.

Each is read with the manifest loader, so a file that cannot be read or parsed is a KF-INPUT
outcome at its line (the run is then incomplete), never silently ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubefort.audit.coverage import POLICY_CHECKS, coverage
from kubefort.engine import Engine, EngineSettings
from kubefort.engine.selection import AUDIT_INPUT_CHECKS
from kubefort.loaders.manifests import InputSpec, discover, load
from kubefort.model import Outcome
from kubefort.registry import Registry

RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


@dataclass
class SideInputs:
    outcomes: list[Outcome] = field(default_factory=list)  # findings on the policy, problems of the files
    checks: list[str] = field(default_factory=list)  # the checks those outcomes come from
    passed: int = 0  # their passes, counted
    coverage: dict[str, Any] | None = None
    rbac_objects: list[dict[str, Any]] | None = None


def _input_ids(registry: Registry) -> tuple[str, ...]:
    """The input checks of manifests (not those of audit logs)."""
    return tuple(m.id for m in registry if m.area == "INPUT" and m.id not in AUDIT_INPUT_CHECKS)


def read_policy(path: str, registry: Registry, options: dict[str, object], out: SideInputs) -> None:
    """The audit Policy file: its coverage table, and KF-CP-057/058 on it at file:line."""
    ids = (*POLICY_CHECKS, *_input_ids(registry))
    engine = Engine(
        EngineSettings(check_ids=ids, options={k: v for k, v in options.items() if k in ids}, keep_passed=False),
        registry,
    )
    li = load(InputSpec("file", path, Path(path).stat().st_size))
    part = engine.evaluate(li, collect=False)
    out.passed += part.passed_omitted
    out.outcomes += [o for o in part.outcomes if o.check_id in POLICY_CHECKS or o.check_id.startswith("KF-INPUT-")]
    out.checks += [i for i in POLICY_CHECKS if i not in out.checks]
    policies = [r.obj for r in li.resources if r.id.kind == "Policy" and r.id.api_version.startswith("audit.k8s.io/")]
    if len(policies) == 1:
        out.coverage = coverage(policies[0])
    else:
        found = "no audit.k8s.io Policy" if not policies else f"{len(policies)} audit.k8s.io Policies"
        out.coverage = {"version": 1, "error": f"{path} holds {found}: give the one file the API server loads"}


def read_rbac(paths: Sequence[str], registry: Registry, out: SideInputs) -> None:
    """The Roles, ClusterRoles and bindings under PATHs (manifests, as `kubefort rbac` reads them)."""
    engine = Engine(EngineSettings(check_ids=_input_ids(registry), keep_passed=False), registry)
    objects: list[dict[str, Any]] = []
    for spec in discover(paths):
        li = load(spec)
        out.outcomes += engine.evaluate(li, collect=False).outcomes
        objects += [r.obj for r in li.resources if r.id.kind in RBAC_KINDS]
    out.rbac_objects = objects
