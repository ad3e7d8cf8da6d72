"""structlog configuration: JSON lines on stdout, request context merged in.

Rule: log identifiers of requests and principals, never personal data (names, national
identifiers, addresses) and never tokens; the access log records the route template,
not the URL, because a query string can carry a name being searched for. (uvicorn's own
access log, which writes the URL, stays off.)

The standard library's loggers end up in the same JSON lines: uvicorn's server messages
(the listening address, a worker's start and stop, shutting down) as named events with their
values as fields, and any library's warnings and errors as they come.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import orjson
import structlog

#: uvicorn's messages about the server's life: the event each is logged as, its values as
#: fields (``listening`` gives the address actually bound, also for port 0).
SERVER_EVENTS = (
    (
        "listening",
        re.compile(
            r"Uvicorn running on (?P<address>(?P<scheme>https?)://\[?(?P<host>[^\s\]]*)\]?"
            r":(?P<port>\d+))"
        ),
    ),
    ("listening", re.compile(r"Uvicorn running on (?:unix )?socket (?P<address>.+?) \(")),
    ("supervisor_started", re.compile(r"Started parent process \[(?P<pid>\d+)\]")),
    ("supervisor_stopped", re.compile(r"Stopping parent process \[(?P<pid>\d+)\]")),
    ("worker_started", re.compile(r"Started server process \[(?P<pid>\d+)\]")),
    ("worker_stopped", re.compile(r"Finished server process \[(?P<pid>\d+)\]")),
    ("application_started", re.compile(r"Application startup complete")),
    ("shutting_down", re.compile(r"Shutting down")),
    ("application_stopped", re.compile(r"Application shutdown complete")),
)
#: The logger of uvicorn's server messages (``uvicorn.access``, the URL log, is not used).
SERVER_LOGGER = "uvicorn.error"


class _ToStructlog(logging.Handler):
    """Hands the standard library's records to structlog: the same renderer, the same
    output, the same level filter, one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event, fields = server_event(record.getMessage())
            if record.exc_info:
                fields["exc_info"] = record.exc_info
            structlog.get_logger(record.name).log(
                record.levelno, event, logger=record.name, **fields
            )
        except Exception:
            self.handleError(record)


def server_event(message: str) -> tuple[str, dict[str, Any]]:
    """A message of the server as an event and its fields; any other message as it is."""
    for event, pattern in SERVER_EVENTS:
        found = pattern.search(message)
        if found:
            return event, {
                name: int(value) if name in ("port", "pid") else value
                for name, value in found.groupdict().items()
            }
    return message, {}


def _route(logger: logging.Logger, level: int) -> None:
    """``logger``'s records (from ``level`` up) go to structlog, once."""
    for handler in [h for h in logger.handlers if isinstance(h, _ToStructlog)]:
        logger.removeHandler(handler)
    logger.addHandler(_ToStructlog())
    logger.setLevel(level)


#: Whether a logger keeps its configuration from its first use (faster). The test suite turns
#: it off: a logger cached under one configuration would escape the log capture of a later
#: test (``structlog.testing.capture_logs``), so a test's outcome would depend on the order.
CACHE_LOGGERS = True


def configure_logging(
    level: str = "INFO", *, json: bool = True, stream: TextIO | None = None
) -> None:
    """Log lines to ``stream`` (stdout unless given): the service logs to stdout; a command
    whose stdout is its answer (``registry audit verify``'s report) logs to stderr."""
    stream = stream or sys.stdout
    # JSON lines are rendered by orjson straight to bytes: a line is written per request.
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=(
            structlog.BytesLoggerFactory(stream.buffer)
            if json
            else structlog.PrintLoggerFactory(stream)
        ),
        cache_logger_on_first_use=CACHE_LOGGERS,
    )
    _route(logging.getLogger(), logging.WARNING)
    server = logging.getLogger(SERVER_LOGGER)
    _route(server, logging.getLevelNamesMapping().get(level.upper(), logging.INFO))
    server.propagate = False
