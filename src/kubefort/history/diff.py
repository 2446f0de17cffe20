"""`diff(store, a, b)`: what changed between two stored scans.

new: findings in B and not in A; fixed: in A and not in B; unchanged: in both. Findings are
matched by (target, fingerprint), so line moves and message rewording are not changes. Two scans
of different targets can be compared (every finding then differs unless fingerprints agree)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kubefort.history.store import FindingRow, ScanRow, Store

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


@dataclass(frozen=True, slots=True)
class ScanDiff:
    a: ScanRow
    b: ScanRow
    new: list[FindingRow]
    fixed: list[FindingRow]
    unchanged: list[FindingRow]

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `kubefort report diff -o json`."""
        return {
            "a": scan_dict(self.a),
            "b": scan_dict(self.b),
            "counts": {"new": len(self.new), "fixed": len(self.fixed), "unchanged": len(self.unchanged)},
            "new": [asdict(f) for f in self.new],
            "fixed": [asdict(f) for f in self.fixed],
            "unchanged": [asdict(f) for f in self.unchanged],
        }


def scan_dict(row: ScanRow) -> dict[str, Any]:
    """A scan as the diff shows it (its identity and summary, not its per-check counts)."""
    return {
        "uid": row.uid,
        "target": row.target,
        "kind": row.kind,
        "finished_at": row.finished_at,
        "complete": row.complete,
        "tool_version": row.tool_version,
        "labels": row.labels,
        "summary": row.summary,
    }


def order(f: FindingRow) -> tuple[Any, ...]:
    r = f.resource
    return (
        SEVERITY_ORDER.get(f.severity, 9),
        f.check_id,
        r.get("namespace") or "",
        r.get("kind") or "",
        r.get("name") or "",
        f.file or "",
        f.line or 0,
        f.fingerprint,
    )


def compare(a: list[FindingRow], b: list[FindingRow]) -> tuple[list[FindingRow], list[FindingRow], list[FindingRow]]:
    """(new, fixed, unchanged) between the findings of scan A and of scan B, each in report order."""
    ka = {(f.target, f.fingerprint) for f in a}
    kb = {(f.target, f.fingerprint) for f in b}
    new = sorted((f for f in b if (f.target, f.fingerprint) not in ka), key=order)
    fixed = sorted((f for f in a if (f.target, f.fingerprint) not in kb), key=order)
    unchanged = sorted((f for f in b if (f.target, f.fingerprint) in ka), key=order)
    return new, fixed, unchanged


def diff(store: Store, a: str, b: str) -> ScanDiff:
    """Compare the scans `a` and `b` (any `Store.scan` reference); StoreError for an unknown one."""
    sa, sb = store.scan(a), store.scan(b)
    new, fixed, unchanged = compare(store.scan_findings(sa.uid), store.scan_findings(sb.uid))
    return ScanDiff(sa, sb, new, fixed, unchanged)
