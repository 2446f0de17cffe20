"""Framework views: per CIS, NSA-CISA, Pod Security Standards, MITRE ATT&CK and the OWASP
Kubernetes Top 10, the share of controls passing, from check counts.

A control is what a check's `Mappings` names (CIS "5.2.2", PSS "baseline/privileged", MITRE
"T1611", OWASP "K01", an NSA-CISA guide section). Its state, from the check counts of a scan (or
the summed counts of several):

* failing: a check mapped to it failed on some object (suppressed outcomes count: an accepted
  risk is still a failed control);
* not evaluated: none failed, and a check mapped to it could not judge some object;
* passing: every outcome of every mapped check that judged something passed;
* not covered: none of its checks judged anything (not run, or nothing in scope: a manifest scan
  judges no kubelet control).

`share_passing` is passing / (passing + failing + not evaluated): a control kubefort could not
judge is never counted as passing; not-covered controls are left out and listed apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kubefort.model import Status

if TYPE_CHECKING:
    from kubefort.history.store import ScanRow
    from kubefort.registry import Registry

# Mappings field -> the framework's name in reports and the `framework` label of the gauges
FRAMEWORKS = (
    ("cis", "CIS"),
    ("nsa", "NSA-CISA"),
    ("pss", "PSS"),
    ("mitre", "MITRE ATT&CK"),
    ("owasp", "OWASP K8s Top 10"),
)
PASSING, FAILING, NOT_EVALUATED, NOT_COVERED = "passing", "failing", "not-evaluated", "not-covered"

Counts = Mapping[str, Mapping[str, int]]


def controls(registry: Registry) -> dict[str, dict[str, tuple[str, ...]]]:
    """framework name -> control -> the check IDs mapped to it (every check of the registry)."""
    out: dict[str, dict[str, list[str]]] = {name: {} for _, name in FRAMEWORKS}
    for meta in registry:
        for field, name in FRAMEWORKS:
            for control in getattr(meta.mappings, field):
                out[name].setdefault(control, []).append(meta.id)
    return {
        fw: {c: tuple(ids) for c, ids in sorted(cs.items(), key=lambda kv: _control_key(kv[0]))}
        for fw, cs in out.items()
    }


def _control_key(control: str) -> tuple[Any, ...]:
    """CIS 1.2.10 after 1.2.9: numeric parts compare as numbers."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in control.replace("/", ".").split("."))


def control_state(checks: Iterable[str], counts: Counts) -> str:
    """The state of one control from the counts of the checks mapped to it (module docstring)."""
    passed = failed = not_evaluated = 0
    for cid in checks:
        c = counts.get(cid) or {}
        passed += c.get(Status.PASSED.value, 0)
        failed += c.get(Status.FAILED.value, 0) + c.get(Status.SUPPRESSED.value, 0)
        not_evaluated += c.get(Status.NOT_EVALUATED.value, 0)
    if failed:
        return FAILING
    if not_evaluated:
        return NOT_EVALUATED
    if passed:
        return PASSING
    return NOT_COVERED


def framework_views(counts: Counts, registry: Registry) -> list[dict[str, Any]]:
    """Per framework: `{framework, controls, passing, failing, not_evaluated, not_covered,
    share_passing, detail}`; `controls` are the ones covered (passing + failing + not evaluated),
    `detail` every control with its state and checks."""
    out: list[dict[str, Any]] = []
    for fw, cs in controls(registry).items():
        detail = [{"control": c, "state": control_state(ids, counts), "checks": list(ids)} for c, ids in cs.items()]
        n = {s: sum(1 for d in detail if d["state"] == s) for s in (PASSING, FAILING, NOT_EVALUATED, NOT_COVERED)}
        covered = n[PASSING] + n[FAILING] + n[NOT_EVALUATED]
        out.append(
            {
                "framework": fw,
                "controls": covered,
                "passing": n[PASSING],
                "failing": n[FAILING],
                "not_evaluated": n[NOT_EVALUATED],
                "not_covered": n[NOT_COVERED],
                "share_passing": round(n[PASSING] / covered, 6) if covered else None,
                "detail": detail,
            }
        )
    return out


def merge_counts(many: Iterable[Counts]) -> dict[str, dict[str, int]]:
    """Check counts summed per check and status."""
    out: dict[str, dict[str, int]] = {}
    for counts in many:
        for cid, c in counts.items():
            mine = out.setdefault(cid, {})
            for status, n in c.items():
                mine[status] = mine.get(status, 0) + int(n)
    return out


def latest_complete(scans: Sequence[ScanRow]) -> dict[str, ScanRow]:
    """target -> its latest complete scan among `scans` (finished_at order)."""
    out: dict[str, ScanRow] = {}
    for s in scans:
        if s.complete:
            out[s.target] = s
    return out


def history_frameworks(scans: Sequence[ScanRow], registry: Registry) -> list[dict[str, Any]]:
    """The framework views of the latest complete scan of each target, counts summed over the targets."""
    latest = latest_complete(scans)
    return framework_views(merge_counts(s.check_counts or {} for s in latest.values()), registry)
