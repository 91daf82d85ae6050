"""Rename users.name to full_name, step 1 of 2: add full_name, kept equal to name by the
database whichever build writes, filled in for the rows stored before, and indexed.

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
CREATE FUNCTION users_full_name_in_step() RETURNS trigger LANGUAGE plpgsql AS $$
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
    "CREATE TRIGGER users_full_name_in_step BEFORE INSERT OR UPDATE ON users "
    "FOR EACH ROW EXECUTE FUNCTION users_full_name_in_step()"
)


def upgrade() -> None:
    op.add_column("users", sa.Column("full_name", sa.String(100), nullable=True))
    op.execute(IN_STEP)
    op.execute(TRIGGER)
    # One statement: fine for a test's table; a large one is filled in batches.
    op.execute("UPDATE users SET full_name = name WHERE full_name IS NULL")
    with op.get_context().autocommit_block():
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
