"""What can go wrong in the domain, in the domain's words."""


class DomainError(Exception):
    """Base of every error the use cases raise on purpose."""


class InvalidUserData(DomainError, ValueError):
    """A value breaks a rule of the user model."""


class InvalidName(InvalidUserData):
    """A name is empty, too long or contains control characters."""


class InvalidEmail(InvalidUserData):
    """An email address is not syntactically valid."""


class Refusal(DomainError):
    """A request refused for what it asks, whatever the store's state: under an idempotency key,
    the refusal is the write's outcome, kept and given again to every retry.

    `kept_as` names it in a kept outcome; stored names never change. A refusal carries nothing
    else: a replay raises it again from its class alone.
    """

    kept_as: str


class UserNotFound(Refusal):
    """No user has the requested id."""

    kept_as = "user not found"


class EmailAlreadyRegistered(Refusal):
    """Another user already has this email address, in any letter case."""

    kept_as = "email already registered"


class UserChanged(Refusal):
    """The user is not at a version the write was made conditional on: someone changed it."""

    kept_as = "user changed"


class IdempotencyKeyReused(DomainError):
    """An idempotency key already names a different request."""


class RequestInProgress(DomainError):
    """Another request with the same idempotency key has not finished yet."""


class StoreUnavailable(DomainError):
    """The user store cannot be reached; the request may succeed later."""


class WriteInReadOnlyUnit(Exception):
    """A unit of work opened read-only was asked to write: a bug in the caller, not bad input."""
