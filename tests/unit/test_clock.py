"""The system clock (`adapters/clock.py`): the times the service stamps users with."""

import time
from datetime import timedelta

from users.adapters.clock import system_clock


def test_the_system_clock_tells_the_time_in_utc_with_its_zone() -> None:
    now = system_clock()

    assert now.utcoffset() == timedelta(0)
    assert abs(now.timestamp() - time.time()) < 5
