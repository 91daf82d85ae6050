"""Record each schema step's phase, and the builds that serve, so that builds can share a
database across expand and contract steps.

`schema_steps` tells a build which later revisions are only expand steps away (it has never
seen their migration files); `serving_builds` lets `migrate --contract` see whether a build that
needs what a contract step removes still serves. The steps before this one are recorded by the
runner right after it (`schema.record_step`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "schema_steps",
        sa.Column("revision", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("revision", name="pk_schema_steps"),
    )
    op.create_table(
        "serving_builds",
        sa.Column("instance", sa.String(255), nullable=False),
        sa.Column("build", sa.String(32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance", name="pk_serving_builds"),
    )


def downgrade() -> None:
    op.drop_table("serving_builds")
    op.drop_table("schema_steps")
