"""LATS with ScriptedBackend on household and code: a solved trajectory found, a failed one reflected
on (the reflection stored in memory and shown to later expansions), settings, replay."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from ponder import registry
from ponder.agents.lats.agent import Lats
from ponder.agents.lats.problem import REFLECT_SYSTEM, VALUE_SYSTEM
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.code import CodeEnv
from ponder.envs.household import HouseholdEnv, make_task
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task

TASK = make_task(0, 1)  # put a tomato in countertop 1
PLAN = HouseholdEnv().solve(TASK)
REFLECTION = "I went to the fridge and gave up; the tomato is on a countertop, so look at countertops first."
SEARCH: dict[str, Any] = {"n_iterations": 8}  # MCTS, the default search


def role(req: CompletionRequest) -> str:
    return {VALUE_SYSTEM: "value", REFLECT_SYSTEM: "reflect"}.get(req.messages[0].content, "act")


def trajectory(req: CompletionRequest) -> str:
    last = req.messages[-1].content
    i = last.find("Thought:")
    return last[i:] if i >= 0 else ""


def household_model(req: CompletionRequest) -> Any:
    """First the fridge (wrong) or countertop 2 (right); the fridge path gives up, the other follows the plan."""
    r = role(req)
    if r == "value":
        return "The tomato is in reach.\nScore: 9" if "countertop 2" in trajectory(req) else "Score: 3"
    if r == "reflect":
        return REFLECTION
    traj = trajectory(req)
    if "go to fridge 1" in traj:
        replies = ["Thought: No tomato here. I give up.\nAction: finish[done]"]
    else:
        done = traj.count("Action: env[")
        replies = [f"Thought: Next I {PLAN[done]}.\nAction: env[{PLAN[done]}]"]
        if done == 0:
            replies = ["Thought: Tomatoes are kept cool.\nAction: env[go to fridge 1]", *replies]
    return (replies * req.n)[: req.n] if req.n > 1 else replies[-1]


def agent(**kw: Any) -> Lats:
    return Lats(**{**SEARCH, "n_generate": 2, "max_depth": 6, **kw})


async def test_household_a_solved_trajectory_is_found(store: TraceStore) -> None:
    backend = ScriptedBackend(household_model)
    result = await run_agent(agent(), TASK, backend=backend, store=store)
    assert result.correct is True and result.score == 1.0
    assert result.answer == "\n".join(PLAN) and result.metadata["solved"] is True
    assert result.metadata["actions"] == PLAN
    nodes = [e for e in store.events(result.run_id, with_data=True) if e.kind == "node"]
    chosen = [e for e in nodes if e.status == "chosen"]
    assert len(chosen) == len(PLAN) + 1  # the root and the solved path


async def test_a_failed_trajectory_is_reflected_on_and_a_later_expansion_sees_it(store: TraceStore) -> None:
    backend = ScriptedBackend(household_model)
    result = await run_agent(agent(), TASK, backend=backend, store=store)
    assert result.metadata["failed_trajectories"] >= 1 and result.metadata["reflections"] >= 1
    events = list(store.events(result.run_id, with_data=True))
    (reflection,) = [e for e in events if e.kind == "reflection"]
    assert reflection.data == {"text": REFLECTION}
    assert [e.status for e in events if e.kind == "memory_write"] == ["ok"]
    assert [m.content for m in store.recent_memory(TASK.id, 5, kind="reflection")] == [REFLECTION]
    acts = [r for r in backend.requests if role(r) == "act"]
    reflect_at = next(i for i, r in enumerate(backend.requests) if role(r) == "reflect")
    later = [r for r in acts if backend.requests.index(r) > reflect_at]
    assert later and all(REFLECTION in r.messages[-1].content for r in later)
    assert all(REFLECTION not in r.messages[-1].content for r in backend.requests[:reflect_at])
    # the next run on the task starts with the stored lesson (Reflexion's memory table)
    again = ScriptedBackend(household_model)
    await run_agent(agent(), TASK, backend=again, store=store)
    assert REFLECTION in again.requests[0].messages[-1].content


@pytest.mark.parametrize(
    "settings", [SEARCH, {**SEARCH, "parallel": 2, "rollout_depth": 2}, {"search": "bfs", "breadth": 2}]
)
async def test_lats_replays_identically(store: TraceStore, settings: dict[str, Any]) -> None:
    a = Lats(**{"n_generate": 2, "max_depth": 6, **settings})
    result = await run_agent(a, TASK, backend=ScriptedBackend(household_model, latency=0.001), store=store)
    assert result.correct is True
    report = await areplay(store, result.run_id, agent=a, task=TASK)
    assert report.identical, report.render()


async def test_parallel_rollouts_reflect_in_a_fixed_order(store: TraceStore) -> None:
    a = agent(parallel=2, rollout_depth=3)
    result = await run_agent(a, TASK, backend=ScriptedBackend(household_model), store=store)
    assert result.correct is True
    events = list(store.events(result.run_id, with_data=True))
    kinds = [e.kind for e in events]
    assert "rollout" in kinds and "backup" in kinds
    assert [e.status for e in events if e.kind == "memory_write"] == ["ok"] * kinds.count("reflection")


async def test_lats_on_code_uses_the_tests_as_feedback(store: TraceStore) -> None:
    task = next(iter(CodeEnv().tasks()))  # def add(a, b)
    wrong = "Thought: Subtract.\nAction: submit\n```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```"
    right = "Thought: Add.\nAction: submit\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"

    def model(req: CompletionRequest) -> str:
        r = role(req)
        if r == "reflect":
            return "The function subtracted; it must add."
        if r == "value":
            return "Score: 2"
        return right if "it must add" in req.messages[-1].content else wrong

    search = {"n_iterations": 3}
    backend = ScriptedBackend(model)
    result = await run_agent(Lats(**search, n_generate=1, max_depth=3), task, backend=backend, store=store)
    assert result.correct is True and "return a + b" in (result.answer or "")
    feedback = [r for r in backend.requests if role(r) == "act"][-1].messages[-1].content
    assert "tests failed" in feedback and "it must add" in feedback


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="has no option 'iterations'"):
        registry.build("agents", "lats", {**SEARCH, "iterations": 3})
    with pytest.raises(ConfigError, match="weight"):
        registry.build("agents", "lats", {**SEARCH, "weight": 2})
    with pytest.raises(ConfigError, match="unknown tool"):
        registry.build("agents", "lats", {**SEARCH, "tools": ["nope"]}).world(Task(id="q", input="q"), _Ctx())


class _Ctx:
    tools: ClassVar[dict[str, Any]] = {}
    env = None

    def resource(self, name: str) -> None:
        return None


async def test_lats_with_tools_on_a_question(store: TraceStore) -> None:
    task = Task(id="mul", input="What is 1234 * 5678?", expected="7006652")

    def model(req: CompletionRequest) -> Any:
        r = role(req)
        if r == "value":
            return "Score: 8" if "7006652" in req.messages[-1].content else "Score: 4"
        if r == "reflect":
            return "I guessed instead of using the calculator's result."
        traj = trajectory(req)
        if "Observation: 7006652" in traj:
            return "Thought: The calculator says 7006652.\nAction: finish[7006652]"
        guess = "Thought: Roughly seven million.\nAction: finish[7000000]"
        calc = "Thought: Multiply exactly.\nAction: calculator[1234 * 5678]"
        return [guess, calc][: req.n] if req.n > 1 else calc

    a = Lats(n_iterations=4, n_generate=2, tools=["calculator"], memory_k=0)
    result = await run_agent(a, task, backend=ScriptedBackend(model), store=store)
    assert result.answer == "7006652" and result.correct is True
    assert [t.result for t in store.tool_calls(result.run_id) if t.tool == "calculator"] == ["7006652"]
    assert result.metadata["reflections"] == 1  # the wrong guess was judged by the expected answer and reflected on
    report = await areplay(store, result.run_id, agent=a, task=task)
    assert report.identical, report.render()


async def test_budget_limits_hold(store: TraceStore) -> None:
    from ponder.errors import BudgetExceeded
    from ponder.runtime.budget import Budget

    with pytest.raises(BudgetExceeded):
        await run_agent(
            agent(), TASK, backend=ScriptedBackend(household_model), store=store, budget=Budget(max_calls=3)
        )
    (run,) = store.list_runs()
    assert run.status == "error" and run.calls == 3
