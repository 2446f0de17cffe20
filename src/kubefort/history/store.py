"""The history store: `Store.open(url)`, `record` a finished scan, and the queries the history
commands read (`targets`, `scans`, `scan`, `findings`, `episodes`, `scan_findings`).

URLs: `sqlite:///PATH` (the embedded default: `$XDG_DATA_HOME/kubefort/history.db`, else
`~/.local/share/kubefort/history.db`) or `postgresql://user:password@host/db` (psycopg 3);
`KUBEFORT_STORE` replaces the default. A password never appears in `Store.url` or a message.

Every failure a user can cause (an unreachable server, a locked or foreign file, a database of
a newer kubefort, an unknown scan) is a `StoreError` whose message is the one line to print.
Recording is one transaction (`kubefort.history.tracking`): a scan is stored whole or not at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Row

    from kubefort.history.target import TargetLabel
    from kubefort.model import ScanResult
    from kubefort.registry import Registry

ENV_STORE = "KUBEFORT_STORE"
DEFAULT_TIMEOUT_S = 30.0
SCAN_KINDS = ("manifests", "cluster", "snapshot", "node", "audit")
MIN_PREFIX = 6


class StoreError(Exception):
    """A store that cannot be used as asked; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class TargetRow:
    key: str
    kind: str
    labels: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScanRow:
    uid: str
    target: str  # the target's key
    kind: str  # manifests | cluster | snapshot | node | audit
    finished_at: float
    stored_at: float
    complete: bool
    tool_version: str
    labels: dict[str, Any]
    summary: dict[str, Any]
    objects_by_kind: dict[str, int]
    check_counts: dict[str, dict[str, int]]
    metrics: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class FindingRow:
    fingerprint: str
    target: str
    check_id: str
    severity: str
    resource: dict[str, str | None]  # apiVersion, kind, namespace, name (None where unknown)
    container: str | None
    file: str | None
    line: int | None
    path: str | None
    message: str
    remediation: str
    state: str  # open | fixed
    first_seen_at: float
    last_seen_at: float
    fixed_at: float | None
    observed_at: float | None
    reopened: int


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    fingerprint: str
    target: str
    check_id: str
    severity: str
    opened_at: float
    fixed_at: float | None


# ---------------------------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------------------------
def default_path() -> Path:
    """Where the embedded store lives: `$XDG_DATA_HOME/kubefort/history.db`, else ~/.local/share/..."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "kubefort" / "history.db"


def resolve_url(url: str | None) -> str:
    """The URL a store option means: the given one, else `KUBEFORT_STORE`, else the default."""
    return url or os.environ.get(ENV_STORE) or f"sqlite:///{default_path()}"


def redact(url: str) -> str:
    from kubefort.history.target import redact_url

    return redact_url(url)


def engine_url(url: str) -> str:
    """The SQLAlchemy URL of a store URL: `postgresql://` (and `postgres://`) run on psycopg 3."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreError(f"{url!r} is not a store URL: use sqlite:///PATH or postgresql://USER@HOST/DB")
    s = scheme.lower()
    if s in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if s in ("sqlite", "sqlite+pysqlite"):
        return f"sqlite:///{rest[1:]}" if rest.startswith("/") else f"sqlite://{rest}"
    raise StoreError(f"unsupported store URL scheme {scheme!r}: use sqlite:///PATH or postgresql://USER@HOST/DB")


def _sqlite_file(sa_url: Any) -> str | None:
    db = sa_url.database
    return None if not db or db == ":memory:" or sa_url.query.get("mode") == "memory" else str(db)


def _prepare_sqlite_dir(path: str, where: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the directory {parent} for {where}: {_os_reason(exc)}") from None
    if os.path.isdir(path):
        raise StoreError(f"{where}: {path} is a directory, not a database file")


def _os_reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


# ---------------------------------------------------------------------------------------------
# errors: driver exceptions -> one line
# ---------------------------------------------------------------------------------------------
def _reason(exc: BaseException, dialect: str, timeout: float) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split()) or type(orig).__name__
    low = text.lower()
    if dialect == "sqlite":
        if "database is locked" in low or "database is busy" in low:
            return f"the database is locked by another writer (waited {timeout:g} s)"
        if "file is not a database" in low or "not a database" in low:
            return "not a SQLite database"
        if "readonly" in low or "read-only" in low:
            return "the database file is read-only"
        if "unable to open" in low:
            return "cannot open the database file (does its directory exist and can kubefort write there?)"
    elif "lock timeout" in low:
        return f"another kubefort is writing to this target (waited {timeout:g} s)"
    elif any(s in low for s in ("terminating connection", "server closed the connection", "connection is lost")):
        return f"the connection to the database was lost ({text})"
    return text


@contextmanager
def _errors(store: Store, action: str) -> Iterator[None]:
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        yield
    except StoreError:
        raise
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(f"{action} {store.url}: invalid URL ({exc})") from None
    except SQLAlchemyError as exc:
        reason = _reason(exc, store.dialect, store.timeout)
        raise StoreError(f"{action} {store.url}: {_scrub(reason, store)}") from None
    except OSError as exc:
        raise StoreError(f"{action} {store.url}: {_os_reason(exc)}") from None


def _scrub(text: str, store: Store) -> str:
    pw = store.password
    return text.replace(pw, "***") if pw else text


# ---------------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------------
class Store:
    """An open history store. `Store.open(url)`; `close()` when done (or use it as a context manager)."""

    url: str  # password redacted

    def __init__(self, engine: Engine, url: str, timeout: float) -> None:
        self._engine = engine
        self.url = redact(url)
        self.password = engine.url.password if isinstance(engine.url.password, str) else None
        self.dialect = engine.dialect.name
        self.timeout = timeout

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def open(cls, url: str | None, *, timeout: float = DEFAULT_TIMEOUT_S) -> Store:
        """Open (creating and migrating as needed) the store at `url`; None or "" is
        `KUBEFORT_STORE`, else the embedded default. `timeout`: how long to wait for another
        writer (SQLite's busy timeout, PostgreSQL's lock timeout) and for a server to answer."""
        import orjson
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        real = resolve_url(url)
        sa_text = engine_url(real)
        try:
            sa_url = make_url(sa_text)
        except ArgumentError as exc:
            raise StoreError(f"invalid store URL {redact(real)}: {exc}") from None
        kwargs: dict[str, Any] = {
            "json_serializer": _json_dumps,
            "json_deserializer": orjson.loads,
        }
        if sa_url.get_backend_name() == "sqlite":
            path = _sqlite_file(sa_url)
            if path is not None:
                _prepare_sqlite_dir(path, redact(real))
            if "timeout" in sa_url.query:
                timeout = float(str(sa_url.query["timeout"]))
            else:
                kwargs["connect_args"] = {"timeout": timeout}
        else:
            kwargs["connect_args"] = {"connect_timeout": max(1, round(timeout)), "application_name": "kubefort"}
        engine = create_engine(sa_url, **kwargs)
        if engine.dialect.name == "sqlite":
            _sqlite_events(engine, timeout)
        store = cls(engine, real, timeout)
        try:
            store._migrate()
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()

    def _migrate(self) -> None:
        from kubefort.history import migrate

        # the usual case, without a write lock: the schema is current
        with _errors(self, "cannot open the store"), self._engine.connect() as conn:
            if migrate.current_revisions(conn.execution_options(kubefort_read=True)) == [migrate.HEAD]:
                return
        with _errors(self, "cannot open the store"), self._engine.begin() as conn:
            if self.dialect == "postgresql":
                from sqlalchemy import text

                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            migrate.upgrade(conn, self.url)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with _errors(self, "cannot read the store"), self._engine.connect() as conn:
            yield conn.execution_options(kubefort_read=True)

    # -- writing ------------------------------------------------------------------------------
    def record(
        self,
        result: ScanResult,
        registry: Registry,
        *,
        kind: str,
        target: TargetLabel,
        complete: bool | None = None,
    ) -> ScanRow:
        """Store `result` as one scan of `target`, in one transaction, and track its findings.
        `complete` overrides the result's own completeness (False when nothing was evaluated)."""
        from kubefort.history import tracking

        if kind not in SCAN_KINDS:
            raise ValueError(f"unknown scan kind {kind!r} (one of {', '.join(SCAN_KINDS)})")
        prepared = tracking.prepare(result, registry, kind=kind, target=target, complete=complete)
        with _errors(self, "cannot store the scan in"), self._engine.begin() as conn:
            return tracking.write(conn, prepared, lock_timeout=self.timeout)

    # -- reading -----------------------------------------------------------------------------
    def targets(self) -> list[TargetRow]:
        from sqlalchemy import select

        from kubefort.history.schema import target

        with self._read() as conn:
            rows = conn.execute(select(target.c.key, target.c.kind, target.c.labels).order_by(target.c.key))
            return [TargetRow(r.key, r.kind, dict(r.labels or {})) for r in rows]

    def scans(self, *, target: str | None = None, since: float | None = None) -> list[ScanRow]:
        """Every stored scan (of `target`; finished at or after `since`), oldest first."""
        from kubefort.history import schema as s

        q = _scan_select()
        if target is not None:
            q = q.where(s.target.c.key == target)
        if since is not None:
            q = q.where(s.scan.c.finished_at >= since)
        with self._read() as conn:
            return [_scan_row(r) for r in conn.execute(q.order_by(s.scan.c.finished_at, s.scan.c.id))]

    def scan(self, ref: str) -> ScanRow:
        """One scan by reference: its uid, a unique uid prefix (6 characters or more), `latest`,
        `TARGET@latest`, or `TARGET@-N` (the Nth scan of TARGET before its latest)."""
        with self._read() as conn:
            return _scan_row(_find_scan(conn, ref))

    def findings(self, *, target: str | None = None, state: str | None = None) -> list[FindingRow]:
        """Every tracked finding (of `target`; `open` or `fixed` ones)."""
        from kubefort.history import schema as s

        q = _finding_select()
        if target is not None:
            q = q.where(s.target.c.key == target)
        if state is not None:
            q = q.where(s.finding.c.state == state)
        with self._read() as conn:
            return [_finding_row(r) for r in conn.execute(q.order_by(s.finding.c.id))]

    def episodes(self, *, target: str | None = None, since: float | None = None) -> list[EpisodeRow]:
        """Open..fixed intervals of findings (of `target`); with `since`, those still open at or
        after it (fixed at or after `since`, or not fixed)."""
        from sqlalchemy import or_, select

        from kubefort.history import schema as s

        q = (
            select(
                s.finding.c.fingerprint,
                s.target.c.key,
                s.finding.c.check_id,
                s.finding.c.severity,
                s.episode.c.opened_at,
                s.episode.c.fixed_at,
            )
            .select_from(s.episode.join(s.finding).join(s.target))
            .order_by(s.episode.c.opened_at, s.episode.c.id)
        )
        if target is not None:
            q = q.where(s.target.c.key == target)
        if since is not None:
            q = q.where(or_(s.episode.c.fixed_at.is_(None), s.episode.c.fixed_at >= since))
        with self._read() as conn:
            return [EpisodeRow(r[0], r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(q)]

    def scan_findings(self, uid: str) -> list[FindingRow]:
        """The findings present in one scan (by uid or any `scan()` reference), as tracked now."""
        from kubefort.history import schema as s

        with self._read() as conn:
            row = _find_scan(conn, uid)
            found = conn.execute(s.scan.select().with_only_columns(s.scan.c.findings).where(s.scan.c.uid == row.uid))
            ids = set(s.unpack_ids(found.scalar_one()))
            q = _finding_select().where(s.finding.c.target_id == row.target_id).order_by(s.finding.c.id)
            return [_finding_row(r) for r in conn.execute(q) if r.id in ids]


def _json_dumps(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


MIGRATION_LOCK = 0x6B66_6869  # "kfhi": the PostgreSQL advisory lock kubefort migrates under


def _sqlite_events(engine: Engine, timeout: float) -> None:
    """SQLite as a store: WAL (readers never wait for a writer), a busy timeout, foreign keys,
    and `BEGIN IMMEDIATE` for every writing transaction: the write lock is taken first, so two
    writers queue instead of one failing when it upgrades its read lock."""
    from sqlalchemy import event

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's BEGIN below, not pysqlite's own
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across crashes of kubefort
        cur.execute("PRAGMA cache_size = -65536")  # 64 MiB: the finding index of a large target stays in memory
        cur.close()

    def on_begin(conn: Connection) -> None:
        read = conn.get_execution_options().get("kubefort_read")
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)


def _scan_select() -> Any:
    from sqlalchemy import select

    from kubefort.history import schema as s

    c = s.scan.c
    return select(
        c.id,
        c.target_id,
        c.uid,
        s.target.c.key,
        c.kind,
        c.finished_at,
        c.stored_at,
        c.complete,
        c.tool_version,
        c.labels,
        c.summary,
        c.objects_by_kind,
        c.check_counts,
        c.metrics,
    ).select_from(s.scan.join(s.target))


def _scan_row(r: Row[Any]) -> ScanRow:
    return ScanRow(
        uid=r.uid,
        target=r.key,
        kind=r.kind,
        finished_at=float(r.finished_at),
        stored_at=float(r.stored_at),
        complete=bool(r.complete),
        tool_version=r.tool_version,
        labels=dict(r.labels or {}),
        summary=dict(r.summary or {}),
        objects_by_kind=dict(r.objects_by_kind or {}),
        check_counts=dict(r.check_counts or {}),
        metrics=list(r.metrics or []),
    )


def _finding_select() -> Any:
    from sqlalchemy import select

    from kubefort.history import schema as s

    return select(s.finding, s.target.c.key.label("target_key")).select_from(s.finding.join(s.target))


def _finding_row(r: Row[Any]) -> FindingRow:
    return FindingRow(
        fingerprint=r.fingerprint,
        target=r.target_key,
        check_id=r.check_id,
        severity=r.severity,
        resource={"apiVersion": r.api_version, "kind": r.kind, "namespace": r.namespace, "name": r.name},
        container=r.container,
        file=r.file,
        line=r.line,
        path=r.path,
        message=r.message,
        remediation=r.remediation,
        state=r.state,
        first_seen_at=float(r.first_seen_at),
        last_seen_at=float(r.last_seen_at),
        fixed_at=None if r.fixed_at is None else float(r.fixed_at),
        observed_at=None if r.observed_at is None else float(r.observed_at),
        reopened=int(r.reopened),
    )


_RELATIVE = re.compile(r"^(?P<target>.+)@(?P<which>latest|-\d+)$")


def _find_scan(conn: Connection, ref: str) -> Row[Any]:
    """The scan row `ref` names (see `Store.scan`), or StoreError."""
    from kubefort.history import schema as s

    ref = ref.strip()
    order = (s.scan.c.finished_at.desc(), s.scan.c.id.desc())
    if ref == "latest":
        row = conn.execute(_scan_select().order_by(*order).limit(1)).first()
        if row is None:
            raise StoreError("the store holds no scan yet")
        return row
    m = _RELATIVE.match(ref)
    if m:
        back = 0 if m["which"] == "latest" else int(m["which"][1:])
        q = _scan_select().where(s.target.c.key == m["target"]).order_by(*order).offset(back).limit(1)
        row = conn.execute(q).first()
        if row is None:
            have = conn.execute(
                s.scan.select().with_only_columns(s.scan.c.id).join(s.target).where(s.target.c.key == m["target"])
            ).all()
            if not have:
                raise StoreError(f"no scan of target {m['target']!r} in the store (see `kubefort metrics` for targets)")
            raise StoreError(f"target {m['target']!r} has {len(have)} scans: {ref} is before the first")
        return row
    key = ref.lower()
    if len(key) < MIN_PREFIX or not re.fullmatch(r"[0-9a-f]+", key):
        raise StoreError(
            f"unknown scan {ref!r}: give a scan id (or its first {MIN_PREFIX}+ characters), latest, or TARGET@latest"
        )
    rows = conn.execute(_scan_select().where(s.scan.c.uid.startswith(key, autoescape=True)).limit(3)).all()
    if not rows:
        raise StoreError(f"unknown scan {ref!r}: no stored scan id starts with it")
    if len(rows) > 1:
        raise StoreError(f"scan id prefix {ref!r} is ambiguous ({', '.join(r.uid for r in rows[:2])}, ...)")
    return rows[0]
