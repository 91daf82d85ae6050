"""The SQL store: SQLAlchemy Core over PostgreSQL (psycopg2) or SQLite, schema owned by Alembic."""
