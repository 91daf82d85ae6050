"""Implementations of the domain's ports: in memory, and SQLAlchemy over PostgreSQL or SQLite."""
