"""Agent faults (issue 9 §2-3): a failed sample, a malformed or flooding tool call, a parroted
error, and a wall-clock budget that holds while a request or a tool call is in flight."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx

from ponder.agents.react import ReAct
from ponder.agents.react_text import parse_action
from ponder.agents.self_consistency import SelfConsistency
from ponder.backends.scripted import ScriptedBackend, tool_call
from ponder.errors import BackendError, PonderError, RunTimedOut
from ponder.runtime.budget import Budget
from ponder.runtime.runner import run_agent
from ponder.tools.base import tool
from ponder.traces.store import TraceStore
from ponder.types import Choice, CompletionRequest, ToolCall

# -- self-consistency: one bad sample does not sink the vote ---------------------------------


def failing_paths(bad: set[int]) -> Any:
    """Path i (told apart by its branch) answers 'The answer is 7.' unless i is in `bad`: then a 500."""
    from ponder.backends.base import current_call_site

    def answer(req: CompletionRequest) -> str:
        site = current_call_site.get()
        i = int(site.branch) if site is not None else 0
        if i in bad:
            raise BackendError("server said 500")
        return "The answer is 7."

    return answer


async def test_a_failed_sample_is_recorded_and_the_vote_goes_on(store: TraceStore) -> None:
    sc = SelfConsistency(k=5, use_n=False)
    result = await run_agent(sc, "q?", backend=ScriptedBackend(failing_paths({1})), store=store)
    assert (result.status, result.answer) == ("ok", "7")
    assert result.metadata["failed"] == 1
    events = list(store.iter_events(result.run_id))
    paths = {e.data["index"]: e for e in events if e.kind == "path" and e.data}
    assert paths[1].status == "error" and "server said 500" in (paths[1].data or {})["error"]
    assert all(paths[i].status == "ok" for i in (0, 2, 3, 4))
    vote = next(e for e in events if e.kind == "vote")
    assert (vote.data or {})["failed"] == 1 and (vote.data or {})["tally"] == {"7": 4}
    assert "1 of 5 samples failed" in vote.summary
    assert not [e for e in events if e.status == "running"]


async def test_too_few_successes_fail_the_run_with_every_path_closed(store: TraceStore) -> None:
    sc = SelfConsistency(k=5, use_n=False)  # a majority (3) must succeed
    with pytest.raises(PonderError, match=r"only 2 of 5 samples succeeded, fewer than min_successes=3"):
        await run_agent(sc, "q?", backend=ScriptedBackend(failing_paths({0, 2, 4})), store=store)
    run = store.list_runs(limit=1)[0]
    assert run.status == "error" and "min_successes=3" in (run.error or "")
    events = list(store.iter_events(run.id))
    assert not [e for e in events if e.status == "running"]
    assert sorted(e.data["index"] for e in events if e.kind == "path" and e.status == "error" and e.data) == [0, 2, 4]


async def test_min_successes_is_configurable(store: TraceStore) -> None:
    sc = SelfConsistency(k=5, use_n=False, min_successes=2)
    result = await run_agent(sc, "q?", backend=ScriptedBackend(failing_paths({0, 2, 4})), store=store)
    assert result.answer == "7" and result.metadata["failed"] == 3
    with pytest.raises(Exception, match="more than k"):
        SelfConsistency(k=3, min_successes=4)


# -- ReAct: malformed and flooding native tool calls, parroted errors -----------------------


def test_openai_backend_keeps_a_malformed_tool_call_for_the_agent() -> None:
    from ponder.backends.openai_compat import parse_chat_completion

    body = {
        "choices": [
            {
                "message": {
                    "content": "",
                    "tool_calls": [
                        {"id": "a", "function": "calculator(2+2)"},
                        {"id": "b", "function": {"arguments": "{}"}},
                        {"id": "c", "function": {"name": "calculator", "arguments": '{"expression": "1+1"}'}},
                    ],
                }
            }
        ]
    }
    choices, _, _ = parse_chat_completion(body)
    calls = choices[0].tool_calls or ()
    assert [c.name for c in calls] == ["", "", "calculator"]
    assert json.loads(calls[0].arguments)["function"] == "calculator(2+2)"


async def test_a_malformed_native_tool_call_becomes_an_observation(store: TraceStore) -> None:
    bad = Choice(text="", tool_calls=(ToolCall(id="x", name="", arguments='{"function": 3}'),))
    backend = ScriptedBackend([bad, tool_call("finish", '{"answer": "4"}')])
    result = await run_agent(ReAct(mode="native", tools=["calculator"]), "2+2?", backend=backend, store=store)
    assert result.answer == "4"
    events = list(store.iter_events(result.run_id))
    assert any(e.kind == "action" and e.status == "invalid" and e.label == "(malformed tool call)" for e in events)
    second = backend.requests[1].messages
    assert second[-1].role == "user" and "no function name" in second[-1].content
    assert not any(m.tool_calls for m in second)  # a nameless call is never sent back to the server


async def test_more_tool_calls_than_max_tool_calls_are_refused(store: TraceStore) -> None:
    ran = 0

    @tool
    def count(n: int) -> str:
        """Counts calls."""
        nonlocal ran
        ran += 1
        return str(n)

    flood = Choice(text="", tool_calls=tuple(ToolCall(id=f"c{i}", name="count", arguments=f'{{"n": {i}}}')
                                              for i in range(1000)))  # fmt: skip
    backend = ScriptedBackend([flood, tool_call("finish", '{"answer": "done"}')])
    agent = ReAct(mode="native", max_tool_calls=3)
    result = await run_agent(agent, "go", backend=backend, store=store, tools={"count": count})
    assert ran == 3 and result.answer == "done"
    second = backend.requests[1].messages
    assert len(second[2].tool_calls or ()) == 3  # only the calls that ran are in the conversation
    assert "997 more tool calls were refused" in second[-1].content
    refused = [e for e in store.iter_events(result.run_id) if e.label.endswith("tool calls refused)")]
    assert refused and (refused[0].data or {})["refused"] == 997


def test_a_parroted_placeholder_is_not_an_answer() -> None:
    echo = (
        "Invalid action: no 'Action:' line found; reply with 'Thought: ...' and then "
        "'Action: tool[input]' or 'Action: finish[answer]'"
    )
    assert parse_action(echo).error is not None
    assert parse_action("Thought: done\nAction: finish[answer]").error is not None
    assert parse_action("Thought: done\nAction: finish[42]").arg == "42"


async def test_text_mode_after_a_malformed_reply_no_answer_is_not_an_answer(store: TraceStore) -> None:
    def parrot(req: CompletionRequest) -> str:
        last = req.messages[-1].content
        return last.removeprefix("Observation: ") if last.startswith("Observation:") else "1234 * 5678 = 71900"

    agent = ReAct(mode="text", tools=["calculator"], max_steps=3)
    result = await run_agent(agent, "What is 1234 * 5678?", backend=ScriptedBackend(parrot), store=store)
    assert result.answer is None
    assert store.get_run(result.run_id).answer is None


async def test_native_prose_that_parrots_an_error_is_not_an_answer(store: TraceStore) -> None:
    backend = ScriptedBackend(["Error: the reply was empty; call a tool, or call finish with the answer."] * 2)
    result = await run_agent(ReAct(mode="native", max_steps=2), "q?", backend=backend, store=store)
    assert result.answer is None


# -- the wall-clock budget holds while work is in flight ------------------------------------


async def never_answers(req: CompletionRequest) -> str:
    await asyncio.Event().wait()  # a server that never answers
    return "unreachable"


async def test_timeout_cancels_a_request_in_flight_and_records_the_run(store: TraceStore) -> None:
    from ponder.agents.cot import CoT

    run = run_agent(CoT(), "q?", backend=ScriptedBackend(never_answers), store=store, budget=Budget(timeout_s=0.2))
    with pytest.raises(RunTimedOut, match=r"0\.2 s wall timeout"):
        await asyncio.wait_for(run, 30)  # the guard: before the fix this waited forever
    rec = store.list_runs(limit=1)[0]
    assert rec.status == "timeout" and "wall timeout" in (rec.error or "")
    events = list(store.iter_events(rec.id))
    call = next(e for e in events if e.kind == "llm_call")
    assert call.status == "cancelled"
    assert [e.label for e in events if e.kind == "error"] == ["timeout"]
    assert len(store.llm_calls([rec.id])) == 1  # the cancelled request is recorded, nothing lost


async def test_timeout_cancels_a_tool_call_in_flight(store: TraceStore) -> None:
    @tool(timeout=None)
    async def hang(x: str) -> str:
        """Never returns."""
        await asyncio.Event().wait()
        return x

    backend = ScriptedBackend([tool_call("hang", '{"x": "a"}')])
    agent = ReAct(mode="native")
    run = run_agent(agent, "q?", backend=backend, store=store, tools={"hang": hang}, budget=Budget(timeout_s=0.2))
    with pytest.raises(RunTimedOut):
        await asyncio.wait_for(run, 30)
    rec = store.list_runs(limit=1)[0]
    assert rec.status == "timeout"
    calls = store.tool_calls([rec.id])
    assert len(calls) == 1 and "cancelled" in (calls[0].error or "")
    assert not [e for e in store.iter_events(rec.id) if e.status == "running"]


@respx.mock
async def test_timeout_holds_against_a_real_http_backend(store: TraceStore) -> None:
    """The openai backend waiting on a server that never answers is cancelled by the run's budget."""
    from ponder.agents.cot import CoT
    from ponder.backends.openai_compat import OpenAICompatBackend

    async def stall(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        return httpx.Response(200)

    respx.post("http://127.0.0.1:9/v1/chat/completions").mock(side_effect=stall)
    backend = OpenAICompatBackend(base_url="http://127.0.0.1:9/v1", model="m", api_key="k")
    run = run_agent(CoT(), "q?", backend=backend, store=store, budget=Budget(timeout_s=0.3))
    with pytest.raises(RunTimedOut):
        await asyncio.wait_for(run, 30)
    assert store.list_runs(limit=1)[0].status == "timeout"
