"""What an audit check (`target="audit"`) receives besides the event.

An audit check is a small function `(ev: AuditEvent, ctx: AuditContext[Options]) -> Iterable[Violation]`
registered with `@check(target="audit", audit=AuditScope(...))`. The analyzer calls it only for
the events its scope admits (verbs, resources), once per request (see `analyzer.judged`).

- `ctx.options`: the check's options dataclass from `.kubefort.yaml` (thresholds, allow-lists).
- `ctx.scratch`: this check's own mutable state for the life of one analysis (a log read, or a
  `serve` process): windows, counters, what was seen. Detections that need history keep it here
  and must bound it (evict by time or size).
- `ctx.services`: what the audit driver knows besides the log (`AuditServices`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic

from kubefort.model import CheckContext, OptionsT, Outcome


@dataclass(frozen=True, slots=True)
class AuditScope:
    """Which events an audit check looks at; the analyzer skips the others without calling it.

    `verbs`: API verbs (None: every verb). `resources`: `resource[.group][/subresource]` as kubectl
    writes them (`pods/exec`, `secrets`, `clusterrolebindings.rbac.authorization.k8s.io`); a
    resource without `/` also admits its subresources only when listed as `pods/*`; None: every
    request, resource or not; `nonresource=True` admits non-resource requests (no objectRef) too.
    `stateful=True`: the check keeps history in `ctx.scratch` (windows, first-seen), so the
    analyzer must feed it every admitted event in log order, in one process; stateless checks
    may run in parallel workers on parts of a log.
    `active(options, services)`: False when, with these services, the check can only answer
    "not applicable" (first-seen without a baseline): the analyzer then never calls it, instead
    of raising NotApplicable on every event. Options that leave a check off until configured say
    so themselves (`kubefort.model.OffUntilSet`), for every driver.
    """

    verbs: frozenset[str] | None = None
    resources: frozenset[str] | None = None
    nonresource: bool = False
    stateful: bool = False
    active: Callable[[Any, AuditServices], bool] | None = None


@dataclass(slots=True)
class AuditServices:
    """What the audit driver knows besides the events, shared by every audit check of one analysis.

    object_outcomes(obj, check_ids): the per-object checks `check_ids` run on `obj` (for example
    a pod in a request body) through the same engine as `kubefort scan`: the outcomes that are not
    passes (failed, and not evaluated for a body that cannot be judged).
    rbac: the RBAC knowledge for judging roles and bindings (built-in defaults of the cluster's
    version, plus the roles of manifests or a cluster when the user gave them); None if absent.
    baseline: the first-seen store (what each principal did in the learning window); None if absent.
    now: the clock (Unix time) for time-to-detect.
    """

    object_outcomes: Callable[[dict[str, Any], tuple[str, ...]], list[Outcome]] | None = None
    rbac: Any = None
    baseline: Any = None
    now: Callable[[], float] | None = None


@dataclass(frozen=True, slots=True)
class AuditContext(CheckContext[OptionsT], Generic[OptionsT]):
    scratch: dict[str, Any] = field(default_factory=dict)
    services: AuditServices = field(default_factory=AuditServices)
