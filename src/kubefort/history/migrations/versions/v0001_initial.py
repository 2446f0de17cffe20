"""The initial history schema: target, scan, finding, episode.

Revision ID: 0001
Revises:
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "target",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(1024), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
    )
    op.create_table(
        "scan",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("target_id", sa.Integer, sa.ForeignKey("target.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.Column("stored_at", sa.Float, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("objects_by_kind", sa.JSON, nullable=False),
        sa.Column("check_counts", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("findings", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_scan_target_finished", "scan", ["target_id", "finished_at"])
    op.create_index("ix_scan_finished", "scan", ["finished_at"])
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("target_id", sa.Integer, sa.ForeignKey("target.id"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("api_version", sa.Text),
        sa.Column("kind", sa.Text),
        sa.Column("namespace", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("container", sa.Text),
        sa.Column("file", sa.Text),
        sa.Column("line", sa.Integer),
        sa.Column("path", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("remediation", sa.Text, nullable=False),
        sa.Column("first_seen_scan", sa.Integer, sa.ForeignKey("scan.id"), nullable=False),
        sa.Column("first_seen_at", sa.Float, nullable=False),
        sa.Column("last_seen_scan", sa.Integer, sa.ForeignKey("scan.id"), nullable=False),
        sa.Column("last_seen_at", sa.Float, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("fixed_at", sa.Float),
        sa.Column("observed_at", sa.Float),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.UniqueConstraint("target_id", "fingerprint", name="uq_finding_target_fingerprint"),
    )
    op.create_index("ix_finding_target_state", "finding", ["target_id", "state"])
    op.create_table(
        "episode",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("finding_id", sa.Integer, sa.ForeignKey("finding.id"), nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("opened_scan", sa.Integer, sa.ForeignKey("scan.id"), nullable=False),
        sa.Column("fixed_at", sa.Float),
        sa.Column("fixed_scan", sa.Integer, sa.ForeignKey("scan.id")),
    )
    op.create_index("ix_episode_finding", "episode", ["finding_id"])
    op.create_index("ix_episode_fixed", "episode", ["fixed_at"])


def downgrade() -> None:
    for name in ("episode", "finding", "scan", "target"):
        op.drop_table(name)
