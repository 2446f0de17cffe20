"""One admission verdict: the request's object through the same engine, configuration and
exceptions as `kubefort scan`, then each finding sorted into enforce, warn and audit (policy.py).

What is judged:
* CREATE and UPDATE of an object, and the `ephemeralcontainers` subresource of a Pod (what
  `kubectl debug` adds: the whole Pod is judged). The object is `request.object` as the API
  server is about to store it; `oldObject` is never judged.
* Dry-run requests (`kubectl apply --dry-run=server`) are judged exactly as real ones: the webhook
  has no side effects (`sideEffects: None`), so a dry run shows what the real request would get.

What is admitted without judging (`Verdict.skipped` says why; counted in the metrics):
* DELETE and CONNECT: nothing is created (for DELETE, `request.object` is absent; denying the
  removal of an insecure object would only keep it running);
* other subresources (`status`, `scale`, `binding`...): they are not the object kubefort judges,
  and refusing a controller's status update would break it;
* an UPDATE of an object that is being deleted (`metadata.deletionTimestamp`): finalizers must be
  removable, or the object could never go away;
* an UPDATE that changes only `status` and metadata other than labels and annotations (owner
  references, finalizers, managed fields): controllers' bookkeeping on objects admitted before,
  which no check reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubefort.admission.context import ADMISSION_SOURCE, AccountLookup, ContextChecks, NamespaceLookup, RbacLookup
from kubefort.admission.policy import AdmissionSettings, Levels, Mode, levels_for, modes_for
from kubefort.admission.review import Review
from kubefort.config import Config
from kubefort.engine import Engine
from kubefort.engine.exceptions import apply_exceptions
from kubefort.model import Outcome, Severity, Source, Status, format_path
from kubefort.registry import Registry

JUDGED_SUBRESOURCES = frozenset({"", "ephemeralcontainers"})
_UNCHANGED_META = ("labels", "annotations")


@dataclass(frozen=True, slots=True)
class Finding:
    """A failed (or not evaluated) check on the object, and the modes it reaches."""

    check_id: str
    name: str
    severity: Severity
    evaluated: bool  # False: the check could not judge a field (never denied)
    message: str
    field: str  # the offending field ("spec.containers[0].securityContext.privileged"), "" for the object
    fix: str  # the check's remediation
    modes: tuple[Mode, ...]


@dataclass(slots=True)
class Verdict:
    allowed: bool
    levels: Levels
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # invalid namespace labels
    suppressed: int = 0  # failures suppressed by inline annotations or .kubefort.yaml exceptions
    skipped: str = ""  # why the object was admitted without judging ("" when it was judged)

    def by_mode(self, mode: Mode) -> list[Finding]:
        return [f for f in self.findings if mode in f.modes]


def skip_reason(review: Review) -> str:
    """Why a request is admitted without judging ("" when it is judged)."""
    if review.operation not in ("CREATE", "UPDATE"):
        return f"{review.operation} creates nothing to judge"
    if review.sub_resource not in JUDGED_SUBRESOURCES:
        return f"the {review.sub_resource} subresource is not an object kubefort judges"
    if review.operation == "UPDATE":
        meta = review.object.get("metadata")
        if isinstance(meta, dict) and meta.get("deletionTimestamp") is not None:
            return "the object is being deleted"
        if bookkeeping_only(review.object, review.old_object):
            return "the update changes no field a check reads (only owner references, finalizers or status)"
    return ""


def bookkeeping_only(new: dict[str, Any], old: Any) -> bool:
    """Does an UPDATE change nothing but `status` and the metadata no check reads?"""
    if not isinstance(old, dict):
        return False
    rest_new = {k: v for k, v in new.items() if k not in ("metadata", "status")}
    rest_old = {k: v for k, v in old.items() if k not in ("metadata", "status")}
    if rest_new != rest_old:
        return False
    meta_new, meta_old = new.get("metadata"), old.get("metadata")
    if not isinstance(meta_new, dict) or not isinstance(meta_old, dict):
        return bool(meta_new == meta_old)
    return all(meta_new.get(k) == meta_old.get(k) for k in _UNCHANGED_META)


def with_namespace(obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    """The object with `metadata.namespace` set from the request when it has none (the API
    server puts a namespaced object in the request's namespace), so that exceptions by namespace
    and the namespace checks see where it lands. The request's dict is not changed."""
    if namespace is None:
        return obj
    meta = obj.get("metadata")
    if isinstance(meta, dict) and not meta.get("namespace"):
        return {**obj, "metadata": {**meta, "namespace": namespace}}
    return obj


class Judge:
    """The checks, configuration and admission settings of one server; `judge` is pure apart
    from the exception rules' use counters."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        settings: AdmissionSettings,
        config: Config | None = None,
        context: ContextChecks | None = None,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.settings = settings
        self.config = config
        self.context = context
        self.source = Source(ADMISSION_SOURCE)

    def outcomes(
        self,
        obj: dict[str, Any],
        namespace: NamespaceLookup | None = None,
        account: AccountLookup | None = None,
        rbac: RbacLookup | None = None,
    ) -> list[Outcome]:
        """Every non-passing outcome on `obj`, exceptions applied: what `kubefort scan` reports for it."""
        outcomes = self.engine.check_object(obj, self.source)
        if self.context is not None and namespace is not None and account is not None:
            outcomes.extend(self.context.run(obj, self.source, namespace, account, rbac))
        apply_exceptions(outcomes, self.config, None)
        return outcomes

    def judge(
        self,
        review: Review,
        labels: Mapping[str, str] | None,
        namespace: NamespaceLookup | None = None,
        account: AccountLookup | None = None,
        rbac: RbacLookup | None = None,
    ) -> Verdict:
        """The verdict on a request. `labels`: the labels of the request's namespace (None when
        unknown); `namespace`/`account`/`rbac`: the cache's lookups for the context checks (None:
        not run; without `rbac`, the RBAC ones are not)."""
        levels, problems = levels_for(self.settings, review.namespace, labels)
        reason = skip_reason(review)
        if reason:
            return Verdict(True, levels, problems=problems, skipped=reason)
        obj = with_namespace(review.object, review.namespace)
        verdict = Verdict(True, levels, problems=problems)
        forced = self.settings.checks
        for o in self.outcomes(obj, namespace, account, rbac):
            if o.status is Status.SUPPRESSED:
                verdict.suppressed += 1
                continue
            if o.status not in (Status.FAILED, Status.NOT_EVALUATED):
                continue
            evaluated = o.status is Status.FAILED
            modes = modes_for(levels, o.severity, forced.get(o.check_id, False), evaluated)
            meta = self.registry.get(o.check_id)
            verdict.findings.append(
                Finding(
                    o.check_id,
                    meta.name,
                    o.severity,
                    evaluated,
                    o.message,
                    format_path(o.path),
                    meta.remediation,
                    tuple(modes),
                )
            )
        verdict.findings.sort(key=lambda f: -f.severity)  # most severe first, else in check order
        verdict.allowed = not verdict.by_mode("enforce")
        return verdict
