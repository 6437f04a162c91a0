"""32 concurrent `openai` SDK clients against `ponder serve` and `ponder proxy`: every request has its
record (benchmarks/interop_load.py measures the same with the servers as processes of their own)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import openai

from ponder.backends.scripted import ScriptedBackend
from ponder.interop._http import ThreadedServer
from ponder.interop.proxy import RecordingProxy
from ponder.interop.serve import StrategyServer
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests.interop.conftest import Reply

CLIENTS = 32


async def _ask(url: str, i: int, model: str, *, stream: bool) -> str:
    client = openai.AsyncOpenAI(
        base_url=url, api_key="sk-none", max_retries=0, timeout=60, default_headers={"X-Ponder-Session": f"c{i}"}
    )
    messages: Any = [{"role": "user", "content": f"What is {i} * 3?"}]
    try:
        if stream:
            chunks = await client.chat.completions.create(model=model, messages=messages, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        reply = await client.chat.completions.create(model=model, messages=messages)
        return reply.choices[0].message.content or ""
    finally:
        await client.close()


async def _all(url: str, model: str) -> list[str]:
    return await asyncio.gather(*(_ask(url, i, model, stream=bool(i % 2)) for i in range(CLIENTS)))


def test_serve_holds_32_concurrent_clients_without_losing_a_run(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    def reply(req: CompletionRequest) -> list[str]:
        n = int(req.messages[-1].content.split("What is ")[1].split(" *")[0])
        return [f"So the answer is {n * 3}."] * req.n

    backend = ScriptedBackend(reply, latency=0.05)
    s = serve_app(StrategyServer(store, lambda up: backend, keepalive_s=0.05).app)
    answers = asyncio.run(_all(f"{s.url}/v1", "self_consistency#k=2"))
    assert answers == [str(i * 3) for i in range(CLIENTS)]
    runs = store.list_runs(limit=100)
    assert len(runs) == CLIENTS and {r.status for r in runs} == {"ok"}
    assert sorted(int(r.answer or -1) for r in runs) == [i * 3 for i in range(CLIENTS)]


def test_proxy_holds_32_concurrent_clients_without_losing_a_call(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply(f"echo: {body['messages'][-1]['content']}", delay=0.05))
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    answers = asyncio.run(_all(f"{s.url}/v1", "loopback-model"))
    assert answers == [f"echo: What is {i} * 3?" for i in range(CLIENTS)]
    runs = store.list_runs(limit=100)
    assert len(runs) == CLIENTS and {r.status for r in runs} == {"ok"}
    calls = store.all_llm_calls()
    assert len(calls) == CLIENTS and all(c.response is not None for c in calls)
    by_session = {r.config["session"]: r.answer for r in runs}
    assert by_session == {f"c{i}": f"echo: What is {i} * 3?" for i in range(CLIENTS)}
