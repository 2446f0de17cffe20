"""Recording a scan: its aggregates (computed before the transaction) and the tracking of its
findings by fingerprint (inside it).

Per (target, fingerprint) a finding is first seen, last seen, `open` or `fixed`, and reopened
(a count); each open..fixed interval is an episode. Only failed outcomes are tracked
(suppressed ones are counted in the scan's summary and check counts).

A scan recorded in order (finished no earlier than the target's newest stored scan):
* a present finding that was unknown is inserted, open, with a new episode;
* a present finding that is open gets this scan as last seen;
* a present finding that was fixed is reopened (count + 1) with a new episode;
* when the scan is COMPLETE, an open finding it lacks is fixed at its `finished_at` (and its
  episode closed). An incomplete scan never fixes anything.

A scan finished before the target's newest stored scan (late, or two CronJobs racing) is stored
and changes no finding's state: fingerprints it alone has are added, open, or fixed at the first
later complete scan of the target when there is one (that scan did not have them).

Writers of one target are serialised: SQLite's `BEGIN IMMEDIATE` (the store), PostgreSQL's
`SELECT ... FOR UPDATE` on the target row with a lock timeout.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from kubefort.history import schema as s
from kubefort.history.store import ScanRow

if TYPE_CHECKING:
    from kubefort.history.target import TargetLabel
    from kubefort.model import ScanResult
    from kubefort.registry import Registry

CHUNK = 5000  # rows per executemany


# the columns of a finding that come from the scan, in the order `Prepared.findings` holds them
FINDING_COLUMNS = (
    "fingerprint",
    "check_id",
    "severity",
    "api_version",
    "kind",
    "namespace",
    "name",
    "container",
    "file",
    "line",
    "path",
    "message",
    "remediation",
    "observed_at",
)
# and those the tracking sets
TRACKING_COLUMNS = (
    "target_id",
    "first_seen_scan",
    "first_seen_at",
    "last_seen_scan",
    "last_seen_at",
    "state",
    "fixed_at",
    "reopened",
)


@dataclass(slots=True)
class Prepared:
    """Everything `write` stores, computed outside the transaction."""

    uid: str
    kind: str
    target: TargetLabel
    finished_at: float
    complete: bool
    tool_version: str
    labels: dict[str, Any]
    summary: dict[str, Any]
    objects_by_kind: dict[str, int]
    check_counts: dict[str, dict[str, int]]
    metrics: list[dict[str, Any]]
    findings: dict[str, tuple[Any, ...]]  # fingerprint -> the FINDING_COLUMNS


def prepare(
    result: ScanResult, registry: Registry, *, kind: str, target: TargetLabel, complete: bool | None
) -> Prepared:
    from kubefort.reporters import is_complete

    whole = is_complete(result) if complete is None else (complete and is_complete(result))
    d = digest(result, registry)
    return Prepared(
        uid=uuid.uuid4().hex,
        kind=kind,
        target=target,
        finished_at=float(result.finished_at or time.time()),
        complete=whole,
        tool_version=result.tool_version,
        labels={**target.labels, **target.scan_labels},
        summary={
            "outcomes": d.outcomes,
            "failed_by_severity": d.failed_by_severity,
            "checks": len(result.checks_run),
            "objects": len(result.resources),
            "complete": whole,
            "duration_s": round(result.duration_s, 3),
        },
        objects_by_kind=dict(Counter(rid.kind for rid, _ in result.resources)),
        check_counts=check_counts(result, d.check_counts),
        metrics=_metrics(result, registry, kind),
        findings=d.findings,
    )


@dataclass(slots=True)
class Digest:
    """One pass over a result's outcomes: the JSON report's summary counts (schema 1.1), the
    counts per check and status (kept outcomes only), and the failed ones as findings."""

    outcomes: dict[str, int]
    failed_by_severity: dict[str, int]
    check_counts: dict[str, dict[str, int]]
    findings: dict[str, tuple[Any, ...]]


def digest(result: ScanResult, registry: Registry) -> Digest:
    from kubefort.model import Severity, Status, format_path
    from kubefort.reporters import outcome_fingerprint, outcome_location

    labels = {sev: sev.label for sev in Severity}
    failed_by = {sev.label: 0 for sev in sorted(Severity, reverse=True)}
    statuses = [st.value for st in Status]
    per_check: dict[str, dict[str, int]] = {}
    remediation: dict[str, str] = {}
    findings: dict[str, tuple[Any, ...]] = {}
    failed = Status.FAILED
    for o in result.outcomes:
        counts = per_check.get(o.check_id)
        if counts is None:
            counts = per_check[o.check_id] = dict.fromkeys(statuses, 0)
        counts[o.status._value_] += 1
        if o.status is not failed:
            continue
        sev = labels[o.severity]
        failed_by[sev] += 1
        fp = outcome_fingerprint(o)
        if fp in findings:
            continue
        fix = remediation.get(o.check_id)
        if fix is None:
            try:
                fix = remediation[o.check_id] = registry.get(o.check_id).remediation
            except KeyError:
                fix = remediation[o.check_id] = ""
        file, line, _col = outcome_location(o)
        rid = o.resource
        findings[fp] = (
            fp,
            o.check_id,
            sev,
            rid.api_version if rid else None,
            rid.kind if rid else None,
            rid.namespace if rid else None,
            rid.name if rid else None,
            o.container,
            file,
            line,
            format_path(o.path) if o.path else None,
            o.message,
            fix,
            _event_time(o.event) if o.event is not None else None,
        )
    totals = dict.fromkeys(statuses, 0)
    for counts in per_check.values():
        for st, n in counts.items():
            totals[st] += n
    totals[Status.PASSED.value] += result.passed_omitted
    return Digest(totals, failed_by, per_check, findings)


def check_counts(result: ScanResult, kept: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Per check ID, outcomes by status: the engine's `ScanResult.check_counts()` (which also
    counts the passes it did not keep) when this kubefort has it, else the kept outcomes'."""
    own = getattr(result, "check_counts", None)
    if callable(own):
        return {k: dict(v) for k, v in own().items()}
    from kubefort.model import Status

    out = {cid: dict.fromkeys((st.value for st in Status), 0) for cid in result.checks_run}
    out.update(kept)
    return out


def _metrics(result: ScanResult, registry: Registry, kind: str) -> list[dict[str, Any]]:
    try:
        from kubefort.history.metrics import scan_metrics  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # the metric catalogue is not there yet
        return []
    return list(scan_metrics(result, registry, kind))


def _event_time(event: dict[str, Any] | None) -> float | None:
    """When an audit finding's event happened (its stageTimestamp), as Unix time."""
    stamp = (event or {}).get("stageTimestamp")
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()  # Python 3.11 reads "Z"
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# inside the transaction
# ---------------------------------------------------------------------------------------------
def _placeholders(conn: Connection, n: int) -> str:
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)


def _bulk(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """`sql` (with the driver's placeholders) for every row, straight to the driver's executemany
    (SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself)."""
    for i in range(0, len(rows), CHUNK):
        conn.exec_driver_sql(sql, rows[i : i + CHUNK])


def _insert_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows`: PostgreSQL's COPY, SQLite's executemany."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(conn, len(columns))})"  # noqa: S608 - constants
    _bulk(conn, sql, rows)


def _update_by_id(conn: Connection, table: str, assignments: str, rows: list[tuple[Any, ...]]) -> None:
    """`UPDATE table SET assignments WHERE id = ?` for every row (the id is its last value);
    `assignments` uses `{}` for each placeholder."""
    if not rows:
        return
    ph = _placeholders(conn, 1)
    _bulk(conn, f"UPDATE {table} SET {assignments.format(*[ph] * (len(rows[0]) - 1))} WHERE id = {ph}", rows)  # noqa: S608 - constants


def lock_target(conn: Connection, target: TargetLabel, lock_timeout: float) -> int:
    """The target's id, created when new, locked for this transaction (PostgreSQL: the row; SQLite
    holds the database's write lock already). Its labels become this scan's."""
    t = s.target.c
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'"))
        conn.execute(
            pg_insert(s.target)
            .values(key=target.key, kind=target.kind, labels=target.labels)
            .on_conflict_do_nothing(index_elements=["key"])
        )
    else:
        conn.execute(
            s.target.insert().prefix_with("OR IGNORE").values(key=target.key, kind=target.kind, labels=target.labels)
        )
    query = select(t.id, t.kind, t.labels).where(t.key == target.key)
    row = conn.execute(query.with_for_update() if conn.dialect.name == "postgresql" else query).one()
    if row.labels != target.labels or row.kind != target.kind:
        conn.execute(update(s.target).where(t.id == row.id).values(kind=target.kind, labels=target.labels))
    return int(row.id)


def write(conn: Connection, p: Prepared, *, lock_timeout: float) -> ScanRow:
    """Store the prepared scan and track its findings (the caller's transaction)."""
    target_id = lock_target(conn, p.target, lock_timeout)
    sc = s.scan.c
    newest = conn.execute(select(func.max(sc.finished_at)).where(sc.target_id == target_id)).scalar()
    in_order = newest is None or p.finished_at >= float(newest)
    stored_at = time.time()
    inserted = conn.execute(
        s.scan.insert().values(
            uid=p.uid,
            target_id=target_id,
            kind=p.kind,
            finished_at=p.finished_at,
            stored_at=stored_at,
            complete=p.complete,
            tool_version=p.tool_version,
            labels=p.labels,
            summary=p.summary,
            objects_by_kind=p.objects_by_kind,
            check_counts=p.check_counts,
            metrics=p.metrics,
            findings=b"",
        )
    ).inserted_primary_key
    scan_id = int(inserted[0]) if inserted else 0
    # every finding of the target, straight from the driver (a long history has tens of thousands)
    rows = conn.exec_driver_sql(
        f"SELECT fingerprint, id, state FROM finding WHERE target_id = {_placeholders(conn, 1)}",  # noqa: S608 - a placeholder
        (target_id,),
    )
    known = {fp: (int(fid), state) for fp, fid, state in rows}
    new = [fp for fp in p.findings if fp not in known]
    if in_order:
        ids = _track(conn, p, target_id, scan_id, known, new)
    else:
        ids = _track_late(conn, p, target_id, scan_id, known, new)
    conn.execute(update(s.scan).where(sc.id == scan_id).values(findings=s.pack_ids(ids)))
    return ScanRow(
        uid=p.uid,
        target=p.target.key,
        kind=p.kind,
        finished_at=p.finished_at,
        stored_at=stored_at,
        complete=p.complete,
        tool_version=p.tool_version,
        labels=p.labels,
        summary=p.summary,
        objects_by_kind=p.objects_by_kind,
        check_counts=p.check_counts,
        metrics=p.metrics,
    )


def _insert_new(
    conn: Connection,
    p: Prepared,
    target_id: int,
    scan_id: int,
    new: list[str],
    *,
    fixed: tuple[int, float] | None = None,
) -> list[int]:
    """Insert the findings `new` (fingerprints) seen first in this scan, with one episode each
    (closed at `fixed` = (scan id, time) when given); their ids."""
    if not new:
        return []
    tracked = (
        target_id,
        scan_id,
        p.finished_at,
        scan_id,
        p.finished_at,
        "open" if fixed is None else "fixed",
        None if fixed is None else fixed[1],
        0,
    )
    _insert_rows(conn, "finding", FINDING_COLUMNS + TRACKING_COLUMNS, [p.findings[fp] + tracked for fp in new])
    fc = s.finding.c
    # the scan is new in this transaction: the findings first seen in it are exactly these
    ids = [
        int(i)
        for i in conn.execute(select(fc.id).where(fc.target_id == target_id, fc.first_seen_scan == scan_id)).scalars()
    ]
    conn.execute(
        text(
            "INSERT INTO episode (finding_id, opened_at, opened_scan, fixed_at, fixed_scan) "
            "SELECT id, :at, :scan, CAST(:fixed_at AS DOUBLE PRECISION), CAST(:fixed_scan AS INTEGER) FROM finding WHERE target_id = :target AND first_seen_scan = :scan"
        ),
        {
            "at": p.finished_at,
            "scan": scan_id,
            "target": target_id,
            "fixed_at": None if fixed is None else fixed[1],
            "fixed_scan": None if fixed is None else fixed[0],
        },
    )
    return ids


def _track(
    conn: Connection, p: Prepared, target_id: int, scan_id: int, known: dict[str, tuple[int, str]], new: list[str]
) -> list[int]:
    fc = s.finding.c
    present_open = [known[fp][0] for fp in p.findings if fp in known and known[fp][1] == "open"]
    reopen = [known[fp][0] for fp in p.findings if fp in known and known[fp][1] != "open"]
    ids = _insert_new(conn, p, target_id, scan_id, new)
    seen = (scan_id, p.finished_at)
    if present_open and not p.complete:  # a complete scan updates them all at once, below
        _update_by_id(conn, "finding", "last_seen_scan = {}, last_seen_at = {}", [(*seen, i) for i in present_open])
    if reopen:
        _update_by_id(
            conn,
            "finding",
            "state = 'open', fixed_at = NULL, reopened = reopened + 1, last_seen_scan = {}, last_seen_at = {}",
            [(*seen, i) for i in reopen],
        )
        _insert_rows(
            conn,
            "episode",
            ("finding_id", "opened_at", "opened_scan"),
            [(i, p.finished_at, scan_id) for i in reopen],
        )
    if p.complete:
        gone = [fid for fp, (fid, state) in known.items() if state == "open" and fp not in p.findings]
        if gone:
            _update_by_id(conn, "finding", "state = 'fixed', fixed_at = {}", [(p.finished_at, i) for i in gone])
            ph = _placeholders(conn, 1)
            _bulk(
                conn,
                f"UPDATE episode SET fixed_at = {ph}, fixed_scan = {ph} WHERE finding_id = {ph} AND fixed_at IS NULL",  # noqa: S608 - constants
                [(p.finished_at, scan_id, i) for i in gone],
            )
        # what is still open now is exactly what this scan has: one statement for all of it
        conn.execute(
            update(s.finding)
            .where(fc.target_id == target_id, fc.state == "open", fc.last_seen_scan != scan_id)
            .values(last_seen_scan=scan_id, last_seen_at=p.finished_at)
        )
    return [*ids, *present_open, *reopen]


def _track_late(
    conn: Connection, p: Prepared, target_id: int, scan_id: int, known: dict[str, tuple[int, str]], new: list[str]
) -> list[int]:
    """A scan older than the target's newest: states stay; fingerprints only it has are added
    (fixed at the first later complete scan, when there is one)."""
    sc = s.scan.c
    later = conn.execute(
        select(sc.id, sc.finished_at)
        .where(sc.target_id == target_id, sc.complete.is_(True), sc.finished_at > p.finished_at, sc.id != scan_id)
        .order_by(sc.finished_at, sc.id)
        .limit(1)
    ).first()
    fixed = None if later is None else (int(later.id), float(later.finished_at))
    ids = _insert_new(conn, p, target_id, scan_id, new, fixed=fixed)
    return [*ids, *(known[fp][0] for fp in p.findings if fp in known)]
