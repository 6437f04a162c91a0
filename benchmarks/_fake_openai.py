"""A local OpenAI-compatible chat completions server for benchmarks: fixed latency, optional overload,
optionally a pace of writing (`token_latency` a word) and streamed answers (`stream: true`).

Runs a raw asyncio HTTP/1.1 server (keep-alive; Content-Length bodies, chunked server-sent events
for a stream) on a free loopback port in a process of its own, so the client is measured alone (no
shared GIL). The responder must be a module-level function (it is pickled).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import multiprocessing.connection
import re
from collections.abc import Callable
from typing import Any

from ponder.types import CompletionRequest, Message

Responder = Callable[[CompletionRequest], str]


class FakeOpenAIServer:
    """Answers `POST /v1/chat/completions` after `latency` seconds with `responder`'s text (n choices).

    overload_above: answer 429 at once to a request that arrives while this many are in flight.
    count_words: report usage as the words of the messages and of the replies (else a fixed 10 + 5).
    token_latency: seconds to write each word of the first choice, after `latency`: a streamed answer
    sends each word when it is written, a whole answer comes when the last one is.
    """

    def __init__(
        self,
        responder: Responder,
        *,
        latency: float = 0.2,
        overload_above: int | None = None,
        count_words: bool = False,
        token_latency: float = 0.0,
    ) -> None:
        self.responder = responder
        self.count_words = count_words
        self.latency = latency
        self.token_latency = token_latency
        self.streamed = 0
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
            self.peak, self.answered, self.rejected, self.streamed = self._conn.recv()
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
        conn.send((self.peak, self.answered, self.rejected, self.streamed))

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
                if payload.get("stream") and not self._overloaded():
                    await self._stream(payload, writer)
                    continue
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

    def _overloaded(self) -> bool:
        return self.overload_above is not None and self.in_flight >= self.overload_above

    def _texts(self, payload: dict[str, Any]) -> tuple[CompletionRequest, list[str]]:
        req = CompletionRequest(
            messages=tuple(Message(role=m["role"], content=m.get("content") or "") for m in payload["messages"]),
            n=int(payload.get("n", 1)),
        )
        return req, [self.responder(req) for _ in range(req.n)]

    async def _stream(self, payload: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        """A streamed answer: server-sent events in a chunked body, each word when it is written."""
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            req, (text, *_) = self._texts(payload)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            await asyncio.sleep(self.latency)
            head = {
                "id": "fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": payload.get("model", "fake"),
            }
            for word in re.findall(r"\s*\S+|\s+$", text):
                await asyncio.sleep(self.token_latency)
                delta = {**head, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                await _send_event(writer, delta)
            await _send_event(writer, {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (payload.get("stream_options") or {}).get("include_usage"):
                await _send_event(writer, {**head, "choices": [], "usage": self._usage(req, [text])})
            writer.write(b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n")
            await writer.drain()
        finally:
            self.in_flight -= 1
        self.answered += 1
        self.streamed += 1

    def _usage(self, req: CompletionRequest, texts: list[str]) -> dict[str, int]:
        prompt, completion = 10, 5
        if self.count_words:
            prompt = sum(len(m.content.split()) for m in req.messages)
            completion = sum(len(t.split()) for t in texts)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def _answer(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self._overloaded():
            self.rejected += 1
            return 429, {"error": {"message": f"more than {self.overload_above} requests in flight"}}
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            req, texts = self._texts(payload)
            await asyncio.sleep(self.latency + self.token_latency * len(texts[0].split()))
        finally:
            self.in_flight -= 1
        self.answered += 1
        return 200, {
            "id": "fake",
            "object": "chat.completion",
            "created": 0,
            "model": payload.get("model", "fake"),
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                for i, t in enumerate(texts)
            ],
            "usage": self._usage(req, texts),
        }


async def _send_event(writer: asyncio.StreamWriter, data: dict[str, Any]) -> None:
    event = f"data: {json.dumps(data)}\n\n".encode()
    writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
    await writer.drain()
