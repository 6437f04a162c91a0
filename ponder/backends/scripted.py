"""`ScriptedBackend`: answers from a list or a function, for tests (the MockTransport of ponder)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

from ponder.backends.base import BaseBackend, Capabilities, TextSink
from ponder.errors import BackendError
from ponder.types import Choice, Completion, CompletionRequest, ToolCall, Usage

Response = str | Choice | Completion
Responder = Callable[[CompletionRequest], Response | list[Response] | Awaitable[Any]]


def _as_choice(r: str | Choice) -> Choice:
    return r if isinstance(r, Choice) else Choice(text=r, finish_reason="stop")


class ScriptedBackend(BaseBackend):
    """Returns scripted responses, in order or computed by a function.

    responses: a list consumed in order (each a string, `Choice` or `Completion`), or a
        function of the request returning one of those (or a list of them for `n>1`).
    supports_n: whether to answer `n>1` in one completion (else only one choice comes back).
    supports_seed: claim to honour seeds, so runs give its requests derived seeds (`ponder.backends.seeds`).
    latency: seconds to wait before answering (for scheduling benchmarks).
    chunks, chunk_latency: how `stream` hands on the first choice's text, in lines or words, one
        piece every `chunk_latency` seconds after `latency`; `complete` answers when the last piece
        would have come (a server writing at that pace), so both take as long.
    """

    name = "scripted"
    free = True

    def __init__(
        self,
        responses: Iterable[Response] | Responder | None = None,
        *,
        model: str = "scripted",
        supports_n: bool = True,
        supports_tools: bool = True,
        supports_seed: bool = False,
        latency: float = 0.0,
        chunks: Literal["line", "word"] = "line",
        chunk_latency: float = 0.0,
    ) -> None:
        self.model = model
        self.capabilities = Capabilities(n=supports_n, tools=supports_tools, seed=supports_seed)
        self.latency = latency
        self.chunks = chunks
        self.chunk_latency = chunk_latency
        self.requests: list[CompletionRequest] = []
        if responses is None:
            responses = []
        self._fn: Responder | None = responses if callable(responses) else None
        self._queue: list[Response] = [] if callable(responses) else list(responses)

    def _next(self, req: CompletionRequest) -> Any:
        if self._fn is not None:
            return self._fn(req)
        if not self._queue:
            last = req.messages[-1].content[:80] if req.messages else ""
            raise BackendError(f"ScriptedBackend ran out of responses (request #{len(self.requests)}: {last!r})")
        return self._queue.pop(0)

    async def complete(self, req: CompletionRequest) -> Completion:
        completion = await self._answer(req)
        if self.chunk_latency:
            await asyncio.sleep(self.chunk_latency * len(pieces(completion.text, self.chunks)))
        return completion

    async def stream(self, req: CompletionRequest, on_text: TextSink) -> Completion:
        """Answer `req`, handing on the first choice's text in `chunks`, `chunk_latency` seconds apart."""
        completion = await self._answer(req)
        for piece in pieces(completion.text, self.chunks):
            if self.chunk_latency:
                await asyncio.sleep(self.chunk_latency)
            on_text(piece)
        return completion

    async def _answer(self, req: CompletionRequest) -> Completion:
        self.requests.append(req)
        if self.latency:
            await asyncio.sleep(self.latency)
        n = req.n if self.capabilities.n else 1
        out = self._next(req)
        if asyncio.iscoroutine(out):
            out = await out
        if isinstance(out, Completion):
            return out
        items = out if isinstance(out, list) else [out]
        choices = [_as_choice(x) for x in items]
        while len(choices) < n:
            nxt = self._next(req)
            if asyncio.iscoroutine(nxt):
                nxt = await nxt
            choices.extend(_as_choice(x) for x in (nxt if isinstance(nxt, list) else [nxt]))
        prompt_tokens = sum(len(m.content.split()) for m in req.messages)
        completion_tokens = sum(len(c.text.split()) for c in choices)
        return Completion(
            choices=choices[: max(n, 1)] if self.capabilities.n else choices[:1],
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            model=self.model,
        )


def pieces(text: str, chunks: Literal["line", "word"]) -> list[str]:
    """`text` cut into lines (each with its newline) or words (each with the spaces before it)."""
    if chunks == "line":
        return text.splitlines(keepends=True)
    return re.findall(r"\s*\S+|\s+$", text)


def tool_call(name: str, arguments: str = "{}", id: str = "call_0") -> Choice:
    """A scripted choice that asks for a native tool call."""
    return Choice(
        text="",
        tool_calls=(ToolCall(id=id, name=name, arguments=arguments),),
        finish_reason="tool_calls",
    )
