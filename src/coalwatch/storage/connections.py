"""The connection a session's transaction runs on, for statements run beside the ORM."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.orm import Session

_CONNECTION = "coalwatch.connection"


def connection_of(session: Session) -> Connection:
    """``session.connection()``, kept for the session's innermost transaction: asking the
    session each time costs more than a small statement. Kept per savepoint too, not per
    transaction: the session begins a savepoint on the database only when it is asked
    for its connection, so a statement run on a connection kept from before the
    savepoint would not be undone by the savepoint's rollback."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    kept = session.info.get(_CONNECTION)
    if kept is not None and transaction is not None and kept[0] is transaction:
        connection: Connection = kept[1]
        if not connection.closed and connection.in_transaction():
            return connection
    connection = session.connection()
    session.info[_CONNECTION] = (
        session.get_nested_transaction() or session.get_transaction(),
        connection,
    )
    return connection


def transaction_failed(session: Session) -> bool:
    """The database refuses everything but a rollback in the session's transaction (a
    statement failed in it and was not undone; PostgreSQL's "in failed transaction"):
    a ``COMMIT`` now would roll back silently. Read off the driver, no round trip."""
    driver = connection_of(session).connection.driver_connection
    info = getattr(driver, "info", None)
    status = getattr(info, "transaction_status", None)
    return status is not None and status.name == "INERROR"
