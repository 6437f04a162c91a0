"""The HTTP plumbing `ponder serve` and `ponder proxy` share: JSON and SSE responses that notice a
client going away, bearer-token checks, and uvicorn started in the foreground or in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from ponder.errors import ConfigError
from ponder.interop.wire import error_body, one_line

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


class ClientGone(Exception):
    """The client closed its connection before its answer was ready."""


def error_response(status: int, message: str, kind: str, *, code: str | None = None, **more: Any) -> JSONResponse:
    """An OpenAI-style error reply; `message` on one line."""
    headers = {"x-ponder-run": str(more["run_id"])} if more.get("run_id") else None
    return JSONResponse(error_body(one_line(message), kind, code=code, **more), status_code=status, headers=headers)


def bearer_refusal(request: Request, api_key: str | None) -> JSONResponse | None:
    """A 401 reply when the server wants `api_key` and the request does not carry it as a bearer token."""
    if api_key is None:
        return None
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode()):
        return None
    return error_response(
        401,
        "missing or wrong API key: send it as 'Authorization: Bearer KEY'",
        "authentication_error",
        code="invalid_api_key",
    )


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await `work`; if the client disconnects first, cancel it (waiting for it to wind down) and raise `ClientGone`.

    Call it after the request's body has been read: what the client sends next is its disconnect.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request.receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            watcher.cancel()
            raise ClientGone()
        watcher.cancel()
    return task.result()


class EventStream:
    """A `text/event-stream` reply fed by an async iterator of bytes, stopped when the client disconnects.

    The iterator runs in its own task; a disconnect cancels that task, so the iterator's `finally`
    (or its `except CancelledError`) cleans up what it started and records how it ended.
    """

    def __init__(self, body: AsyncGenerator[bytes, None], headers: dict[str, str] | None = None) -> None:
        self.body = body
        self.headers = {"content-type": "text/event-stream", "cache-control": "no-cache", **(headers or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw})

        async def pump() -> None:
            # closing the body when the pump stops, however it stops, runs the body's own cleanup now
            async with contextlib.aclosing(self.body):
                async for chunk in self.body:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        streaming = asyncio.ensure_future(pump())
        watcher = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({streaming, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (streaming, watcher):
                if not t.done():
                    t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            # a body that failed (not one stopped for a gone client) fails the request: uvicorn cuts the
            # connection mid-body, which is how the client learns the stream is incomplete
            with contextlib.suppress(asyncio.CancelledError):
                await streaming


# -- running a server ------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.x, ::1, localhost)."""
    return host in ("localhost", "::1") or host.startswith("127.")


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    # no access log: every request is recorded in the trace store; errors still reach stderr
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")


def _bound_port(server: uvicorn.Server) -> int:
    for s in server.servers:
        for sock in s.sockets:
            return int(sock.getsockname()[1])
    raise ConfigError("the server did not bind a port")


def serve_foreground(app: Any, host: str, port: int, on_ready: Callable[[int], None]) -> None:
    """Run `app` on host:port until interrupted; `on_ready(port)` once it listens (port 0 picks a free one)."""
    server = uvicorn.Server(_config(app, host, port))

    async def main() -> None:
        task = asyncio.ensure_future(server.serve())
        while not server.started:
            if task.done():
                task.result()
                raise ConfigError(f"cannot listen on {host}:{port} (is the port in use?)")
            await asyncio.sleep(0.05)
        on_ready(_bound_port(server))
        await task

    try:
        asyncio.run(main())
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    except SystemExit:  # uvicorn exits this way when it cannot bind
        raise ConfigError(f"cannot listen on {host}:{port} (is the port in use?)") from None


class ThreadedServer:
    """`app` served by uvicorn on loopback in a thread of its own (tests, benchmarks): `url`, then `stop()`.

    start_timeout: seconds to wait for it to listen.
    """

    def __init__(self, app: Any, *, host: str = LOOPBACK, port: int = 0, start_timeout: float = 30.0) -> None:
        self.server = uvicorn.Server(_config(app, host, port))
        self._thread = threading.Thread(target=self.server.run, name="ponder-uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + start_timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the loopback server did not start within {start_timeout} s")
            time.sleep(0.02)
        self.host = host
        self.port = _bound_port(self.server)

    @property
    def url(self) -> str:
        """The server's root URL (no path)."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let the requests in flight end (at most `timeout` s), join the thread."""
        self.server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(timeout)

    def __enter__(self) -> ThreadedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = LOOPBACK) -> int:
    """A port free on `host` right now (for a server started as a subprocess)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def threaded(app: Any, **kw: Any) -> Iterator[ThreadedServer]:
    """`with threaded(app) as server:` — `ThreadedServer` as a context manager."""
    server = ThreadedServer(app, **kw)
    try:
        yield server
    finally:
        server.stop()
