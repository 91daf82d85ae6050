"""The unit suite proves that it reaches no network and no database."""

import socket
import sqlite3

import psycopg2
import pytest

from tests.unit.conftest import IsolationBreach


def test_a_tcp_connection_is_refused() -> None:
    with pytest.raises(IsolationBreach), socket.create_connection(("127.0.0.1", 5432)):
        pass


def test_a_postgresql_connection_is_refused() -> None:
    with pytest.raises(IsolationBreach):
        psycopg2.connect("host=127.0.0.1 user=postgres")


def test_a_sqlite_database_is_refused() -> None:
    with pytest.raises(IsolationBreach):
        sqlite3.connect(":memory:")
