"""The schema's history, as Alembic migrations; `users.adapters.sql.schema` applies them."""
