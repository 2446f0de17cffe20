"""What `kubefort admission serve` runs, built from the registry and `.kubefort.yaml`: the check
selection (one rule with `kubefort scan`: `select_checks`), and the Judge. The tests and the
bench build the server the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubefort.admission.context import ContextChecks, runs_with_cache
from kubefort.admission.judge import Judge
from kubefort.admission.policy import AdmissionSettings, Level, Mode
from kubefort.config import Config
from kubefort.engine import Engine, EngineSettings
from kubefort.engine.selection import select_checks
from kubefort.registry import CheckMeta, Registry

NOT_HERE = "cross-object checks need the other objects of a scan (`kubefort scan`); docs/admission.md lists them"


def runnable(meta: CheckMeta, *, cache: bool) -> bool:
    """Can admission run this check? Per-object checks always; the cross-object ones only from
    the cluster cache (context.py); never the audit-log checks."""
    if meta.target == "audit":
        return False
    return meta.target != "cluster" or (cache and runs_with_cache(meta))


def admission_checks(
    registry: Registry,
    config: Config | None,
    select: Sequence[str] = (),
    skip: Sequence[str] = (),
    *,
    cache: bool,
) -> tuple[str, ...]:
    """The checks to run at admission (SelectionError for an unknown or cross-object one named)."""
    return select_checks(
        registry,
        select,
        skip,
        config=config,
        family=lambda m: runnable(m, cache=cache),
        family_hint=NOT_HERE,
    )


def build_judge(
    registry: Registry,
    config: Config | None,
    check_ids: Sequence[str],
    levels: Mapping[Mode, Level] | None = None,
    *,
    context: bool,
) -> Judge:
    """The Judge: an engine for the per-object checks, the cache-backed cross-object checks
    (`context`), the config's options, severities, pod-template paths, exceptions and
    `admission:` settings, with `levels` (the command line's) over its default levels."""
    settings = config.admission if config is not None and config.admission is not None else AdmissionSettings()
    settings = settings.with_defaults(levels or {})
    ptp = config.pod_template_paths if config else {}
    severity = config.severity if config else {}
    options = dict(config.options) if config else {}
    per_object = tuple(i for i in check_ids if registry.get(i).target != "cluster")
    engine = Engine(
        EngineSettings(
            check_ids=per_object, keep_passed=False, pod_template_paths=ptp, severity=severity, options=options
        ),
        registry,
    )
    ctx = (
        ContextChecks(registry, check_ids, options=options, severity=severity, pod_template_paths=ptp)
        if context
        else None
    )
    return Judge(engine, registry, settings, config, ctx)
