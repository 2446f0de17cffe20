"""Schema migrations of the history store (Alembic, configured in code: no alembic.ini).

`upgrade(conn, where)` runs when a store is opened, inside the caller's transaction (serialised:
SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so two kubefort processes opening a new
database at once create it once. A database whose revision this kubefort does not know was
written by a newer one: it is refused, never touched. A database that is not a kubefort store
(another application's SQLite file, kubefort's tables without kubefort's version table) is
refused too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from kubefort.history.schema import TABLES
from kubefort.history.store import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "kubefort_alembic_version"
HEAD = "0001"  # the newest revision in migrations/versions (tests/test_history_store.py holds them equal)
SCRIPT_LOCATION = "kubefort.history:migrations"


def _alembic_config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def known_revisions() -> set[str]:
    """Every revision this kubefort ships."""
    from alembic.script import ScriptDirectory

    cfg = _alembic_config()
    return {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}


def heads() -> list[str]:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config()
    return list(ScriptDirectory.from_config(cfg).get_heads())


def current_revisions(conn: Connection) -> list[str] | None:
    """The revisions recorded in the database, or None when it has no kubefort version table."""
    if VERSION_TABLE not in inspect(conn).get_table_names():
        return None
    return [str(r) for r in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()]  # noqa: S608 - a constant


def upgrade(conn: Connection, where: str) -> None:
    """Bring the database behind `conn` (in a transaction) to HEAD; `where` names it in errors."""
    current = current_revisions(conn)
    if current == [HEAD]:
        return  # the usual case: nothing of Alembic is imported
    if current is None:
        names = set(inspect(conn).get_table_names())
        ours = sorted(names & set(TABLES))
        if ours:
            raise StoreError(
                f"{where} has tables named like kubefort's ({', '.join(ours)}) but no {VERSION_TABLE}: "
                "not a history store kubefort created; use another database"
            )
        if names and conn.dialect.name == "sqlite":
            listed = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
            raise StoreError(f"{where} is a SQLite database of something else (tables: {listed}), not a kubefort store")
    else:
        unknown = sorted(set(current) - known_revisions())
        if unknown:
            raise StoreError(
                f"{where} was written by a newer kubefort (schema revision {unknown[0]}); upgrade kubefort to use it"
            )
    from alembic import command

    command.upgrade(_alembic_config(conn), "head")
