"""`ponder tui --serve`: the TUI in a browser (textual-serve), on a port bound before anything is printed.

textual-serve's own `Server.serve` binds inside aiohttp's `run_app`, after its start-up banner:
a busy port ends in a long traceback. Here the listening socket is made first (a busy port is
one line, exit 2) and handed to aiohttp. The page is ponder's copy of textual-serve's template
with the font served from textual-serve's static folder, so it loads with no network.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.server import Server

from ponder.errors import ConfigError

DEFAULT_PORT = 8842  # not 8000: vLLM's and many model servers' default
HOST = "127.0.0.1"
TEMPLATES = Path(__file__).parent / "serve_templates"


def bind(port: int, host: str = HOST) -> socket.socket:
    """A listening socket on `host:port` (0: a free port); a `ConfigError` saying why when it cannot be had."""
    try:
        return socket.create_server((host, port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is in use; choose another with --port N (--port 0 picks a free one)"
            ) from None
        if e.errno == errno.EACCES:
            raise ConfigError(f"cannot listen on port {port}: permission denied; choose a port above 1023") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


class TuiServer(Server):
    """textual-serve's server on a socket bound beforehand, with ponder's page template."""

    def __init__(self, command: str, sock: socket.socket, title: str = "ponder") -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(command, host=host, port=port, title=title, templates_path=TEMPLATES)
        self.sock = sock

    @property
    def url(self) -> str:
        """Where a browser opens it."""
        return str(self.public_url)

    async def on_startup(self, app: web.Application) -> None:
        """The CLI has already said where it serves; textual-serve's banner would repeat it."""

    def serve(self, debug: bool = False) -> None:
        """Serve until Ctrl+C (or SIGTERM), on the socket bound already."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        try:
            web.run_app(self._make_app(), sock=self.sock, handle_signals=False, loop=loop, print=_quiet)
        finally:
            loop.close()


def _quiet(*args: Any) -> None:
    """aiohttp's "Running on ..." line: the CLI printed its own."""
