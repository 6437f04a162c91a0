"""The AIMD controller (pure arithmetic) and the limiter that applies it; no clocks, no sleeps."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import respx

from ponder.backends.base import collect_attempts
from ponder.backends.concurrency import AIMD, ConcurrencyLimiter, shared_limiter, summarize_limits
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.types import CompletionRequest, Message

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"


def test_aimd_starts_high_halves_on_overload_and_grows_by_one_per_window() -> None:
    c = AIMD(64)
    assert c.limit == 64
    assert c.on_overload(c.epoch) and c.limit == 32
    assert c.on_overload(c.epoch) and c.limit == 16
    for _ in range(16):  # one window of successes at 16 -> 17
        c.on_success()
    assert c.limit == 17
    assert (c.decreases, c.lowest) == (2, 16)


def test_aimd_counts_one_signal_per_epoch() -> None:
    c = AIMD(64)
    admitted_before = c.epoch
    assert c.on_overload(admitted_before)
    # the rest of that over-full round answers 429 too: one cut, not twenty
    assert not any(c.on_overload(admitted_before) for _ in range(20))
    assert c.limit == 32 and c.decreases == 1


def test_aimd_bounds() -> None:
    c = AIMD(4, minimum=2, maximum=5)
    for _ in range(5):
        c.on_overload(c.epoch)
    assert c.limit == 2
    for _ in range(1000):
        c.on_success()
    assert c.limit == 5
    with pytest.raises(ValueError):
        AIMD(8, minimum=9)
    with pytest.raises(ValueError):
        AIMD(8, decrease=1.0)


async def test_limiter_admits_up_to_the_limit_then_queues_in_order() -> None:
    lim = ConcurrencyLimiter(aimd=AIMD(2))
    a, b = await lim.acquire(), await lim.acquire()
    assert lim.in_flight == 2
    waiter = asyncio.create_task(lim.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    lim.release(a, ok=True)
    c = await asyncio.wait_for(waiter, 5)
    assert lim.in_flight == 2 and c.limit == 2
    lim.release(b, overloaded=True)  # b was admitted in epoch 0: the limit halves to 1
    lim.release(c, overloaded=True)  # c too, but the cut already happened for that epoch
    s = lim.stats()
    assert (s.limit, s.lowest_limit, s.overloads, s.decreases, s.peak_in_flight) == (1, 1, 2, 1, 2)


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    lim = ConcurrencyLimiter(fixed=1)
    held = await lim.acquire()
    waiter = asyncio.create_task(lim.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    lim.release(held)
    again = await asyncio.wait_for(lim.acquire(), 5)
    assert lim.in_flight == 1 and again.limit == 1


async def test_a_weighted_request_holds_several_places_and_waiters_go_in_order() -> None:
    lim = ConcurrencyLimiter(fixed=4)
    one = await lim.acquire()
    group = asyncio.create_task(lim.acquire(weight=3))
    await asyncio.sleep(0)
    assert group.done() and lim.in_flight == 4  # 1 + 3 fit
    big = asyncio.create_task(lim.acquire(weight=4))
    await asyncio.sleep(0)
    small = asyncio.create_task(lim.acquire())
    lim.release(one)
    await asyncio.sleep(0)
    assert not big.done() and not small.done(), "the one free place waits for the four the first waiter needs"
    lim.release(group.result())
    got = await asyncio.wait_for(big, 5)
    assert got.weight == 4 and lim.in_flight == 4 and not small.done()
    lim.release(got)
    last = await asyncio.wait_for(small, 5)
    assert last.weight == 1 and lim.stats().peak_in_flight == 4
    lim.release(last)
    assert (await asyncio.wait_for(lim.acquire(weight=9), 5)).weight == 4, "never more places than the limit"


async def test_a_waiter_cancelled_after_it_was_admitted_gives_its_places_back() -> None:
    lim = ConcurrencyLimiter(fixed=2)
    held = await lim.acquire(weight=2)
    waiter = asyncio.create_task(lim.acquire(weight=2))
    await asyncio.sleep(0)
    lim.release(held)  # admits the waiter (its places are taken now) ...
    waiter.cancel()  # ... which leaves before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert lim.in_flight == 0
    assert (await asyncio.wait_for(lim.acquire(weight=2), 5)).weight == 2


def test_fixed_limiter_does_not_adapt() -> None:
    lim = ConcurrencyLimiter(fixed=3)

    async def go() -> None:
        slot = await lim.acquire()
        lim.release(slot, overloaded=True, retry_after=100)

    asyncio.run(go())
    assert lim.limit == 3 and not lim.stats().adaptive
    with pytest.raises(ValueError):
        ConcurrencyLimiter()


def test_one_shared_limiter_per_server() -> None:
    assert shared_limiter("http://a/v1") is shared_limiter("http://a/v1")
    assert shared_limiter("http://a/v1") is not shared_limiter("http://b/v1")


def body(text: str) -> dict[str, Any]:
    return {"model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def make(**kw: Any) -> OpenAICompatBackend:
    b = OpenAICompatBackend(base_url=BASE, model="m", **kw)

    async def no_sleep(_: float) -> None:
        return None

    b._sleep = no_sleep
    return b


def req() -> CompletionRequest:
    return CompletionRequest(messages=(Message.user("2 + 2?"),))


@respx.mock
async def test_backends_of_one_server_share_the_adaptive_limit_and_record_it() -> None:
    respx.post(URL).mock(
        side_effect=[httpx.Response(429, json={"error": {"message": "slow down"}}), httpx.Response(200, json=body("4"))]
    )
    first, second = make(), make()
    assert first.limiter is second.limiter and first.adaptive
    with collect_attempts() as attempts:
        await first.complete(req())
    assert [(a.status, a.concurrency) for a in attempts] == [(429, 64), (200, 32)]
    assert attempts[1].delay_s == 0  # the limiter paces the retry, no extra backoff on top
    assert second.limiter.limit == 32
    figures = summarize_limits(a.model_dump() for a in attempts)
    assert figures == {"attempts": 2, "overloaded": 1, "min_limit": 32, "max_limit": 64}


@respx.mock
async def test_a_fixed_concurrency_wins() -> None:
    respx.post(URL).mock(
        side_effect=[httpx.Response(429, json={"error": {"message": "slow down"}}), httpx.Response(200, json=body("4"))]
    )
    b = make(concurrency=16)
    with collect_attempts() as attempts:
        await b.complete(req())
    assert [(a.status, a.concurrency) for a in attempts] == [(429, 16), (200, 16)]
    assert b.limiter.limit == 16 and not b.adaptive
    assert shared_limiter(BASE).limit == 64  # the shared one was not touched


@respx.mock
@pytest.mark.parametrize(("concurrency", "attempts"), [(None, 1 + 2 + 6), (4, 1 + 2)])
async def test_a_server_that_always_says_429_is_given_up_on(concurrency: int | None, attempts: int) -> None:
    from ponder.errors import BackendError

    route = respx.post(URL).mock(return_value=httpx.Response(429, json={"error": {"message": "no"}}))
    b = make(concurrency=concurrency, max_retries=2)
    with pytest.raises(BackendError, match=f"gave up after {attempts} attempts"):
        await b.complete(req())
    assert route.call_count == attempts
    if concurrency is None:
        assert b.limiter.limit == 1  # halved all the way down
