"""A local OpenAI-compatible chat completions server for benchmarks: fixed latency, optional overload.

Runs a raw asyncio HTTP/1.1 server (keep-alive, Content-Length bodies) on a free loopback port
in a process of its own, so the client is measured alone (no shared GIL). The responder must be
a module-level function (it is pickled).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import multiprocessing.connection
from collections.abc import Callable
from typing import Any

from ponder.types import CompletionRequest, Message

Responder = Callable[[CompletionRequest], str]


class FakeOpenAIServer:
    """Answers `POST /v1/chat/completions` after `latency` seconds with `responder`'s text (n choices).

    overload_above: answer 429 at once to a request that arrives while this many are in flight.
    count_words: report usage as the words of the messages and of the replies (else a fixed 10 + 5).
    """

    def __init__(
        self,
        responder: Responder,
        *,
        latency: float = 0.2,
        overload_above: int | None = None,
        count_words: bool = False,
    ) -> None:
        self.responder = responder
        self.count_words = count_words
        self.latency = latency
        self.overload_above = overload_above
        self.in_flight = 0
        self.peak = 0
        self.answered = 0
        self.rejected = 0
        self.port = 0
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(target=self._serve, args=(child,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._process.start()
        if not self._conn.poll(30):
            self._process.kill()
            raise RuntimeError("the fake server did not start within 30 s")
        self.port = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        if self._conn.poll(10):
            self.peak, self.answered, self.rejected = self._conn.recv()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    def _serve(self, conn: multiprocessing.connection.Connection) -> None:
        asyncio.run(self._main(conn))

    async def _main(self, conn: multiprocessing.connection.Connection) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        await asyncio.to_thread(conn.recv)  # "stop"
        server.close()
        conn.send((self.peak, self.answered, self.rejected))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                payload = json.loads(await reader.readexactly(length)) if length else {}
                status, body = await self._answer(payload)
                data = json.dumps(body).encode()
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Too Many Requests'}\r\n"
                    f"content-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.overload_above is not None and self.in_flight >= self.overload_above:
            self.rejected += 1
            return 429, {"error": {"message": f"more than {self.overload_above} requests in flight"}}
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        req = CompletionRequest(
            messages=tuple(Message(role=m["role"], content=m.get("content") or "") for m in payload["messages"]),
            n=int(payload.get("n", 1)),
        )
        texts = [self.responder(req) for _ in range(req.n)]
        self.answered += 1
        prompt, completion = 10, 5
        if self.count_words:
            prompt = sum(len(m.content.split()) for m in req.messages)
            completion = sum(len(t.split()) for t in texts)
        return 200, {
            "id": "fake",
            "object": "chat.completion",
            "created": 0,
            "model": payload.get("model", "fake"),
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                for i, t in enumerate(texts)
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }
