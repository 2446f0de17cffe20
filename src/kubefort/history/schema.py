"""The history store's tables: one SQLAlchemy Core schema for SQLite and PostgreSQL.

Changing a table means a new Alembic revision in `migrations/versions/` (and `migrate.HEAD`):
a store is upgraded when it is opened, and history is never lost.

* `target`: what was scanned (a repository, a path, a cluster, a node, an audit source), by key.
* `scan`: one row per recorded scan, immutable; per-scan aggregates are computed when it is
  recorded (summary, objects by kind, check counts, metrics) so that reading a thousand scans
  never reads their findings. `findings` holds the ids of the scan's findings (`pack_ids`).
* `finding`: one row per (target, fingerprint): first and last seen, open or fixed, reopened.
* `episode`: one row per open..fixed interval of a finding (time to remediate).
"""

from __future__ import annotations

import sys
import zlib
from array import array
from itertools import accumulate

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

target = Table(
    "target",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(1024), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("labels", JSON, nullable=False),
)

scan = Table(
    "scan",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(32), nullable=False, unique=True),
    Column("target_id", Integer, ForeignKey("target.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("stored_at", Float, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("tool_version", String(64), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("objects_by_kind", JSON, nullable=False),
    Column("check_counts", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("findings", LargeBinary, nullable=False),
    Index("ix_scan_target_finished", "target_id", "finished_at"),
    Index("ix_scan_finished", "finished_at"),
)

finding = Table(
    "finding",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target_id", Integer, ForeignKey("target.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("check_id", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("api_version", Text),
    Column("kind", Text),
    Column("namespace", Text),
    Column("name", Text),
    Column("container", Text),
    Column("file", Text),
    Column("line", Integer),
    Column("path", Text),
    Column("message", Text, nullable=False),
    Column("remediation", Text, nullable=False),
    Column("first_seen_scan", Integer, ForeignKey("scan.id"), nullable=False),
    Column("first_seen_at", Float, nullable=False),
    Column("last_seen_scan", Integer, ForeignKey("scan.id"), nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("state", String(8), nullable=False),
    Column("fixed_at", Float),
    Column("observed_at", Float),
    Column("reopened", Integer, nullable=False, default=0),
    UniqueConstraint("target_id", "fingerprint", name="uq_finding_target_fingerprint"),
    Index("ix_finding_target_state", "target_id", "state"),
)

episode = Table(
    "episode",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("finding_id", Integer, ForeignKey("finding.id"), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("opened_scan", Integer, ForeignKey("scan.id"), nullable=False),
    Column("fixed_at", Float),
    Column("fixed_scan", Integer, ForeignKey("scan.id")),
    Index("ix_episode_finding", "finding_id"),
    Index("ix_episode_fixed", "fixed_at"),
)

TABLES = ("target", "scan", "finding", "episode")


def pack_ids(ids: list[int]) -> bytes:
    """Finding ids as stored in `scan.findings`: sorted, delta-encoded little-endian int64s, zlib
    (a 10,000-finding scan takes a few kB)."""
    ordered = sorted(ids)
    deltas = array("q", [b - a for a, b in zip([0, *ordered], ordered, strict=False)])
    if sys.byteorder == "big":
        deltas.byteswap()
    return zlib.compress(deltas.tobytes(), 1)


def unpack_ids(blob: bytes) -> list[int]:
    """The inverse of `pack_ids`."""
    deltas = array("q")
    deltas.frombytes(zlib.decompress(blob))
    if sys.byteorder == "big":
        deltas.byteswap()
    return list(accumulate(deltas))
