"""ReAct with ScriptedBackend: text and native modes, malformed actions, tool failures, envs, events."""

from __future__ import annotations

import asyncio
import json

import pytest

from ponder.agents.react import ReAct
from ponder.agents.react_text import parse_action
from ponder.backends.scripted import ScriptedBackend, tool_call
from ponder.envs.household import HouseholdEnv, make_task
from ponder.tools.base import tool
from ponder.traces.store import TraceStore
from ponder.types import Choice, CompletionRequest, Task


def kinds(store: TraceStore, run_id: str) -> list[str]:
    return [e.kind for e in store.iter_events(run_id)]


async def test_text_mode_calculator_then_finish(store: TraceStore) -> None:
    backend = ScriptedBackend(
        [
            "Thought: I should multiply.\nAction: calculator[1234 * 5678]\nObservation: (made up)",
            "Thought: Done.\nAction: Finish[7006652]",
        ],
        supports_tools=False,
    )
    result = await ReAct().arun("What is 1234 * 5678?", backend=backend, store=store)
    assert result.answer == "7006652"
    assert result.metadata["mode"] == "text" and result.metadata["steps"] == 2
    # the tool's real result, not the model's invented observation, is what the model sees next
    second = backend.requests[1]
    assert second.messages[-1].content == "Observation: 7006652"
    assert second.messages[-2].content == "Thought: I should multiply.\nAction: calculator[1234 * 5678]"
    assert second.stop == ("\nObservation:",) and second.tools is None
    calls = store.tool_calls(result.run_id)
    assert [(c.tool, c.args, c.result, c.error) for c in calls] == [("calculator", "1234 * 5678", "7006652", None)]
    # thought, action and observation are siblings under a step event
    events = list(store.iter_events(result.run_id))
    steps = [e for e in events if e.kind == "step"]
    assert len(steps) == 2 and all(e.parent_seq is None for e in steps)
    first = [e for e in events if e.parent_seq == steps[0].seq]
    assert [e.kind for e in first] == ["llm_call", "thought", "action", "observation"]
    assert first[2].label == "calculator[1234 * 5678]" and first[2].data == {
        "tool": "calculator",
        "input": "1234 * 5678",
    }
    assert first[3].data == {"text": "7006652"}
    assert calls[0].event_seq == first[2].seq
    assert kinds(store, result.run_id)[-1] == "answer"


async def test_text_mode_malformed_actions_become_observations(store: TraceStore) -> None:
    backend = ScriptedBackend(
        [
            "I am not sure what to do.",
            "Thought: try\nAction: calculator 2+2",
            "Thought: x\nAction: teleport[Mars]",
            "Thought: y\nAction: calculator[2 +]",
            "Thought: ok\nAction: finish[4]",
        ],
        supports_tools=False,
    )
    result = await ReAct(max_steps=6).arun(Task(id="t", input="2+2?", expected="4"), backend=backend, store=store)
    assert result.answer == "4" and result.correct is True
    seen = [r.messages[-1].content for r in backend.requests[1:]]
    assert seen[0].startswith("Observation: Invalid action: no 'Action:' line found")
    assert seen[1].startswith("Observation: Invalid action: invalid action 'calculator 2+2'")
    assert "unknown tool 'teleport'; available tools: calculator, lookup, search" in seen[2]
    assert seen[3].startswith("Observation: Error: cannot parse '2 +'")
    obs = [e for e in store.iter_events(result.run_id) if e.kind == "observation"]
    assert [e.status for e in obs] == ["error"] * 4
    invalid = [e for e in store.iter_events(result.run_id) if e.kind == "action" and e.status == "invalid"]
    assert len(invalid) == 2
    assert [c.tool for c in store.tool_calls(result.run_id)] == ["teleport", "calculator"]


async def test_native_mode_tool_calls_and_finish(store: TraceStore) -> None:
    backend = ScriptedBackend(
        [
            tool_call("calculator", json.dumps({"expression": "1234 * 5678"}), id="c1"),
            tool_call("finish", json.dumps({"answer": "7006652"}), id="c2"),
        ]
    )
    result = await ReAct().arun("What is 1234 * 5678?", backend=backend, store=store)
    assert result.answer == "7006652" and result.metadata["mode"] == "native"
    first, second = backend.requests
    assert [t.name for t in first.tools or ()] == ["calculator", "search", "lookup", "finish"]
    assert first.tools and first.tools[0].parameters["required"] == ["expression"]
    assert second.messages[-2].tool_calls and second.messages[-2].tool_calls[0].id == "c1"
    assert (second.messages[-1].role, second.messages[-1].content, second.messages[-1].tool_call_id) == (
        "tool",
        "7006652",
        "c1",
    )
    calls = store.tool_calls(result.run_id)
    assert [(c.tool, c.args, c.result) for c in calls] == [("calculator", {"expression": "1234 * 5678"}, "7006652")]


async def test_native_mode_bad_arguments_and_prose_answer(store: TraceStore) -> None:
    backend = ScriptedBackend(
        [
            tool_call("calculator", "{not json", id="a"),
            tool_call("calculator", json.dumps({"expr": "1"}), id="b"),
            tool_call("calculator", json.dumps(["1"]), id="c"),
            Choice(text=""),
            Choice(text="So 2 + 2 makes 4."),
        ]
    )
    result = await ReAct(mode="native").arun("2+2?", backend=backend, store=store)
    assert result.answer == "4"
    tool_msgs = [r.messages[-1].content for r in backend.requests[1:4]]
    assert "not valid JSON" in tool_msgs[0]
    assert "bad arguments for tool 'calculator': expression: Field required" in tool_msgs[1]
    assert "must be a JSON object" in tool_msgs[2]
    assert "the reply was empty" in backend.requests[4].messages[-1].content


async def test_native_mode_text_action_fallback(store: TraceStore) -> None:
    backend = ScriptedBackend(["Thought: hmm\nAction: calculator[6*7]", "Action: finish[42]"])
    result = await ReAct().arun("6*7?", backend=backend, store=store)
    assert result.answer == "42"
    assert backend.requests[1].messages[-1].content == "Observation: 42"


async def test_tools_that_raise_hang_or_return_non_text(store: TraceStore) -> None:
    @tool
    def broken(x: str) -> str:
        """Raises."""
        raise RuntimeError("disk on fire")

    @tool(timeout=0.05)
    async def hangs(x: str) -> str:
        """Never returns."""
        await asyncio.Event().wait()
        return ""

    @tool
    def number(x: str) -> str:
        """Returns an int."""
        return 7  # type: ignore[return-value]

    backend = ScriptedBackend(
        ["Action: broken[a]", "Action: hangs[b]", "Action: number[c]", "Action: finish[gave up]"],
        supports_tools=False,
    )
    tools = {t.name: t for t in (broken, hangs, number)}
    result = await ReAct().arun("?", backend=backend, store=store, tools=tools)
    assert result.answer == "gave up"
    seen = [r.messages[-1].content for r in backend.requests[1:]]
    assert "RuntimeError: disk on fire" in seen[0]
    assert "timed out after 0.05 s" in seen[1]
    assert "returned int, not text" in seen[2]
    errors = [c.error for c in store.tool_calls(result.run_id)]
    assert all(errors) and len(errors) == 3
    assert "broken[input]: Raises." in backend.requests[0].messages[0].content  # user tools described


async def test_multi_argument_tools_take_json_in_text_mode(store: TraceStore) -> None:
    @tool
    def add(a: int, b: int) -> str:
        """Adds."""
        return str(a + b)

    backend = ScriptedBackend(["Action: add[1, 2]", 'Action: add[{"a": 1, "b": 2}]', "Action: finish[3]"])
    result = await ReAct(mode="text").arun("1+2", backend=backend, store=store, tools={"add": add})
    assert result.answer == "3"
    assert 'add[{"a": ..., "b": ...}]: Adds.' in backend.requests[0].messages[0].content
    assert "give them as a JSON object" in backend.requests[1].messages[-1].content
    assert backend.requests[2].messages[-1].content == "Observation: 3"


async def test_max_steps_stops_without_answer(store: TraceStore) -> None:
    backend = ScriptedBackend(lambda req: "Thought: again\nAction: calculator[1+1]", supports_tools=False)
    result = await ReAct(max_steps=3).arun("loop", backend=backend, store=store)
    assert result.answer is None and result.metadata["stopped"] == "max_steps"
    assert len(backend.requests) == 3
    errs = [e for e in store.iter_events(result.run_id) if e.kind == "error"]
    assert errs and "max_steps=3" in errs[0].summary


async def test_search_and_lookup_over_shipped_corpus(store: TraceStore) -> None:
    backend = ScriptedBackend(
        [
            "Thought: find Ada.\nAction: search[Ada Lovelace]",
            "Thought: her father?\nAction: lookup[poet]",
            "Thought: it is Byron.\nAction: finish[Lord Byron]",
        ],
        supports_tools=False,
    )
    task = Task(id="qa-1", input="Who was Ada Lovelace's father?", expected="Lord Byron", metadata={"env": "qa"})
    result = await ReAct().arun(task, backend=backend, store=store)
    assert result.correct is True and result.score == 1.0  # scored by the qa env (EM, F1)
    assert "Analytical Engine" in backend.requests[1].messages[-1].content
    assert backend.requests[2].messages[-1].content == (
        "Observation: (Result 1 / 1) She was the only legitimate child of the poet Lord Byron."
    )


async def test_reflections_appear_before_the_question(store: TraceStore) -> None:
    backend = ScriptedBackend(["Action: finish[7]"], supports_tools=False)
    await ReAct(reflections=["Check units first."]).arun("q?", backend=backend, store=store)
    user = backend.requests[0].messages[1].content
    assert user.startswith("Lessons from your earlier attempts") and "- Check units first." in user
    assert user.endswith("Question: q?")


@pytest.mark.parametrize("mode", ["text", "native"])
async def test_acts_in_household_until_done(store: TraceStore, mode: str) -> None:
    task = make_task(4, 2)
    plan = HouseholdEnv().solve(task)

    def respond(req: CompletionRequest) -> Choice | str:
        i = sum(1 for m in req.messages if m.role == "assistant")
        if mode == "text":
            return f"Thought: step {i}\nAction: {plan[i]}" if i % 2 else f"Thought: step {i}\nAction: env[{plan[i]}]"
        return tool_call("env", json.dumps({"action": plan[i]}), id=f"e{i}")

    backend = ScriptedBackend(respond, supports_tools=mode == "native")
    result = await ReAct(max_steps=20, tools=[]).arun(task, backend=backend, store=store)
    assert result.correct is True and result.score == 1.0
    assert result.answer == "\n".join(plan)
    assert HouseholdEnv().evaluate(task, result.answer).correct is True
    assert len(backend.requests) == len(plan)
    first_user = backend.requests[0].messages[1].content
    assert first_user.startswith("You are in the middle of a") and task.metadata["goal"] in first_user
    if mode == "text":  # the worked example fits an env task, not arithmetic
        system = backend.requests[0].messages[0].content
        assert "Action: env[go to countertop 1]" in system and "calculator[" not in system


async def test_household_nonsense_actions_are_observed(store: TraceStore) -> None:
    backend = ScriptedBackend(["Action: env[dance wildly]", "Action: fly to the moon", "Action: finish[done]"])
    result = await ReAct(mode="text", tools=[]).arun(make_task(1, 1), backend=backend, store=store)
    assert result.correct is False and result.score == 0.0
    assert backend.requests[1].messages[-1].content == "Observation: Nothing happens."
    assert backend.requests[2].messages[-1].content == "Observation: Nothing happens."


def test_parse_action_is_robust_to_junk() -> None:
    assert parse_action("Thought 3: hm\nAction 3: Search[Apple Remote]\nObservation 3: fake").arg == "Apple Remote"
    assert parse_action("**Action:** `lookup[born]`").name == "lookup"
    assert parse_action("the answer: finish[  42 ]").name == "finish"
    assert parse_action("Action: python[print([1, 2])]").arg == "print([1, 2])"
    assert parse_action("").error is not None
    assert parse_action("Action: [x]").error is not None
    assert parse_action("Action:\x1b[31m red").error is not None


@pytest.mark.parametrize("native", [False, True])
async def test_replay_reproduces_events_without_calling_tools(store: TraceStore, native: bool) -> None:
    from ponder.backends.replay import ReplayBackend
    from ponder.replay.serving import ToolReplay

    side_effects: list[str] = []

    @tool
    def shout(text: str) -> str:
        """Shouts (a side effect a replay must not repeat)."""
        side_effects.append(text)
        return text.upper()

    if native:
        script: list = [
            tool_call("shout", json.dumps({"text": "hi"}), id="s1"),
            tool_call("finish", '{"answer": "HI"}'),
        ]
    else:
        script = ["Thought: shout it\nAction: shout[hi]", "Action: finish[HI]"]
    backend = ScriptedBackend(script, supports_tools=native)
    first = await ReAct().arun("Shout hi", backend=backend, store=store, tools={"shout": shout})
    assert first.answer == "HI" and side_effects == ["hi"]

    replay = ReplayBackend(store, first.run_id)
    assert replay.capabilities.tools is native
    tool_replay = ToolReplay(store.tool_calls(first.run_id))
    again = await ReAct().arun("Shout hi", backend=replay, store=store, tools={"shout": shout}, tool_replay=tool_replay)
    assert again.answer == "HI" and side_effects == ["hi"]  # served from the recording

    def shape(run_id: str) -> list[tuple]:
        return [(e.kind, e.label, e.parent_seq, e.status, e.summary) for e in store.iter_events(run_id)]

    assert shape(again.run_id) == shape(first.run_id)


async def test_empty_finish_is_refused_and_final_answer_lines_accepted(store: TraceStore) -> None:
    backend = ScriptedBackend(["Action: finish[]", "Thought: ok\nFinal Answer: 12"], supports_tools=False)
    result = await ReAct().arun("?", backend=backend, store=store)
    assert result.answer == "12"
    assert "finish needs the answer" in backend.requests[1].messages[-1].content

    native = ScriptedBackend([tool_call("finish", '{"answer": "  "}', id="f"), tool_call("finish", '{"answer": 12}')])
    result = await ReAct().arun("?", backend=native, store=store)
    assert result.answer == "12"
    assert native.requests[1].messages[-1].role == "tool" and "non-empty" in native.requests[1].messages[-1].content


async def test_concurrent_branches_keep_their_own_lookup_page(store: TraceStore) -> None:
    from typing import ClassVar

    from ponder.backends.base import current_call_site
    from ponder.runtime.base import BaseAgent
    from ponder.runtime.context import RunContext
    from ponder.tools.base import build_tools
    from ponder.types import Result

    pages = {"0": "Ada Lovelace", "1": "Charles Babbage"}

    def respond(req: CompletionRequest):
        site = current_call_site.get()
        assert site is not None
        step = sum(1 for m in req.messages if m.role == "assistant")
        text = [f"Action: search[{pages[site.branch]}]", "Action: lookup[born]", "Action: finish[done]"][step]

        async def later() -> str:
            await asyncio.sleep(0)  # let the other branch run in between
            return text

        return later()

    class Pair(BaseAgent):
        name: ClassVar[str] = "pair"

        async def solve(self, task: Task, ctx: RunContext) -> Result:
            inner = ReAct(mode="text")
            results = await asyncio.gather(*(inner.solve(task, ctx.branch(i)) for i in range(2)))
            return Result(answer="|".join(r.answer or "" for r in results))

    backend = ScriptedBackend(respond, supports_tools=False)
    tools = build_tools(["search", "lookup"])
    result = await Pair().arun("?", backend=backend, store=store, tools=tools)
    assert result.answer == "done|done"
    lookups = {c.branch: c.result for c in store.tool_calls(result.run_id) if c.tool == "lookup"}
    assert lookups["0"] == "(Result 1 / 1) She was born in London."
    assert lookups["1"] == "(Result 1 / 1) He was born in London."


async def test_python_tool_only_when_listed(store: TraceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    backend = ScriptedBackend(
        ["Action: python[print(6 * 7)]", "Action: python[import os; print(os.environ.get('OPENAI_API_KEY'))]",
         "Action: finish[42]"],
        supports_tools=False,
    )  # fmt: skip
    result = await ReAct(tools=["python"]).arun("6*7 by code", backend=backend, store=store)
    assert result.answer == "42"
    assert backend.requests[1].messages[-1].content == "Observation: 42\n"
    assert backend.requests[2].messages[-1].content == "Observation: None\n"
    assert "- python[input]: Run Python code in a sandbox" in backend.requests[0].messages[0].content
    default = ScriptedBackend(["Action: python[print(1)]", "Action: finish[7]"], supports_tools=False)
    await ReAct().arun("?", backend=default, store=store)
    assert "python[" not in default.requests[0].messages[0].content
    assert "unknown tool 'python'" in default.requests[1].messages[-1].content
