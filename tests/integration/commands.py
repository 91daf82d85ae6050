"""The service's commands, run as an operator runs them: a process of their own."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import URL

USERS_API = str(Path(sys.executable).parent / "users-api")


def users_api(
    *args: str, database_url: URL | str, **variables: str
) -> subprocess.CompletedProcess[str]:
    """Run `users-api` on `database_url`, with `variables` (USERS_*) set, and wait for it."""
    url = (
        database_url
        if isinstance(database_url, str)
        else database_url.render_as_string(hide_password=False)
    )
    return subprocess.run(
        [USERS_API, *args],
        env={**os.environ, "USERS_DATABASE_URL": url, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
