"""`LoopbackOpenAI`: an OpenAI-compatible chat completions server on 127.0.0.1 that answers from a
Python function — the upstream that tests, benchmarks and the docs put behind `ponder proxy` and
`ponder serve` where no model runs. It streams (SSE) when asked, and can be told to fail the ways a
real server does: an error status, an answer that never comes, a stream cut off mid-way.

    with LoopbackOpenAI(lambda body: Reply("391")) as upstream:
        client = openai.OpenAI(base_url=upstream.url, api_key="sk-none")
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ponder.interop._http import ClientGone, EventStream, ThreadedServer, error_response, until_disconnect
from ponder.interop.wire import sse, wants_stream, wants_usage_chunk

HANG_S = 3600.0  # "never": until the client gives up and disconnects


@dataclass
class Reply:
    """What the server answers one request with.

    content: the assistant's text. tool_calls: native tool calls, as (name, arguments dict) pairs.
    status: a non-200 status answers an OpenAI-style error instead. hang: never answer (the client's
    timeout decides). drop_after: for a stream, cut the connection after this many chunks.
    delay: seconds to wait before answering.
    """

    content: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    hang: bool = False
    drop_after: int | None = None
    delay: float = 0.0


Responder = Callable[[dict[str, Any]], "Reply | str"]


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


class _Dropped(Exception):
    """Raised inside a stream to cut its connection (uvicorn closes it without ending the body)."""


class LoopbackOpenAI:
    """Serves `/v1/chat/completions` and `/v1/models` on 127.0.0.1 (a free port) from `responder`.

    `requests` holds every body received, in order, and `headers` their headers; `url` is the API
    root (…/v1). Token counts are words (prompt: every message's; completion: the reply's, 8 per
    tool call), so they are exact in tests.
    """

    def __init__(self, responder: Responder, *, model: str = "loopback-model", port: int = 0) -> None:
        self.responder = responder
        self.model = model
        self.port = port
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.served = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        self._server: ThreadedServer | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> LoopbackOpenAI:
        """Start serving (in a thread); returns self."""
        self._server = ThreadedServer(self.app, port=self.port)
        self.port = self._server.port
        return self

    def stop(self) -> None:
        """Stop serving; requests in flight are cut."""
        if self._server is not None:
            self._server.stop(timeout=2.0)
            self._server = None

    @property
    def url(self) -> str:
        """The API root clients take as their base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LoopbackOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering -------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "loopback"}]})

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, int]:
        prompt = sum(
            len(str(m.get("content") or "").split()) for m in body.get("messages") or [] if isinstance(m, dict)
        )
        completion = len(reply.content.split()) + 8 * len(reply.tool_calls)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _calls(self, reply: Reply) -> list[dict[str, Any]]:
        return [
            {"id": f"call_{self.served}_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, (n, a) in enumerate(reply.tool_calls)
        ]

    async def _chat(self, request: Request) -> Any:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.served += 1
        out = self.responder(body)
        reply = Reply(out) if isinstance(out, str) else out
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return error_response(reply.status, f"loopback server error {reply.status}", "server_error")
        if wants_stream(body):
            return EventStream(self._stream(body, reply))
        if reply.hang:
            try:
                await until_disconnect(request, asyncio.sleep(HANG_S))
            except ClientGone:
                return Response(status_code=499)
        calls = self._calls(reply)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or (None if calls else "")}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse(
            {
                "id": f"chatcmpl-loopback-{self.served}",
                "object": "chat.completion",
                "created": 0,
                "model": self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
                "usage": self._usage(body, reply),
            }
        )

    async def _stream(self, body: dict[str, Any], reply: Reply) -> AsyncGenerator[bytes, None]:
        head = {"id": f"chatcmpl-loopback-{self.served}", "object": "chat.completion.chunk", "created": 0}
        head["model"] = self.model

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"content": w}) for w in _words(reply.content)]
        calls = self._calls(reply)
        if calls:
            chunks.append(chunk({"tool_calls": [{"index": i, **c} for i, c in enumerate(calls)]}))
        chunks.append(chunk({}, "tool_calls" if calls else "stop"))
        if wants_usage_chunk(body):
            chunks.append(sse({**head, "choices": [], "usage": self._usage(body, reply)}))
        chunks.append(sse("[DONE]"))
        for i, data in enumerate(chunks):
            if reply.drop_after is not None and i >= reply.drop_after:
                raise _Dropped(f"dropped after {i} chunks")
            if reply.hang and i == 1:
                await asyncio.sleep(HANG_S)
            yield data


class CliServer:
    """`ponder serve` or `ponder proxy` as a process of its own (`args` after `ponder`, with `--port 0`),
    for tests and benchmarks: `url` is its API root once it listens; `stop()` interrupts it as Ctrl+C would.

    env: its environment (default: this one). start_timeout: seconds to wait for it to listen.
    """

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None, start_timeout: float = 60.0) -> None:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        code = "from ponder.cli import main; main()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=env if env is not None else dict(os.environ),
        )
        deadline = time.monotonic() + start_timeout
        while (found := re.search(rb"listening on (http://\S+/v1)", self.log_bytes())) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ponder {args[0]} did not start: {self.log_bytes().decode(errors='replace')}")
            time.sleep(0.05)
        self.url = found.group(1).decode()

    def log_bytes(self) -> bytes:
        """What the process wrote to stderr so far."""
        self._log.seek(0)
        return self._log.read()

    def stop(self, timeout: float = 15.0) -> int:
        """Interrupt it (SIGINT), wait for it to end (kill it past `timeout`); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return int(self.process.returncode)

    def __enter__(self) -> CliServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
