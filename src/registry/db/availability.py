"""Which failures of the database mean it cannot serve now, rather than that something is
wrong with the request or the code: a timeout that fired (statement, lock, idle transaction,
waiting for a connection), a connection lost or refused, a server out of resources or shutting
down. A request that meets one answers 503 with ``Retry-After`` and changes nothing (its
transaction rolls back); every other error stays what it is (a bug is a 500, not a 503).

SQLAlchemy wraps the driver's errors (``DBAPIError.orig`` is its adapter's error, whose cause
is asyncpg's); the fast path meets asyncpg's own. Both are recognised here, by the SQLSTATE
PostgreSQL sent or by the kind of failure the driver met."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import structlog
from sqlalchemy import exc

from registry.errors import DomainError, ServiceUnavailable

log = structlog.get_logger("registry.db")

#: SQLSTATE classes that say the server cannot serve now: 08 connection exception, 53
#: insufficient resources (disk full, out of memory, too many connections), 57 operator
#: intervention (statement timeout or cancel, shutdown, idle session timeout), 58 system
#: error (I/O); with what the log says of each.
_UNAVAILABLE_CLASSES = {
    "08": "connection lost",
    "53": "server out of resources",
    "57": "server shutting down",
    "58": "server system error",
}
#: Single conditions that say more than their class, or the same from another class.
_UNAVAILABLE_STATES = {
    "57014": "statement timeout",  # query_canceled: the timeout, or a cancel request
    "57P01": "connection terminated",  # admin_shutdown: also pg_terminate_backend
    "55P03": "lock timeout",  # lock_not_available
    "25P03": "idle transaction timeout",  # idle_in_transaction_session_timeout
    "40001": "serialization failure",  # the transaction can be retried as it is
    "40P01": "deadlock",  # one of the transactions was chosen to roll back
}

#: What the driver raises when a connection it uses is broken (or misused: hence only with
#: the connection found closed).
_DRIVER_ERRORS = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)


def unavailability(error: BaseException, *, connection_closed: bool = False) -> str | None:
    """Why ``error`` means the database cannot serve now (a few words for the log), or
    ``None`` when it does not. ``connection_closed``: the driver's connection was found
    closed after the error (an error met on it directly passes SQLAlchemy by)."""
    for cause in _causes(error):
        if isinstance(cause, exc.TimeoutError):
            return "no connection free in time"
        if isinstance(cause, exc.DBAPIError) and cause.connection_invalidated:
            return "connection lost"
        if isinstance(cause, asyncpg.PostgresError):
            state = str(getattr(cause, "sqlstate", "") or "")
            if state in _UNAVAILABLE_STATES:
                return _UNAVAILABLE_STATES[state]
            if state[:2] in _UNAVAILABLE_CLASSES:
                return _UNAVAILABLE_CLASSES[state[:2]]
        if connection_closed and isinstance(cause, _DRIVER_ERRORS):
            return "connection lost"
        if isinstance(cause, TimeoutError):  # opening a connection took too long
            return "connecting timed out"
        if isinstance(cause, OSError):  # refused, reset, unreachable
            return "cannot connect"
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, then what it wraps (SQLAlchemy's ``orig``) and what caused it, in turn."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = getattr(current, "orig", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__


def unavailable(error: Exception, *, connection_closed: bool = False) -> ServiceUnavailable | None:
    """The 503 to answer in place of ``error`` when the database cannot serve now (and an
    error line in the log: the kind of failure, never the statement or its values); ``None``
    when ``error`` is anything else (an answer the code chose, such as a 409, stays that)."""
    if isinstance(error, DomainError):
        return None
    reason = unavailability(error, connection_closed=connection_closed)
    if reason is None:
        return None
    sqlstate = next(
        (
            str(cause.sqlstate)
            for cause in _causes(error)
            if isinstance(cause, asyncpg.PostgresError) and getattr(cause, "sqlstate", None)
        ),
        None,
    )
    log.error("database_unavailable", reason=reason, error=type(error).__name__, sqlstate=sqlstate)
    return ServiceUnavailable(
        "The database cannot serve this request now; nothing was changed. "
        "Try again after the time Retry-After gives."
    )
