"""Which database errors make a request answer 503 (the database cannot serve now) and which
stay what they are: a bug, or an answer the code chose, is never passed off as a 503."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc

from registry.db.availability import unavailability, unavailable
from registry.errors import Conflict, ServiceUnavailable


def wrapped(error: Exception) -> exc.DBAPIError:
    """``error`` as a session meets it: SQLAlchemy's error around its adapter's around it."""
    adapter_error = Exception(str(error))
    adapter_error.__cause__ = error
    return exc.DBAPIError("SELECT …", None, adapter_error)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (asyncpg.exceptions.QueryCanceledError("canceling statement"), "statement timeout"),
        (asyncpg.exceptions.LockNotAvailableError("could not obtain lock"), "lock timeout"),
        (
            asyncpg.exceptions.IdleInTransactionSessionTimeoutError("idle"),
            "idle transaction timeout",
        ),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), "connection terminated"),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), "server shutting down"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), "connection lost"),
        (asyncpg.exceptions.DiskFullError("could not extend file"), "server out of resources"),
        (asyncpg.exceptions.TooManyConnectionsError("too many"), "server out of resources"),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), "deadlock"),
        (asyncpg.exceptions.SerializationError("could not serialize"), "serialization failure"),
        (exc.TimeoutError("QueuePool limit reached"), "no connection free in time"),
        (ConnectionRefusedError(111, "refused"), "cannot connect"),
        (TimeoutError(), "connecting timed out"),
    ],
)
def test_what_the_database_cannot_serve_now_is_a_503(error, reason):
    assert unavailability(error) == reason
    if isinstance(error, asyncpg.PostgresError):
        assert unavailability(wrapped(error)) == reason
    assert isinstance(unavailable(error), ServiceUnavailable)


def test_a_connection_sqlalchemy_found_lost_is_a_503():
    lost = exc.InterfaceError("SELECT …", None, Exception("connection is closed"))
    lost.connection_invalidated = True
    assert unavailability(lost) == "connection lost"


def test_a_driver_error_on_a_connection_found_closed_is_a_503():
    closed = asyncpg.exceptions.InterfaceError("connection is closed")
    assert unavailability(closed, connection_closed=True) == "connection lost"
    # The same error with the connection still open is a misuse of it: a bug.
    assert unavailability(closed) is None


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.RaiseError("a trigger refused"),  # P0001
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.CheckViolationError("violates check constraint"),
        asyncpg.exceptions.UndefinedColumnError("column does not exist"),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied"),
        asyncpg.exceptions.InterfaceError("another operation is in progress"),
        ValueError("a bug"),
        KeyError("a bug"),
    ],
)
def test_a_bug_stays_a_bug(error):
    assert unavailability(error) is None
    if isinstance(error, asyncpg.PostgresError):
        assert unavailability(wrapped(error)) is None
    assert unavailable(error) is None


def test_an_answer_the_code_chose_stays_that_answer():
    conflict = Conflict("already registered")
    conflict.__cause__ = asyncpg.exceptions.LockNotAvailableError("could not obtain lock")
    assert unavailable(conflict) is None
