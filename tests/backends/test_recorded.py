"""The one recorded backend (`ReplayBackend`) and recorded tool set (`ToolReplay`) and their `on_miss`
policies: `raise` (replay), `live` (a fork with no edit), `edit` (a fork with an edit)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from ponder.backends.replay import ReplayBackend
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import BackendError, ConfigError, ReplayMiss
from ponder.replay.serving import ToolReplay
from ponder.runtime.context import RunContext
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message, Result, Task


def ask(text: str) -> CompletionRequest:
    return CompletionRequest(messages=(Message.user(text),))


class TwoQuestions:
    """Asks `first`, then a question built from its answer; answers with both replies."""

    name: ClassVar[str] = "two_questions"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        a = await ctx.complete(ask(task.input), label="first")
        b = await ctx.complete(ask(f"and after {a.text}?"), label="second")
        return Result(answer=f"{a.text}|{b.text}")


async def _recorded(store: TraceStore) -> str:
    result = await run_agent(TwoQuestions(), "start", backend=ScriptedBackend(["one", "two"]), store=store)
    assert result.answer == "one|two"
    return result.run_id or ""


async def test_raise_serves_the_recording_and_notes_a_miss(store: TraceStore) -> None:
    run = await _recorded(store)
    replay = ReplayBackend(store, run)
    again = await run_agent(TwoQuestions(), "start", backend=replay, store=store)
    assert again.answer == "one|two" and replay.served == 2 and again.usage.total_tokens > 0  # priced as recorded
    other = ReplayBackend(store, run)
    with pytest.raises(ReplayMiss):
        await run_agent(TwoQuestions(), "a different start", backend=other, store=store)
    assert len(other.misses) == 1 and "no recorded completion" in other.misses[0]


async def test_live_fills_every_miss_and_bills_only_what_went_live(store: TraceStore) -> None:
    run = await _recorded(store)
    live = ScriptedBackend(["ONE", "TWO"])
    fork = ReplayBackend(store, run, on_miss="live", live=live)
    changed = await run_agent(TwoQuestions(), "a different start", backend=fork, store=store)
    assert changed.answer == "ONE|TWO" and fork.live_calls == 2 and fork.served == 0
    same = ReplayBackend(store, run, on_miss="live", live=ScriptedBackend([]))
    served = await run_agent(TwoQuestions(), "start", backend=same, store=store)
    assert served.answer == "one|two" and served.usage.total_tokens == 0  # nothing was paid for


async def test_edit_answers_the_fork_point_and_later_misses_go_live(store: TraceStore) -> None:
    run = await _recorded(store)
    first = next(c for c in store.llm_calls([run]) if c.request["messages"][0]["content"] == "start")
    live = ScriptedBackend(["from the model"])
    fork = ReplayBackend(
        store, run, on_miss="edit", live=live, fork_at=(first.request_key, first.branch, first.sample_index), edit="1"
    )
    result = await run_agent(TwoQuestions(), "start", backend=fork, store=store)
    assert result.answer == "1|from the model" and fork.live_calls == 1  # the second question changed
    assert live.requests[0].messages[0].content == "and after 1?"


async def test_a_recorded_failure_fails_again(store: TraceStore) -> None:
    async def broken(req: CompletionRequest) -> str:
        raise BackendError("the server said 500")

    with pytest.raises(BackendError):
        await run_agent(TwoQuestions(), "start", backend=ScriptedBackend(broken), store=store)
    (run,) = [r.id for r in store.list_runs()]
    for policy in ("raise", "live"):
        backend = ReplayBackend(store, run, on_miss=policy, live=None if policy == "raise" else ScriptedBackend([]))  # type: ignore[arg-type]
        with pytest.raises(BackendError, match="the server said 500"):
            await run_agent(TwoQuestions(), "start", backend=backend, store=store)


def test_policies_are_checked(store: TraceStore) -> None:
    with pytest.raises(ConfigError, match="give one"):
        ReplayBackend(store, on_miss="live")
    with pytest.raises(ConfigError, match="go together"):
        ReplayBackend(store, on_miss="edit", live=ScriptedBackend([]))
    with pytest.raises(ConfigError, match="go together"):
        ToolReplay([], on_miss="raise", edit="x")


def test_tool_policies() -> None:
    replay = ToolReplay([])
    missed = replay.get("calc", {"x": 1}, "", 0)
    assert missed is not None and missed.error is not None and "never called in the recording" in missed.error
    assert ToolReplay([], on_miss="live").get("calc", {"x": 1}, "", 0) is None  # the tool is called
    fork = ToolReplay([], on_miss="edit", fork_at=("calc", {"x": 1}, "", 0), edit="42")
    at = fork.get("calc", {"x": 1}, "", 0)
    assert at is not None and at.result == "42"
    assert fork.get("calc", {"x": 1}, "", 0) is None  # past the fork point: live
