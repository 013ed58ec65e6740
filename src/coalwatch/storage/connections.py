"""The connection a session's transaction runs on, for statements run beside the ORM."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.orm import Session

_CONNECTION = "coalwatch.connection"


def connection_of(session: Session) -> Connection:
    """``session.connection()``, kept for the session's transaction: asking the session
    each time costs more than a small statement (a transaction, savepoints included, runs
    on one connection; a new transaction asks again)."""
    transaction = session.get_transaction()
    kept = session.info.get(_CONNECTION)
    if kept is not None and transaction is not None and kept[0] is transaction:
        connection: Connection = kept[1]
        if not connection.closed and connection.in_transaction():
            return connection
    connection = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), connection)
    return connection
