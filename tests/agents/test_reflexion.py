"""Reflexion: trials as child runs, reflections in memory, shown to the next trial, kept across processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.agents.reflexion import Reflexion
from ponder.backends.scripted import ScriptedBackend
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task

LESSON = "I multiplied wrong; use the calculator instead of mental arithmetic."


def react_script(req: CompletionRequest) -> str:
    """A model that guesses unless a reflection tells it to use the calculator."""
    system, user = req.messages[0].content, req.messages[1].content
    if system.startswith("You are an advanced reasoning agent"):
        return LESSON
    if "use the calculator" not in user:
        return "Thought: easy.\nAction: finish[7006650]"
    if req.messages[-1].content.startswith("Observation:"):
        return "Thought: now I know.\nAction: finish[7006652]"
    return "Thought: compute it.\nAction: calculator[1234 * 5678]"


async def test_succeeds_on_second_trial_because_of_its_reflection(store: TraceStore) -> None:
    backend = ScriptedBackend(react_script, supports_tools=False)
    task = Task(id="mul", input="What is 1234 * 5678?", expected="7006652")
    result = await Reflexion(inner_config={"mode": "text"}).arun(task, backend=backend, store=store)
    assert result.answer == "7006652" and result.correct is True
    assert result.metadata == {"trials": 2, "evaluator": "exact", "namespace": "mul"}
    # the reflection is in the second trial's prompt, not the first
    firsts = [r for r in backend.requests if r.messages[1].content.endswith("Question: What is 1234 * 5678?")]
    assert LESSON not in firsts[0].messages[1].content
    assert f"- {LESSON}" in firsts[1].messages[1].content
    # trials are child runs; the parent records memory and trial events
    children = store.child_runs(result.run_id)
    assert [(c.agent, c.answer) for c in children] == [("react", "7006650"), ("react", "7006652")]
    events = list(store.iter_events(result.run_id))
    top = [e.kind for e in events if e.parent_seq is None]
    assert top == ["memory_read", "trial", "memory_read", "trial", "answer"]
    trials = [e for e in events if e.kind == "trial"]
    assert [e.status for e in trials] == ["error", "ok"]
    under_first = [e.kind for e in events if e.parent_seq == trials[0].seq]
    assert under_first == ["llm_call", "reflection", "memory_write"]
    reads = [e for e in events if e.kind == "memory_read"]
    assert reads[1].data and reads[1].data["reflections"] == [LESSON]
    assert [m.content for m in store.recent_memory("mul", 5)] == [LESSON]
    # the reflection prompt showed the failed trajectory and the outcome
    reflect_req = next(r for r in backend.requests if r.messages[0].content.startswith("You are an advanced"))
    assert "Action: finish[7006650]" in reflect_req.messages[1].content
    assert "Outcome: the answer was wrong" in reflect_req.messages[1].content


async def test_memory_persists_across_store_connections(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    task = Task(id="mul", input="What is 1234 * 5678?", expected="7006652")
    first = TraceStore(db)
    backend1 = ScriptedBackend(react_script, supports_tools=False)
    r1 = await Reflexion(max_trials=1, inner_config={"mode": "text"}).arun(task, backend=backend1, store=first)
    assert r1.correct is False and r1.metadata["trials"] == 1
    first.close()

    second = TraceStore(db)  # a later process: a new connection to the same file
    assert [m.content for m in second.recent_memory("mul", 3)] == [LESSON]
    backend2 = ScriptedBackend(react_script, supports_tools=False)
    r2 = await Reflexion(max_trials=1, inner_config={"mode": "text"}).arun(task, backend=backend2, store=second)
    assert r2.correct is True and r2.answer == "7006652"
    assert LESSON in backend2.requests[0].messages[1].content  # first trial already knows
    second.close()


async def test_cot_inner_gets_reflections_in_its_input_and_memory_k(store: TraceStore) -> None:
    for i in range(4):
        store.add_memory("cot-task", f"lesson {i}")
    backend = ScriptedBackend(["The answer is 5.", "Try harder.", "The answer is 6."])
    task = Task(id="cot-task", input="What is 2 * 3?", expected="6")
    result = await Reflexion(inner="cot", memory_k=2).arun(task, backend=backend, store=store)
    assert result.correct is True and result.metadata["trials"] == 2
    first_prompt = backend.requests[0].messages[1].content
    assert "- lesson 2\n- lesson 3" in first_prompt and "lesson 1" not in first_prompt
    second_prompt = backend.requests[2].messages[1].content
    assert "- lesson 3\n- Try harder." in second_prompt


async def test_self_evaluation_when_nothing_else_exists(store: TraceStore) -> None:
    def script(req: CompletionRequest) -> str:
        if req.messages[0].content.startswith("You check answers"):
            return "Yes."
        return "The answer is Paris."

    backend = ScriptedBackend(script)
    result = await Reflexion(inner="cot").arun("Capital of France?", backend=backend, store=store)
    assert result.answer == "Paris" and result.correct is None
    assert result.metadata["self_judged"] is True and result.metadata["trials"] == 1


async def test_env_reward_decides_household_trials(store: TraceStore) -> None:
    from ponder.envs.household import HouseholdEnv, make_task

    task = make_task(2, 1)
    plan = HouseholdEnv().solve(task)

    def script(req: CompletionRequest) -> str:
        if req.messages[0].content.startswith("You are an advanced"):
            return "I gave up too early; act step by step until the task is done."
        if "act step by step" not in req.messages[1].content:
            return "Action: finish[done]"
        i = sum(1 for m in req.messages if m.role == "assistant")
        return f"Action: env[{plan[i]}]"

    backend = ScriptedBackend(script, supports_tools=False)
    result = await Reflexion(inner_config={"tools": [], "max_steps": 20}).arun(task, backend=backend, store=store)
    assert result.correct is True and result.score == 1.0
    assert result.metadata["evaluator"] == "env" and result.metadata["trials"] == 2


async def test_replay_sees_recorded_memory_and_writes_nothing(store: TraceStore) -> None:
    from ponder.backends.replay import ReplayBackend
    from ponder.replay.serving import ToolReplay

    task = Task(id="mul", input="What is 1234 * 5678?", expected="7006652")
    agent = Reflexion(inner_config={"mode": "text"})
    first = await agent.arun(task, backend=ScriptedBackend(react_script, supports_tools=False), store=store)
    assert first.correct is True and len(store.recent_memory("mul", 10)) == 1
    ids = store.descendant_run_ids(first.run_id)
    memory_calls = [c for c in store.tool_calls(ids) if c.tool == "reflexion_memory"]
    assert [c.args["op"] for c in memory_calls] == ["read", "write", "read"]

    # the store now holds the reflection; a replay must still see the empty memory of trial 1
    replay = ReplayBackend(store, first.run_id)
    again = await agent.arun(task, backend=replay, store=store, tool_replay=ToolReplay(store.tool_calls(ids)))
    assert again.answer == "7006652" and again.correct is True
    assert len(store.recent_memory("mul", 10)) == 1  # nothing written twice

    def shape(run_id: str) -> list[tuple]:
        return [(e.kind, e.label, e.parent_seq, e.status) for e in store.iter_events(run_id)]

    assert shape(again.run_id) == shape(first.run_id)
    old_children, new_children = store.child_runs(first.run_id), store.child_runs(again.run_id)
    assert [shape(c.id) for c in new_children] == [shape(c.id) for c in old_children]


async def test_unit_tests_judge_code_from_a_cot_trial(store: TraceStore) -> None:
    from ponder.envs.code import CodeEnv

    task = next(t for t in CodeEnv().tasks() if t.metadata["entry_point"] == "add")
    wrong = "```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```"
    right = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
    backend = ScriptedBackend([wrong, "Check the sign of the operation.", right])
    result = await Reflexion(inner="cot", feedback="hidden").arun(task, backend=backend, store=store)
    meta = {"trials": 2, "evaluator": "tests", "namespace": "ponder/0", "feedback": "hidden"}
    assert result.correct is True and result.metadata == meta
    reflect = backend.requests[1].messages[1].content  # the hidden tests' failure: the named oracle
    assert "tests failed" in reflect and "AssertionError" in reflect
    assert "- Check the sign of the operation." in backend.requests[2].messages[-1].content


async def test_an_env_that_runs_tests_is_given_the_code_not_a_short_answer(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ability is declared (`runs_tests`), not guessed from the env's name."""
    from ponder import registry
    from ponder.envs.base import Env, Evaluation

    seen: list[str | None] = []

    class Grader(Env):
        name = "grader"
        runs_tests = True

        def evaluate(self, task: Task, answer: str | None) -> Evaluation:
            seen.append(answer)
            return Evaluation(correct=True, score=1.0, detail="tests passed")

    class Scorer(Grader):
        name = "scorer"
        runs_tests = False

    monkeypatch.setitem(registry._extra["envs"], "grader", Grader)
    monkeypatch.setitem(registry._extra["envs"], "scorer", Scorer)
    reply = "def f():\n    return 1\n\nThe answer is 1."
    task = Task(id="f", input="Write f returning 1.")
    for env in ("grader", "scorer"):
        agent = Reflexion(inner="cot", evaluator="env", env=env, feedback="hidden")
        result = await agent.arun(task, backend=ScriptedBackend([reply]), store=store)
        assert result.correct is True
    assert seen == [reply, "1"]
