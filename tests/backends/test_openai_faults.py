"""OpenAICompatBackend against servers that misbehave: total deadlines, clean cancellation, every attempt recorded.

The slow-server tests run a raw asyncio server on a free loopback port; each wait has a deadline.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import respx

from ponder.agents.cot import CoT
from ponder.backends.base import Attempt, collect_attempts
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.errors import BackendError
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"
DEADLINE = 10.0  # no test here may take longer than this, whatever the backend does


def body(text: str) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def make(**kw: Any) -> OpenAICompatBackend:
    kw.setdefault("base_url", BASE)
    kw.setdefault("model", "m")
    b = OpenAICompatBackend(**kw)

    async def no_sleep(_: float) -> None:
        return None

    b._sleep = no_sleep
    return b


def req() -> CompletionRequest:
    return CompletionRequest(messages=(Message.user("What is 2 + 2?"),))


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


@asynccontextmanager
async def loopback_server(answer: Handler) -> AsyncIterator[tuple[str, asyncio.Event, asyncio.Event]]:
    """A raw HTTP server on a free loopback port; yields (base_url, got_request, client_closed)."""
    got_request = asyncio.Event()
    client_closed = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            got_request.set()
            await answer(reader, writer, client_closed)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            client_closed.set()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", got_request, client_closed
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), DEADLINE)


async def _until_eof(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, closed: asyncio.Event) -> None:
    """Promise a long body, then send one byte every 50 ms (well inside any read timeout) until the client hangs up."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    eof = asyncio.create_task(_until_eof(reader))
    try:
        while not eof.done():
            writer.write(b" ")
            await writer.drain()
            await asyncio.wait({eof}, timeout=0.05)
    finally:
        eof.cancel()


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, closed: asyncio.Event) -> None:
    await _until_eof(reader)


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def test_a_dripping_server_is_cut_off_at_the_total_deadline() -> None:
    async with loopback_server(drip) as (base, _, closed):
        b = make(base_url=base, timeout=0.3, max_retries=1)
        timed_out = pytest.raises(BackendError, match=r"did not answer within 0.3 s.*gave up after 2 attempts")
        with collect_attempts() as attempts, timed_out:
            await asyncio.wait_for(b.complete(req()), DEADLINE)
        # the request was cancelled, so its connection was closed rather than left dripping
        await asyncio.wait_for(closed.wait(), DEADLINE)
        await b.aclose()
    assert [a.status for a in attempts] == [None, None]
    assert all(a.error and "timeout" in a.error for a in attempts)
    assert not other_tasks()


async def test_cancelling_a_call_in_flight_closes_its_connection() -> None:
    async with loopback_server(never_answer) as (base, got_request, closed):
        b = make(base_url=base, timeout=60, max_retries=0)
        task = asyncio.create_task(b.complete(req()))
        await asyncio.wait_for(got_request.wait(), DEADLINE)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, DEADLINE)
        await asyncio.wait_for(closed.wait(), DEADLINE)
        await b.aclose()
    assert not other_tasks()


async def test_run_level_wait_for_cancels_the_call() -> None:
    # what a run's wall-clock budget does: an asyncio timeout around the whole call
    async with loopback_server(never_answer) as (base, got_request, closed):
        b = make(base_url=base, timeout=60, max_retries=0)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(DEADLINE) as scope:
                call = asyncio.ensure_future(b.complete(req()))
                # the timeout fires once the server holds the request: the first call imports the
                # openai SDK (lazily), which on a loaded machine can outlast a fixed 0.2 s
                await asyncio.wait_for(got_request.wait(), DEADLINE)
                scope.reschedule(asyncio.get_running_loop().time() + 0.2)
                await call
        await asyncio.wait_for(closed.wait(), DEADLINE)
        await b.aclose()
    assert not other_tasks()


@respx.mock
@pytest.mark.parametrize("n", [1, 3])
async def test_n_injected_500s_leave_n_failed_attempts_in_the_trace(n: int) -> None:
    replies = [httpx.Response(500, json={"error": {"message": f"boom {i}"}}) for i in range(n)]
    respx.post(URL).mock(side_effect=[*replies, httpx.Response(200, json=body("The answer is 4."))])
    store = TraceStore(":memory:")
    result = await CoT().arun("What is 2 + 2?", backend=make(max_retries=n), store=store)
    assert result.answer == "4"
    (call,) = store.llm_calls(result.run_id)
    assert call.error is None and call.attempts is not None
    attempts = [Attempt.model_validate(a) for a in call.attempts]
    assert [a.status for a in attempts] == [500] * n + [200]
    assert [a.error is not None and f"boom {i}" in a.error for i, a in enumerate(attempts[:n])] == [True] * n
    assert attempts[-1].error is None
    assert all(a.latency_ms >= 0 for a in attempts) and attempts[0].delay_s == 0


@respx.mock
async def test_a_call_that_failed_after_every_retry_is_recorded_with_its_error() -> None:
    respx.post(URL).mock(return_value=httpx.Response(502, json={"error": {"message": "overloaded"}}))
    store = TraceStore(":memory:")
    with pytest.raises(BackendError, match="gave up after 3 attempts"):
        await CoT().arun("What is 2 + 2?", backend=make(max_retries=2), store=store)
    (run,) = store.list_runs()
    assert run.status == "error" and run.error and "overloaded" in run.error
    (call,) = store.llm_calls(run.id)
    assert call.response is None and call.error and "gave up after 3 attempts" in call.error
    assert call.attempts is not None and [a["status"] for a in call.attempts] == [502, 502, 502]


@respx.mock
async def test_a_200_that_is_not_json_is_retried_like_a_500() -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, text="<html>502 Bad Gateway</html>"),
            httpx.Response(200, json=body("four")),
        ]
    )
    with collect_attempts() as attempts:
        c = await make().complete(req())
    assert c.text == "four" and route.call_count == 2
    assert [a.status for a in attempts] == [200, 200]
    assert attempts[0].error is not None and "not JSON" in attempts[0].error


@respx.mock
async def test_attempts_are_not_collected_outside_a_collector() -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json=body("x")))
    with collect_attempts() as outer:
        pass
    await make().complete(req())
    assert outer == []
    assert json.loads(json.dumps([a.model_dump() for a in outer])) == []
