"""The system clock, as the domain's `Clock`."""

from datetime import UTC, datetime


def system_clock() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)
