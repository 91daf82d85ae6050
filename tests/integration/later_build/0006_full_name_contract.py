"""Rename users.name to full_name, step 2 of 2: drop name, which only builds before 0005 read.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "contract"


def upgrade() -> None:
    op.execute("DROP TRIGGER users_full_name_in_step ON users")
    op.execute("DROP FUNCTION users_full_name_in_step()")
    op.drop_column("users", "name")


def downgrade() -> None:
    """Back to 0005's schema, where builds before it serve again."""
    op.add_column("users", sa.Column("name", sa.String(100), nullable=True))
    op.execute("UPDATE users SET name = full_name")
    scripts = op.get_context().script
    assert scripts is not None, "run by Alembic's environment"
    expand = scripts.get_revision("0005").module
    op.execute(expand.IN_STEP)
    op.execute(expand.TRIGGER)
