"""Safe retries: a write sent under an idempotency key happens once, and its outcome is kept.

A retry with the same key and the same request gets the first outcome again; the same key with
another request is refused, and so is a retry while the first attempt is still running.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from users.domain.errors import IdempotencyKeyReused, Refusal, RequestInProgress
from users.domain.model import User

KEY_MAX_LENGTH = 255
KEY_PATTERN = rf"^[\x20-\x7e]{{1,{KEY_MAX_LENGTH}}}$"
"""What a key may be: 1 to 255 printable ASCII characters."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a write ended: the user it answered with, or the refusal it raised."""

    user: User | None = None
    refusal: type[Refusal] | None = None

    def replay(self) -> User:
        """The user again, or the refusal raised again."""
        if self.refusal is not None:
            raise self.refusal()
        assert self.user is not None, "an outcome is a user or a refusal"
        return self.user


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """The request an idempotency key stands for, its attempt's start and its outcome (`None`
    while the attempt runs). The record expires at `expires_at`: the end of the attempt's lease,
    then of the retention window."""

    key: str
    fingerprint: str
    started_at: datetime
    expires_at: datetime
    outcome: Outcome | None = None

    def answer_to(self, fingerprint: str) -> User:
        """What a request with this key and `fingerprint` gets while this record holds it."""
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()
        if self.outcome is None:
            raise RequestInProgress()
        return self.outcome.replay()


def fingerprint(*request: object) -> str:
    """A digest of what a request asks for (its operation and its normalized arguments, which
    JSON must be able to hold): two requests asking for the same thing share it."""
    return hashlib.sha256(json.dumps(request, separators=(",", ":")).encode()).hexdigest()
