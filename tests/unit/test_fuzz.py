"""Schemathesis against the service on the in-memory store."""

from tests.fuzzing import FuzzContract


class TestFuzzInMemory(FuzzContract):
    pass
