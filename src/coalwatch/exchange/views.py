"""Read-only tables for platforms that read databases: the versioned views of the exchange
(created by the migrations) and a database role that may read them and nothing else."""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from coalwatch.errors import Invalid

#: version 1 (migration 0027): columns fixed; a change is a new version of views
VIEWS = (
    "exchange_v1_points",
    "exchange_v1_realtime",
    "exchange_v1_hourly",
    "exchange_v1_daily",
    "exchange_v1_statistics",
    "exchange_v1_alarms",
)
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_reader_role(engine: Engine, role: str, password: str) -> str:
    """Create (or update) the login role ``role`` that may read the views and nothing
    else, in the schema the center's tables live in; answer that schema."""
    if engine.dialect.name != "postgresql":
        raise Invalid("a read-only role needs PostgreSQL (SQLite has no roles)")
    if not ROLE_NAME.match(role):
        raise Invalid(f"role {role!r}: lower-case letters, digits and _ (at most 63)")
    if len(password) < 12:
        raise Invalid("the role's password needs at least 12 characters")
    with engine.begin() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        exists = connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        # the password as a literal: utility statements take no bound parameters
        quoted = connection.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar_one()
        verb = "ALTER" if exists else "CREATE"
        connection.execute(
            text(
                f'{verb} ROLE "{role}" LOGIN PASSWORD {quoted} '
                "NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT"
            )
        )
        connection.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"'))
        connection.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        for view in VIEWS:
            connection.execute(text(f'GRANT SELECT ON "{schema}".{view} TO "{role}"'))
        connection.execute(text(f'ALTER ROLE "{role}" SET default_transaction_read_only = on'))
    return str(schema)
