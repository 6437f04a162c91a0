"""ReAct reads a finish answer as `ponder.parsing.answer_value` does: the number a real model states, never
a template's placeholder."""

from __future__ import annotations

import pytest

from ponder.agents.react import ReAct
from ponder.agents.react_text import parse_action, reply_answer
from ponder.backends.scripted import ScriptedBackend, tool_call
from ponder.traces.store import TraceStore
from ponder.types import Task


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("Thought: The result is 789.\nAction: finish[789]", "789"),
        ("Thought: done.\nAction: finish[The answer is 1,250.]", "1250"),
        ("Thought: Mia pays 3 * 20.\nAction: finish[3 * 20]", "60"),
        ("Thought: found it.\nAction: finish[Lord Byron]", "Lord Byron"),
        ("Thought: I need 35 * 27.\nAction: calculator[35 * 27]", None),
        ("Thought: Rounded down, that is 945.", None),  # no action: the agent answers with an error
        ("Thought: done\nAction: finish[X]", None),
        ("Thought: done\nAction: finish[<answer>]", None),
    ],
)
def test_reply_answer(reply: str, answer: str | None) -> None:
    assert reply_answer(reply) == answer


@pytest.mark.parametrize("arg", ["X", "answer", "<answer>", "your answer", "The answer is X"])
def test_a_placeholder_finish_is_refused_and_said_so(arg: str) -> None:
    act = parse_action(f"Thought: done\nAction: finish[{arg}]")
    assert act.error is not None and "placeholder" in act.error


async def test_the_run_answer_is_the_read_value(store: TraceStore) -> None:
    backend = ScriptedBackend(["Thought: done.\nAction: finish[**$1,250**]"], supports_tools=False)
    result = await ReAct(mode="text").arun(Task(id="t", input="q?", expected="1250"), backend=backend, store=store)
    assert result.answer == "1250" and result.correct is True


async def test_a_native_finish_with_a_placeholder_is_refused(store: TraceStore) -> None:
    backend = ScriptedBackend(
        [
            tool_call("finish", '{"answer": "X"}', id="c1"),
            tool_call("finish", '{"answer": "The answer is 42."}', id="c2"),
        ],
        supports_tools=True,
    )
    result = await ReAct(mode="native").arun("q?", backend=backend, store=store)
    assert result.answer == "42"
    assert "not a placeholder" in backend.requests[1].messages[-1].content
