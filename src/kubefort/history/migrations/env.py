"""Alembic environment for the history store: run on the connection `kubefort.history.migrate`
hands over (no alembic.ini, no URL of its own); the version table is kubefort's own, so a
PostgreSQL database that another application migrates with Alembic keeps its `alembic_version`."""

from __future__ import annotations

from alembic import context

from kubefort.history.migrate import VERSION_TABLE
from kubefort.history.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
