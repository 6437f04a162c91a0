"""Streaming (`StreamingBackend.stream`): the text handed on in pieces while it is written, the completion
the same as `complete`'s, and the call recorded exactly like one made without streaming."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import respx

from ponder.backends.base import BaseBackend, StreamingBackend, stream_completion
from ponder.backends.cache import CachedBackend
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.backends.replay import ReplayBackend
from ponder.backends.scripted import ScriptedBackend, pieces
from ponder.errors import BackendError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.traces.store import TraceStore
from ponder.types import Completion, CompletionRequest, Message, Result, Task
from tests.fake_openai import FakeOpenAI, text

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"
PLAN = '1. search("Mount Everest")\n2. search("K2")\n3. join()'


def req(content: str = "plan please", **kw: Any) -> CompletionRequest:
    return CompletionRequest(messages=(Message.user(content),), **kw)


def sse(*chunks: dict[str, Any] | str) -> bytes:
    return b"".join(f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n".encode() for c in (*chunks, "[DONE]"))


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {
        "object": "chat.completion.chunk",
        "model": "m-1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


# -- the scripted backend --------------------------------------------------------------------


async def test_scripted_hands_on_lines_then_answers_as_complete_does() -> None:
    got: list[str] = []
    b = ScriptedBackend([PLAN, PLAN])
    streamed = await b.stream(req(), got.append)
    assert got == ['1. search("Mount Everest")\n', '2. search("K2")\n', "3. join()"]
    assert streamed == await b.complete(req())
    assert isinstance(b, StreamingBackend)


async def test_scripted_pieces_come_chunk_latency_apart_and_complete_waits_as_long() -> None:
    b = ScriptedBackend([PLAN, PLAN], chunks="word", chunk_latency=0.02)
    seen: list[float] = []
    t0 = time.perf_counter()
    await b.stream(req(), lambda piece: seen.append(time.perf_counter() - t0))
    assert len(seen) == len(pieces(PLAN, "word")) == 7
    assert seen[0] < seen[-1] - 0.1, "the pieces were spread over the answer, not handed on at its end"
    t1 = time.perf_counter()
    await b.complete(req())
    assert time.perf_counter() - t1 >= 7 * 0.02


def test_pieces_join_to_the_text() -> None:
    for t in ["", "one", "a b\nc  d\n", "   ", PLAN]:
        assert "".join(pieces(t, "word")) == "".join(pieces(t, "line")) == t


async def test_a_backend_that_cannot_stream_hands_the_text_on_whole() -> None:
    class Plain:
        name, model, free = "plain", "p", True
        capabilities = ScriptedBackend().capabilities

        async def complete(self, r: CompletionRequest) -> Completion:
            return await ScriptedBackend([PLAN]).complete(r)

    got: list[str] = []
    c = await stream_completion(Plain(), req(), got.append)
    assert got == [PLAN] and c.text == PLAN

    class Base(BaseBackend):
        async def complete(self, r: CompletionRequest) -> Completion:
            return await ScriptedBackend([PLAN]).complete(r)

    got.clear()
    await stream_completion(Base(), req(), got.append)
    assert got == [PLAN]


# -- recorded exactly like a normal call, replayed identical -----------------------------------


class Streamer(BaseAgent):
    """Asks once, streaming when `stream`; keeps the pieces it was handed."""

    name = "streamer_test"
    stream: bool = True

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        got: list[str] = []
        c = await ctx.complete(req(task.input), label="plan", on_text=got.append if self.stream else None)
        assert "".join(got) == (c.text if self.stream else "")
        return Result(answer=str(len(got)))


def _calls(store: TraceStore, run_id: str) -> list[tuple[Any, ...]]:
    def answer(response: dict[str, Any] | None) -> dict[str, Any]:  # what was answered, not where from
        return {k: v for k, v in (response or {}).items() if k not in ("origin", "latency_ms")}

    return [
        (c.request_key, c.branch, c.sample_index, c.request, answer(c.response), c.prompt_tokens, c.completion_tokens)
        for c in store.llm_calls(run_id)
    ]


async def test_a_streamed_call_is_recorded_like_any_other_and_replays() -> None:
    store = TraceStore(":memory:")
    streamed = await Streamer().arun("q", backend=ScriptedBackend([PLAN]), store=store)
    plain = await Streamer(stream=False).arun("q", backend=ScriptedBackend([PLAN]), store=store)
    assert streamed.answer == "3"
    assert _calls(store, streamed.run_id) == _calls(store, plain.run_id)
    assert [e.kind for e in store.events(streamed.run_id)] == [e.kind for e in store.events(plain.run_id)]

    replay = ReplayBackend(store, streamed.run_id)
    got: list[str] = []
    c = await replay.stream(req("q"), got.append)
    assert got == [PLAN] and c.origin == "replay", "a recorded answer is one piece"
    again = await Streamer().arun("q", backend=ReplayBackend(store, streamed.run_id), store=store)
    assert again.answer == "1" and _calls(store, again.run_id) == _calls(store, streamed.run_id)


async def test_the_cache_streams_a_miss_and_hands_a_hit_on_whole() -> None:
    store = TraceStore(":memory:")
    cached = CachedBackend(ScriptedBackend([PLAN]), store)
    first: list[str] = []
    second: list[str] = []
    await cached.stream(req(), first.append)
    c = await cached.stream(req(), second.append)
    assert len(first) == 3 and second == [PLAN] and c.origin == "cache"


# -- the openai backend (respx) ------------------------------------------------------------------


def make(**kw: Any) -> OpenAICompatBackend:
    b = OpenAICompatBackend(base_url=BASE, model="m", backoff=0.001, **kw)

    async def no_sleep(s: float) -> None:
        pass

    b._sleep = no_sleep
    return b


@respx.mock
async def test_openai_streams_sse_chunks() -> None:
    body = sse(
        chunk(None, role="assistant"),
        chunk("1. search"),
        chunk('("K2")'),
        chunk(None, "stop"),
        {"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}},
    )
    route = respx.post(URL).mock(
        return_value=httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    got: list[str] = []
    c = await make().stream(req(), got.append)
    assert got == ["1. search", '("K2")']
    assert (c.text, c.choices[0].finish_reason, c.model) == ('1. search("K2")', "stop", "m-1")
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (9, 4)
    sent = json.loads(route.calls[0].request.content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [{"role": "user", "content": "plan please"}]


@respx.mock
async def test_openai_stream_is_retried_until_its_first_piece_only() -> None:
    ok = sse(chunk("fine"), chunk(None, "stop"))
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(500, json={"error": {"message": "busy"}}), httpx.Response(200, content=ok)]
    )
    got: list[str] = []
    assert (await make().stream(req(), got.append)).text == "fine"
    assert route.call_count == 2 and got == ["fine"]

    broken = b'data: {"choices": [{"index": 0, "delta": {"content": "half"}}]}\n\ndata: {not json\n\n'
    route = respx.post(URL).mock(return_value=httpx.Response(200, content=broken))
    route.calls.clear()
    got.clear()
    with pytest.raises(BackendError, match=r"stream .* broke.*after 4 characters of the answer were handed on"):
        await make().stream(req(), got.append)
    assert route.call_count == 1 and got == ["half"], "text already handed on is never sent twice"


@respx.mock
async def test_an_exception_of_the_receiver_ends_the_call_unretried() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, content=sse(chunk("a"), chunk("b"))))

    def refuse(piece: str) -> None:
        raise KeyError(piece)

    with pytest.raises(KeyError, match="a"):
        await make().stream(req(), refuse)
    assert route.call_count == 1


@respx.mock
async def test_openai_several_choices_are_not_streamed() -> None:
    reply = {
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": f"t{i}"}, "finish_reason": "stop"}
            for i in range(2)
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2},
    }
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=reply))
    got: list[str] = []
    c = await make().stream(req(n=2), got.append)
    assert got == ["t0"] and [x.text for x in c.choices] == ["t0", "t1"]
    assert "stream" not in json.loads(route.calls[0].request.content)


# -- the openai backend against a real loopback server, both transports ---------------------------


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_openai_pieces_arrive_while_the_server_writes(transport: str) -> None:
    with FakeOpenAI(lambda body: text(PLAN), piece_delay=0.05) as server:

        async def go() -> tuple[list[float], float, Completion]:
            b = OpenAICompatBackend(base_url=server.url, model="m", transport=transport)  # type: ignore[arg-type]
            seen: list[float] = []
            t0 = time.perf_counter()
            c = await b.stream(req(), lambda piece: seen.append(time.perf_counter() - t0))
            done = time.perf_counter() - t0
            await b.aclose()
            return seen, done, c

        seen, done, c = asyncio.run(go())
    assert c.text == PLAN and len(seen) == len(pieces(PLAN, "word"))
    assert seen[0] < done - 0.2, "the first piece came long before the answer ended"
    assert c.usage.completion_tokens == len(PLAN.split())
