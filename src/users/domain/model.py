"""The user entity and the values it is made of."""

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Self

from email_validator import EmailNotValidError, validate_email

from users.domain.errors import InvalidEmail, InvalidName

NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
# Ids are stored as signed 64-bit integers; anything larger can name no user.
MAX_USER_ID = 2**63 - 1
# A user's version counts its writes: 1 when registered, one more on each update. Versions
# are stored as signed 64-bit integers, as ids are: no user is updated that often.
FIRST_VERSION = 1
MAX_VERSION = 2**63 - 1

# Control characters, and lone surrogates that no store can encode.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})


def parse_name(raw: str) -> str:
    """Return the name trimmed of surrounding white space, or raise `InvalidName`."""
    name = raw.strip()
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise InvalidName(f"name must be 1 to {NAME_MAX_LENGTH} characters after trimming")
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in name):
        raise InvalidName("name must not contain control characters")
    return name


def email_key(address: str) -> str:
    """The form under which two addresses are one: Unicode lower-case mapping, then NFC.

    This is the case mapping of PRECIS `UsernameCaseMapped` (RFC 8265). Full case folding would
    make `straße` and `strasse`, or `ﬁle` and `file`, one mailbox; they are different people.
    """
    return unicodedata.normalize("NFC", address.lower())


@dataclass(frozen=True, slots=True)
class Email:
    """A syntactically valid, normalized email address and its uniqueness key."""

    address: str
    key: str

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Validate and normalize `raw` (no DNS look-up), or raise `InvalidEmail`."""
        try:
            # Strict mode only adds the 64-character limit of the local part. The whole address
            # is held to EMAIL_MAX_LENGTH characters (RFC 5321) by email-validator itself.
            address = validate_email(
                raw.strip(), check_deliverability=False, strict=True
            ).normalized
        except EmailNotValidError as error:
            raise InvalidEmail(str(error)) from None
        return cls(address, email_key(address))


@dataclass(frozen=True, slots=True)
class User:
    """A registered user."""

    id: int
    name: str
    email: Email
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user about to be registered: valid, but with no id yet."""

    name: str
    email: Email
    created_at: datetime

    @property
    def updated_at(self) -> datetime:
        """A new user was last changed when it was created."""
        return self.created_at

    def stored_as(self, user_id: int) -> User:
        """The user this becomes once a store gives it `user_id`: at its first version."""
        return User(user_id, self.name, self.email, self.created_at, self.updated_at, FIRST_VERSION)


@dataclass(frozen=True, slots=True)
class UserChanges:
    """What an update sets; a field left `None` keeps its value."""

    updated_at: datetime
    name: str | None = None
    email: Email | None = None


@dataclass(frozen=True, slots=True)
class Precondition:
    """The versions of a user a conditional write may change: one of `only` (any version when
    `None`), and none of `excluded`."""

    only: frozenset[int] | None = None
    excluded: frozenset[int] = frozenset()

    def allows(self, version: int) -> bool:
        """Whether a user at `version` may be changed."""
        return (self.only is None or version in self.only) and version not in self.excluded
