"""Database: engine/session, table definitions and Alembic migrations (SQLite and PostgreSQL)."""
