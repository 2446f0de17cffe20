"""The audit services (`AuditServices`) as `kubefort audit` builds them: what the audit checks
know besides the events.

- `object_outcomes(obj, check_ids)`: the per-object checks `check_ids` on an object recorded in
  an event (a pod or workload in a request or response body), through the same engine as
  `kubefort scan` (`Engine.check_object`), one Engine per tuple of check IDs, built on first use.
- `rbac`: `RbacKnowledge` (audit/rbac_knowledge.py), the release's default RBAC plus the
  cluster's RBAC objects when given.
- `now`: the clock, for time-to-detect.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from kubefort.audit.context import AuditServices
from kubefort.audit.rbac_knowledge import RbacKnowledge
from kubefort.engine import Engine, EngineSettings
from kubefort.model import Outcome, Source, Status
from kubefort.registry import Registry

BODY_SOURCE = Source("<audit-event>")


class ObjectOutcomes:
    """`AuditServices.object_outcomes`: the outcomes of the per-object checks `check_ids` on one
    decoded object that are not passes.

    Failed outcomes, and not-evaluated ones (a field of the wrong type, a malformed object as
    KF-INPUT-003). An inline `kubefort.io/ignore` annotation in the object does not suppress
    anything here: the requester wrote it, so its outcome stays failed. Cross-object checks in
    `check_ids` are not run (they need the other objects of a scan). The object may be changed in
    place as the loaders decode it (a null label value becomes "")."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.engines: dict[tuple[str, ...], Engine] = {}

    def engine(self, check_ids: tuple[str, ...]) -> Engine:
        e = self.engines.get(check_ids)
        if e is None:
            e = self.engines[check_ids] = Engine(EngineSettings(check_ids=check_ids, keep_passed=False), self.registry)
        return e

    def __call__(self, obj: dict[str, Any], check_ids: tuple[str, ...]) -> list[Outcome]:
        out = []
        for o in self.engine(check_ids).check_object(obj, BODY_SOURCE):
            if o.status is Status.SUPPRESSED:
                o = dataclasses.replace(o, status=Status.FAILED, suppression=None)
            if o.status is not Status.PASSED:
                out.append(o)
        return out


def default_services(
    registry: Registry, kubernetes_version: str | None = None, rbac_objects: list[dict[str, Any]] | None = None
) -> AuditServices:
    """The services of one analysis. `kubernetes_version` (1.N) chooses the release whose
    default RBAC applies (ValueError for one kubefort does not ship); `rbac_objects` are the
    cluster's Roles, ClusterRoles and bindings (decoded objects, Lists allowed; others ignored),
    None when the user gave none."""
    return AuditServices(
        object_outcomes=ObjectOutcomes(registry),
        rbac=RbacKnowledge(kubernetes_version, rbac_objects),
        now=time.time,
    )
