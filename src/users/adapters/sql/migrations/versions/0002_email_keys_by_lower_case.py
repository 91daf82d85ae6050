"""Key email addresses by Unicode lower-case mapping and NFC, not by full case folding.

Case folding made `straße@…` and `strasse@…`, or `ﬁle@…` and `file@…`, one address; they are
different people. Every stored key is recomputed by the service's own `email_key`; the migration
refuses, changing nothing, if two rows would share one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import unicodedata
from collections.abc import Sequence

from alembic import op

from users.adapters.sql.stored_users import rekey_emails
from users.domain.model import email_key

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def folded_key(address: str) -> str:
    """The key of revision 0001: full case folding, then NFC."""
    return unicodedata.normalize("NFC", address.casefold())


def upgrade() -> None:
    # The service's own rule, as it is in the build that runs this: whatever the revision a
    # database comes from, at head its keys are the ones that build computes.
    rekey_emails(op.get_bind(), email_key)


def downgrade() -> None:
    rekey_emails(op.get_bind(), folded_key)
