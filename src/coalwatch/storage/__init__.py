"""Storage: the schema (SQLAlchemy 2 models), sessions and migrations (Alembic)."""
