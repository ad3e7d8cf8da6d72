"""structlog configuration: JSON lines on stdout, request context merged in.

Rule: log identifiers of requests and principals, never personal data (names, national
identifiers, addresses) and never tokens; the access log records the route template,
not the URL, because a query string can carry a name being searched for.
"""

from __future__ import annotations

import logging
import sys

import orjson
import structlog


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
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
            structlog.BytesLoggerFactory(sys.stdout.buffer)
            if json
            else structlog.PrintLoggerFactory(sys.stdout)
        ),
        cache_logger_on_first_use=True,
    )
