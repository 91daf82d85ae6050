"""The contract suites: each runs unchanged against every store, so the fake cannot drift.

- `repository`: the repository and unit-of-work ports, on the fake (`tests/unit`), SQLite and
  PostgreSQL (`tests/integration`).
- `http`: every row of `docs/api.md`, on the fake (`tests/unit`), PostgreSQL
  (`tests/integration`), and over real HTTP against `users-api serve --workers 2`.
- `fuzz`: Schemathesis from the live OpenAPI document, on the fake and PostgreSQL (`tests/fuzz`).
"""
