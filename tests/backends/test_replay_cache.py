import asyncio

import pytest

from ponder import CoT, ReplayBackend, ScriptedBackend, Task
from ponder.backends.cache import CachedBackend
from ponder.errors import ReplayMiss
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.types import CompletionRequest, Message, Result


async def test_replay_reproduces_answer_and_events(store):
    live = ScriptedBackend(["17*23: 340+51=391. The answer is 391."])
    r1 = await CoT().arun("What is 17 * 23?", backend=live, store=store)
    replay = ReplayBackend(store, r1.run_id)
    r2 = await CoT().arun("What is 17 * 23?", backend=replay, store=store)
    assert r2.answer == r1.answer == "391"
    strip = lambda rid: [(e.kind, e.label, e.summary, e.status) for e in store.events(rid)]  # noqa: E731
    assert strip(r1.run_id) == strip(r2.run_id)
    assert store.llm_calls(r2.run_id)[0].origin == "replay"


async def test_replay_miss_names_closest_request_and_diff(store):
    r1 = await CoT().arun("What is 17 * 23?", backend=ScriptedBackend(["The answer is 391."]), store=store)
    with pytest.raises(ReplayMiss) as info:
        await CoT(trigger="Think hard.").arun("What is 17 * 23?", backend=ReplayBackend(store, r1.run_id), store=store)
    msg = str(info.value)
    assert "closest recorded request" in msg
    assert "-A: Let's think step by step." in msg and "+A: Think hard." in msg


class Fanout(BaseAgent):
    """Test agent: k identical sampled requests in concurrent branches."""

    name = "fanout"
    k: int = 4

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        req = CompletionRequest(messages=(Message.user(task.input),), temperature=1.0)
        outs = await asyncio.gather(*(ctx.branch(i).complete(req) for i in range(self.k)))
        return Result(answer=",".join(o.text for o in outs))


async def test_identical_sampled_requests_each_get_their_own_recorded_answer(store):
    delays = iter([0.03, 0.0, 0.02, 0.01])

    async def slow(req):
        name = f"s{len(live.requests)}"
        await asyncio.sleep(next(delays))
        return name

    live = ScriptedBackend(slow)
    r1 = await Fanout().arun("sample", backend=live, store=store)
    assert r1.answer == "s1,s2,s3,s4"
    r2 = await Fanout().arun("sample", backend=ReplayBackend(store, r1.run_id), store=store)
    assert r2.answer == r1.answer
    assert sorted(c.sample_index for c in store.llm_calls(r1.run_id)) == [0, 0, 0, 0]
    assert sorted(c.branch for c in store.llm_calls(r1.run_id)) == ["0", "1", "2", "3"]


async def test_cached_backend_serves_second_call_and_keeps_samples_apart(store):
    inner = ScriptedBackend(["a", "b", "c", "d"])
    cached = CachedBackend(inner, store)
    r1 = await Fanout(k=2).arun("x", backend=cached, store=store)
    r2 = await Fanout(k=2).arun("x", backend=cached, store=store)
    assert r1.answer == r2.answer == "a,b"
    assert (cached.hits, cached.misses) == (2, 2)
    assert [c.origin for c in store.llm_calls(r2.run_id)] == ["cache", "cache"]
