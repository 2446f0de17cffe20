"""Suppressions decided outside the checks: inline `kubefort.io/ignore` annotations (read per
object), and `.kubefort.yaml` exceptions and baselines (applied to the finished outcomes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from kubefort.config import ANNOTATION, Config, InlineIgnore, parse_ignore_annotation
from kubefort.kube.pods import PodView
from kubefort.model import Outcome, Resource, Status, Suppression
from kubefort.registry import Registry


def _annotation(meta: Any) -> Any:
    if isinstance(meta, dict):
        ann = meta.get("annotations")
        if isinstance(ann, dict):
            return ann.get(ANNOTATION)
    return None


def inline_ignores(res: Resource, pods: Iterable[PodView], registry: Registry) -> list[InlineIgnore]:
    """Valid entries of kubefort.io/ignore on the object and on its pod templates."""
    entries: list[InlineIgnore] = []
    values = [_annotation(res.obj.get("metadata"))]
    values += [_annotation(p.meta.data) if p.meta is not None else None for p in pods]
    for v in values:
        if v is not None:
            entries.extend(parse_ignore_annotation(v, registry)[0])
    return entries


def apply_exceptions(
    outcomes: list[Outcome], config: Config | None, baseline: set[str] | None, today: dt.date | None = None
) -> tuple[list[str], list[str]]:
    """Config exceptions and the baseline turn failures into suppressions. Returns (unused, expired)."""
    today = today or dt.date.today()  # noqa: DTZ011 - `expires:` is a calendar date in the user's own time zone
    rules = config.exceptions if config else []
    live = [r for r in rules if not r.expired(today)]
    expired = [r for r in rules if r.expired(today)]
    expired_hits: set[int] = set()
    for o in outcomes:
        if o.status is not Status.FAILED:
            continue
        for r in live:
            if r.matches(o):
                r.used += 1
                o.status = Status.SUPPRESSED
                o.suppression = Suppression("config", r.reason, r.expires.isoformat() if r.expires else None, r.where)
                break
        else:
            for j, r in enumerate(expired):
                if r.matches(o):
                    expired_hits.add(j)
            if baseline and o.fingerprint in baseline:
                o.status = Status.SUPPRESSED
                o.suppression = Suppression("baseline", "present in the baseline", None, "--baseline")
    unused = [r.describe() for r in live if r.used == 0]
    expired_msgs = [
        f"{r.describe()} expired on {r.expires.isoformat() if r.expires else '?'}"
        + (" and no longer suppresses matching findings" if j in expired_hits else "")
        for j, r in enumerate(expired)
    ]
    return unused, expired_msgs
