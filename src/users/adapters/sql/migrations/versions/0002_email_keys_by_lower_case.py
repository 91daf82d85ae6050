"""Key email addresses by Unicode lower-case mapping and NFC, not by full case folding.

Case folding made `straße@…` and `strasse@…`, or `ﬁle@…` and `file@…`, one address; they are
different people. Every stored key is recomputed by the service's own `email_key`; the migration
refuses, changing nothing, if two rows would share one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import unicodedata
from collections.abc import Callable, Sequence

from alembic import op
from sqlalchemy import Connection, bindparam, column, select, table, update

from users.adapters.sql.refusals import RowsRefused, same_address
from users.domain.model import email_key

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

# Only the columns a re-keying touches, so that later revisions may add others.
_users = table("users", column("id"), column("email"), column("email_key"))
_SET_KEY = (
    update(_users).where(_users.c.id == bindparam("row_id")).values(email_key=bindparam("new_key"))
)


def folded_key(address: str) -> str:
    """The key of revision 0001: full case folding, then NFC."""
    return unicodedata.normalize("NFC", address.casefold())


def upgrade() -> None:
    # The service's own rule, as it is in the build that runs this: whatever the revision a
    # database comes from, at head its keys are the ones that build computes.
    rekey_emails(op.get_bind(), email_key)


def downgrade() -> None:
    rekey_emails(op.get_bind(), folded_key)


def rekey_emails(connection: Connection, key_of: Callable[[str], str]) -> None:
    """Recompute every row's email key with `key_of`; refuse if two rows would get one key."""
    rows = connection.execute(select(_users.c.id, _users.c.email, _users.c.email_key)).all()
    rekeyed = [(row.id, row.email, key_of(row.email)) for row in rows]
    if offences := same_address(rekeyed):
        raise RowsRefused(
            "cannot recompute the email keys",
            offences,
            "Merge or delete one user of each group, then migrate again.",
        )
    changed = [
        (user_id, key)
        for (user_id, _, key), row in zip(rekeyed, rows, strict=True)
        if key != row.email_key
    ]
    if changed:
        # In two steps, so that no row takes a key that another has not let go of yet.
        # A placeholder has no "@", so it cannot be any address's key.
        connection.execute(
            _SET_KEY, [{"row_id": i, "new_key": f"rekeying {i}"} for i, _ in changed]
        )
        connection.execute(_SET_KEY, [{"row_id": i, "new_key": key} for i, key in changed])
