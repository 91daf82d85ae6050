"""What travels over HTTP: ids, queries, request and response bodies, validated by the domain's
own rules."""

from datetime import datetime
from typing import Annotated, Self

from fastapi import Path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from users.domain.model import (
    EMAIL_MAX_LENGTH,
    MAX_USER_ID,
    NAME_MAX_LENGTH,
    Email,
    User,
    parse_name,
)
from users.domain.services import UserPage


def _parse_email(value: object) -> Email:
    if not isinstance(value, str):
        raise ValueError("email must be a string")
    return Email.parse(value)


def _parse_name(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("name must be a string")
    return parse_name(value)


def _digits_only(value: object) -> object:
    # Lax integer parsing would also take "+1", " 1", "1.0" and "1_000" for 1.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be written in digits only")
    return value


def _utc_timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# "idn-email", not "email": addresses may be internationalized (Ünïcode@bücher.de).
EMAIL_FORMAT = "idn-email"
EMAIL_SCHEMA = WithJsonSchema(
    {"type": "string", "format": EMAIL_FORMAT, "maxLength": EMAIL_MAX_LENGTH}
)
# The name rule of `parse_name`, spelled as a regular expression for the document's readers:
# surrounding white space (as str.strip() sees it), then 1 to 100 characters that are not
# control characters, starting and ending with one that is not white space. (Lone surrogates,
# which JSON can escape but no text can hold, are refused too; ECMA regexes cannot say so.)
# tests/fuzz/test_properties.py proves both classes on every character.
WHITE_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
CONTROL = r"\x00-\x1f\x7f-\x9f"
NAME_PATTERN = (
    f"^[{WHITE_SPACE}]*[^{CONTROL}{WHITE_SPACE}]"
    f"(?:[^{CONTROL}]{{0,{NAME_MAX_LENGTH - 2}}}[^{CONTROL}{WHITE_SPACE}])?[{WHITE_SPACE}]*$"
)
NAME_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "minLength": 1,
        "pattern": NAME_PATTERN,
        "description": f"1 to {NAME_MAX_LENGTH} characters after trimming, no control characters",
    }
)

# The validators refuse anything but a string, `null` included: an update leaves a field
# unchanged by omitting it, never by sending null.
EmailIn = Annotated[Email, PlainValidator(_parse_email), EMAIL_SCHEMA]
NameIn = Annotated[str, PlainValidator(_parse_name), NAME_SCHEMA]
OptionalEmailIn = Annotated[Email | None, PlainValidator(_parse_email), EMAIL_SCHEMA]
OptionalNameIn = Annotated[str | None, PlainValidator(_parse_name), NAME_SCHEMA]
Timestamp = Annotated[
    datetime,
    PlainSerializer(_utc_timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
DIGITS_ONLY = BeforeValidator(_digits_only)
UserId = Annotated[int, Path(ge=1, le=MAX_USER_ID, description="The user's id."), DIGITS_ONLY]


class UserQuery(BaseModel):
    """Which users to list: a page after a cursor, or the one with an address."""

    limit: Annotated[int, DIGITS_ONLY] = Field(50, ge=1, le=100, description="Users per page.")
    after: Annotated[int, DIGITS_ONLY] = Field(
        0, ge=0, le=MAX_USER_ID, description="The `next_after` of the last page."
    )
    email: OptionalEmailIn = Field(None, description="Find the user with this address, any case.")


class UserCreate(BaseModel):
    """A user to register; unknown fields are ignored."""

    name: NameIn
    email: EmailIn


class UserUpdate(BaseModel):
    """The fields to change, at least one; unknown fields are ignored."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    name: OptionalNameIn = None
    email: OptionalEmailIn = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_fields_set & {"name", "email"}:
            raise ValueError("give a name, an email or both")
        return self


class UserOut(BaseModel):
    """A user as every endpoint returns it."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    id: int = Field(ge=1)
    name: str
    email: str = Field(json_schema_extra={"format": EMAIL_FORMAT})
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, user: User) -> "UserOut":
        return cls(
            id=user.id,
            name=user.name,
            email=user.email.address,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class UserPageOut(BaseModel):
    """One page of users in id order, and the cursor of the next page (`null` on the last)."""

    items: list[UserOut]
    next_after: int | None

    @classmethod
    def of(cls, page: UserPage) -> "UserPageOut":
        return cls(items=[UserOut.of(user) for user in page.items], next_after=page.next_after)


class ErrorOut(BaseModel):
    """The body of every error but 422."""

    detail: str


class LiveOut(BaseModel):
    """The process answers."""

    status: str


class HealthOut(LiveOut):
    """The service and its database answer."""

    database: str


class HealthDownOut(HealthOut):
    """The service cannot serve users now; `database` says why."""

    detail: str
