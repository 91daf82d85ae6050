"""Rename users.name to full_name, step 1 of 2: add full_name, kept equal to name by the
database whichever build writes, filled in for the rows stored before, and indexed.

Safe to run again after a failure half-way: the index is built outside the step's transaction,
which commits what comes before it, so every part finds what an earlier try left.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

# An older build writes name, a newer one full_name: each write keeps the other in step.
IN_STEP = """
CREATE OR REPLACE FUNCTION users_full_name_in_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.full_name := coalesce(NEW.full_name, NEW.name);
        NEW.name := coalesce(NEW.name, NEW.full_name);
    ELSIF NEW.full_name IS DISTINCT FROM OLD.full_name THEN
        NEW.name := NEW.full_name;
    ELSIF NEW.name IS DISTINCT FROM OLD.name THEN
        NEW.full_name := NEW.name;
    END IF;
    RETURN NEW;
END $$
"""
TRIGGER = (
    "CREATE OR REPLACE TRIGGER users_full_name_in_step BEFORE INSERT OR UPDATE ON users "
    "FOR EACH ROW EXECUTE FUNCTION users_full_name_in_step()"
)

# A concurrent build that failed (its wait cut short, say) leaves an invalid index behind.
LEFT_INVALID = (
    "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass('ix_users_full_name')"
)


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("full_name", sa.String(100), nullable=True), if_not_exists=True
    )
    op.execute(IN_STEP)
    op.execute(TRIGGER)
    # One statement: fine for a test's table; a large one is filled in batches.
    op.execute("UPDATE users SET full_name = name WHERE full_name IS NULL")
    with op.get_context().autocommit_block():
        if op.get_bind().scalar(sa.text(LEFT_INVALID)):
            # safe: destructive-expand: an earlier try's unfinished index, which no one uses
            op.drop_index("ix_users_full_name", postgresql_concurrently=True)
        op.create_index(
            "ix_users_full_name",
            "users",
            ["full_name"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER users_full_name_in_step ON users")
    op.execute("DROP FUNCTION users_full_name_in_step()")
    op.drop_column("users", "full_name")
