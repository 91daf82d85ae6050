"""Fixtures every layer may ask for: PostgreSQL's come from `tests.postgres`, started only when
a test needs them."""

pytest_plugins = ["tests.postgres", "tests.replication"]
