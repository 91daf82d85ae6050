"""Schemathesis against the service on PostgreSQL."""

from tests.fuzzing import FuzzContract


class TestFuzzOnPostgres(FuzzContract):
    pass
