"""Plan-and-execute with ScriptedBackend: rounds of ready steps, revisions, limits, bad plans, replay."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest

from ponder import registry
from ponder.agents.plan_execute.agent import PLANNER_SYSTEM, SOLVE_SYSTEM, PlanExecute
from ponder.agents.plan_execute.plan import parse_decision, parse_plan
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import BudgetExceeded, ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.budget import Budget
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task

STEP = re.compile(r"Do only step (\d+) now")
OBJECTIVE = Task(id="pop", input="What is the population of A plus the population of B?", expected="30")


def role(req: CompletionRequest) -> str:
    system = req.messages[0].content
    if system == PLANNER_SYSTEM:
        return "plan"
    if system.startswith("You check progress on a plan"):
        return "replan"
    if system == SOLVE_SYSTEM:
        return "solve"
    return "step"


def brain(
    plans: list[str], decisions: list[str], steps: dict[int, str] | None = None, solve: str = "Answer: 30"
) -> Callable[[CompletionRequest], str]:
    """A scripted model: planner replies in order, replanner replies in order, step answers by step id."""
    plans, decisions = list(plans), list(decisions)
    answers = steps or {}

    def answer(req: CompletionRequest) -> str:
        r = role(req)
        if r == "plan":
            return plans.pop(0)
        if r == "replan":
            return decisions.pop(0)
        if r == "solve":
            return solve
        m = STEP.search(req.messages[-1].content)
        assert m is not None, req.messages[-1].content
        return f"Done. The answer is {answers.get(int(m.group(1)), 'r' + m.group(1))}."

    return answer


def events(store: TraceStore, run_id: str, kind: str) -> list[Any]:
    return [e for e in store.events(run_id, with_data=True) if e.kind == kind]


async def run(agent: PlanExecute, backend: ScriptedBackend, store: TraceStore, **kw: Any) -> Any:
    return await run_agent(agent, kw.pop("task", OBJECTIVE), backend=backend, store=store, **kw)


# -- parsing -----------------------------------------------------------------------------


def test_parse_plan_reads_steps_and_their_dependencies() -> None:
    text = "Here is the plan:\n1. Find A.\n2) **Find B.**\nStep 3: Add them. (after 1, 2)\n- 4. Say it (after 3)"
    steps, why = parse_plan(text, first_id=1)
    assert why is None
    assert [(s.id, s.text, s.after) for s in steps] == [
        (1, "Find A.", []),
        (2, "Find B.", []),
        (3, "Add them.", [1, 2]),
        (4, "Say it", [3]),
    ]
    seq, _ = parse_plan(text, first_id=1, sequential=True)
    assert [s.after for s in seq] == [[], [1], [2], [3]]


def test_parse_plan_keeps_the_bullets_under_a_step() -> None:
    # Qwen2.5-Coder-0.5B's plan (tests/recordings/real_plan_execute_arithmetic.db): headings, the work in bullets
    text = (
        "1. **Morning Preparation**:\n   - Calculate the loaves made in the morning.\n   - Output the result.\n\n"
        "2. **Afternoon**:\n   - Multiply by 3. (after 1)\n\nThis plan covers it."
    )
    steps, why = parse_plan(text, first_id=1)
    assert why is None
    assert [(s.text, s.after) for s in steps] == [
        ("Morning Preparation: Calculate the loaves made in the morning. Output the result.", []),
        ("Afternoon: Multiply by 3.", [1]),
    ]


def test_parse_plan_numbers_a_revision_after_the_done_steps() -> None:
    done, _ = parse_plan("1. Find A.\n2. Find B.", first_id=1)
    for s in done:
        s.status = "done"
    # a number the revision itself uses names the revision's step, even where a done step has it too
    _, why = parse_plan("1. Add. (after 2)\n2. Check.", first_id=3, done={1: done[0], 2: done[1]})
    assert why is not None and "comes later" in why
    new, why = parse_plan("5. Add. (after 1)\n6. Check. (after 5)", first_id=3, done={1: done[0]})
    assert why is None and [(s.id, s.after) for s in new] == [(3, [1]), (4, [3])]
    new, why = parse_plan("3. Add. (after 1, 2)\n4. Check. (after 3)", first_id=3, done={1: done[0], 2: done[1]})
    assert why is None and [(s.id, s.after) for s in new] == [(3, [1, 2]), (4, [3])]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no numbered steps"),
        ("I will think about it and answer.", "no numbered steps"),
        ("1. Find A.\n1. Find B.", "appears twice"),
        ("1. Add. (after 2)\n2. Find A.", "comes later"),
        ("1. Add. (after 7)", "does not exist"),
        ("1. **   **\n2. Find A.", "says nothing"),
    ],
)
def test_parse_plan_says_why_a_plan_is_unusable(text: str, reason: str) -> None:
    steps, why = parse_plan(text, first_id=1)
    assert steps == [] and why is not None and reason in why


@pytest.mark.parametrize(
    ("text", "kind", "answer"),
    [
        ("FINISH: 30", "finish", "30"),
        ("**Finish**\nAnswer: 30", "finish", "30"),
        ("CONTINUE", "continue", None),
        ("Keep the plan.", "continue", None),
        ("REVISE:\n3. Add. (after 1)", "revise", None),
        ("Final answer: 30", "finish", "30"),
        ("FINISH:", "invalid", None),
        ("hmm", "invalid", None),
        ("FINISH: The answer is 13,357.", "finish", "13357"),
        ("FINISH: <the final answer to the objective>", "invalid", None),
        ("Answer: <the final answer>", "invalid", None),
        # Qwen2.5-Coder-0.5B echoing the prompt's form (tests/recordings/real_plan_execute_arithmetic.db)
        (
            "FINISH: followed by the final answer to the objective itself — when the results so far answer it.",
            "invalid",
            None,
        ),
    ],
)
def test_parse_decision(text: str, kind: str, answer: str | None) -> None:
    d = parse_decision(text)
    assert d.kind == kind and d.answer == answer


# -- the loop ------------------------------------------------------------------------------


async def test_independent_steps_run_concurrently_in_one_round(store: TraceStore) -> None:
    in_flight = peak = 0
    arrived = asyncio.Event()
    seen = 0
    fn = brain(["1. Find A.\n2. Find B.\n3. Find C.\n4. Add them. (after 1, 2, 3)"], ["CONTINUE", "FINISH: 30"])

    async def answer(req: CompletionRequest) -> str:
        nonlocal in_flight, peak, seen
        if role(req) != "step":
            return fn(req)
        in_flight += 1
        peak = max(peak, in_flight)
        seen += 1
        if seen == 3:
            arrived.set()
        if int(STEP.search(req.messages[-1].content).group(1)) <= 3:  # type: ignore[union-attr]
            await asyncio.wait_for(arrived.wait(), 5)  # all three are in flight together, or this times out
        in_flight -= 1
        return fn(req)

    result = await run(PlanExecute(executor="cot"), ScriptedBackend(answer), store)
    assert result.answer == "30" and result.metadata["rounds"] == 2 and result.metadata["steps"] == 4
    assert peak == 3
    steps = events(store, result.run_id, "plan_step")
    assert [e.label for e in steps] == ["step 1", "step 2", "step 3", "step 4"]
    assert all(e.status == "ok" for e in steps)
    branches = {c.branch for c in store.llm_calls(result.run_id)}
    assert {"step1", "step2", "step3", "step4"} <= branches
    (plan,) = events(store, result.run_id, "plan")
    assert [s["status"] for s in plan.data["steps"]] == ["done"] * 4 and plan.data["revision"] == 0


async def test_parallel_limits_a_round(store: TraceStore) -> None:
    fn = brain(["1. Find A.\n2. Find B.\n3. Find C."], ["CONTINUE", "FINISH: 30"])
    result = await run(PlanExecute(executor="cot", parallel=2), ScriptedBackend(fn), store)
    assert result.metadata["rounds"] == 2 and result.metadata["steps"] == 3


async def test_a_revision_replaces_the_remaining_steps(store: TraceStore) -> None:
    fn = brain(
        ["1. Find A.\n2. Find B. (after 1)\n3. Add them. (after 2)"],
        ["REVISE:\n2. Look B up in the almanac.\n3. Add A and B. (after 1, 2)", "CONTINUE", "FINISH: 30"],
        steps={1: "10", 4: "20", 5: "30"},
    )
    backend = ScriptedBackend(fn)
    result = await run(PlanExecute(executor="cot"), backend, store)
    assert result.answer == "30" and result.correct is True
    assert result.metadata["revisions"] == 1 and result.metadata["steps"] == 3
    executed = [e.data["text"] for e in events(store, result.run_id, "plan_step")]
    assert executed == ["Find A.", "Look B up in the almanac.", "Add A and B."]  # old steps 2, 3 never ran
    r0, r1 = events(store, result.run_id, "plan")
    assert r0.data["revision"] == 0 and [s["status"] for s in r0.data["steps"]] == ["done", "pending", "pending"]
    assert r1.data["revision"] == 1 and r1.label == "plan r1"
    assert [(s["id"], s["text"], s["after"], s["status"]) for s in r1.data["steps"]] == [
        (1, "Find A.", [], "done"),
        (4, "Look B up in the almanac.", [], "done"),
        (5, "Add A and B.", [1, 4], "done"),
    ]
    last_step = [r for r in backend.requests if role(r) == "step"][-1].messages[-1].content
    assert "Step 1 (Find A.): 10" in last_step and "Step 4 (Look B up in the almanac.): 20" in last_step


async def test_the_replanner_can_finish_early(store: TraceStore) -> None:
    fn = brain(["1. Find A.\n2. Find B. (after 1)\n3. Add. (after 2)"], ["FINISH: 30"])
    backend = ScriptedBackend(fn)
    result = await run(PlanExecute(executor="cot"), backend, store)
    assert result.answer == "30" and result.metadata["steps"] == 1
    assert [role(r) for r in backend.requests] == ["plan", "step", "replan"]
    (replan,) = events(store, result.run_id, "replan")
    assert replan.data["decision"] == "finish" and replan.data["answer"] == "30"


async def test_max_replans_holds(store: TraceStore) -> None:
    fn = brain(["1. Find A."], ["REVISE:\n2. Find B.", "REVISE:\n3. Find C.", "CONTINUE"])
    backend = ScriptedBackend(fn)
    result = await run(PlanExecute(executor="cot", max_replans=1), backend, store)
    assert result.metadata["revisions"] == 1 and result.metadata["replans"] == 1
    first, second = events(store, result.run_id, "replan")
    assert first.status == "ok" and not first.data["refused"]
    assert second.status == "invalid" and second.data["refused"] and "max_replans=1" in second.data["reason"]
    assert len(events(store, result.run_id, "plan")) == 2
    # nothing left and no answer from the replanner: one last call answers from the results
    assert [role(r) for r in backend.requests][-1] == "solve" and result.answer == "30"
    assert result.metadata["stopped"] == "plan complete"


async def test_max_steps_stops_executing(store: TraceStore) -> None:
    fn = brain(["1. A.\n2. B.\n3. C.\n4. D."], ["CONTINUE"])
    result = await run(PlanExecute(executor="cot", max_steps=2, parallel=2), ScriptedBackend(fn), store)
    assert result.metadata["steps"] == 2 and "max_steps=2" in result.metadata["stopped"]
    assert [e.label for e in events(store, result.run_id, "error")] == ["max_steps"]


async def test_an_unusable_plan_is_recorded_and_asked_again(store: TraceStore) -> None:
    fn = brain(["I would look things up.", "1. Find A.\n2. Find B."], ["FINISH: 30"])
    backend = ScriptedBackend(fn)
    result = await run(PlanExecute(executor="cot"), backend, store)
    assert result.answer == "30" and result.metadata["replans"] == 1
    bad, good = events(store, result.run_id, "plan")
    assert bad.status == "invalid" and "no numbered steps" in bad.summary
    assert bad.data["raw"] == "I would look things up." and bad.data["steps"] == []
    assert good.status == "ok" and len(good.data["steps"]) == 2
    retry = backend.requests[1].messages
    assert retry[-2].content == "I would look things up." and "could not be used" in retry[-1].content


async def test_a_plan_that_stays_unusable_fails_with_the_reason(store: TraceStore) -> None:
    fn = brain(["no plan", "1. A. (after 9)"], [])
    result = await run(PlanExecute(executor="cot", max_replans=1), ScriptedBackend(fn), store)
    assert result.status == "error" and result.answer is None
    assert result.error is not None and "step 1 needs step 9, which does not exist" in result.error
    assert store.get_run(result.run_id).status == "error"
    assert [e.status for e in events(store, result.run_id, "plan")] == ["invalid", "invalid"]


async def test_an_unusable_revision_keeps_the_plan(store: TraceStore) -> None:
    fn = brain(["1. A.\n2. B. (after 1)"], ["REVISE: do something else", "nonsense"])
    result = await run(PlanExecute(executor="cot"), ScriptedBackend(fn), store)
    assert result.answer == "30" and result.metadata["revisions"] == 0 and result.metadata["steps"] == 2
    first, second = events(store, result.run_id, "replan")
    assert first.status == "invalid" and "no numbered steps" in first.data["reason"]
    assert second.status == "invalid" and second.data["decision"] == "invalid"


async def test_a_failed_step_is_recorded_and_the_replanner_sees_it(store: TraceStore) -> None:
    def fn(req: CompletionRequest) -> str:
        r = role(req)
        if r == "plan":
            return "1. Look up A."
        if r == "replan":
            assert "(failed: the executor gave no result (max_steps))" in req.messages[-1].content
            return "FINISH: unknown"
        return "Thought: I keep thinking.\nAction: calculator[1 +]"

    agent = PlanExecute(executor_config={"mode": "text", "max_steps": 1, "tools": ["calculator"]})
    result = await run(agent, ScriptedBackend(fn, supports_tools=False), store)
    assert result.answer == "unknown"
    (step,) = events(store, result.run_id, "plan_step")
    assert step.status == "error" and step.data["status"] == "failed"


def calculator_model(req: CompletionRequest) -> str:
    """A model that plans two independent products and their sum, and does each step with the calculator."""
    r = role(req)
    if r == "plan":
        return "1. Compute 1234 * 5678.\n2. Compute 91 * 3.\n3. Add the two products. (after 1, 2)"
    if r == "replan":
        return "FINISH: 7006925" if "Step 3" in req.messages[-1].content else "CONTINUE"
    last = req.messages[-1].content
    if last.startswith("Observation:"):  # ReAct's second turn: the calculator answered
        return f"Thought: That is the result.\nAction: finish[{last.split(': ', 1)[1]}]"
    step = int(STEP.search(req.messages[1].content).group(1))  # type: ignore[union-attr]
    expr = {1: "1234 * 5678", 2: "91 * 3", 3: "7006652 + 273"}[step]
    return f"Thought: Use the calculator.\nAction: calculator[{expr}]"


async def test_react_executes_steps_with_tool_calls_and_replays_identically(store: TraceStore) -> None:
    agent = PlanExecute(executor_config={"mode": "text", "tools": ["calculator"]})
    task = Task(id="sum", input="What is 1234 * 5678 + 91 * 3?", expected="7006925")
    result = await run(agent, ScriptedBackend(calculator_model, supports_tools=False), store, task=task)
    assert result.answer == "7006925" and result.correct is True
    assert result.metadata["rounds"] == 2
    tools = store.tool_calls(result.run_id)
    assert sorted(t.result for t in tools) == ["273", "7006652", "7006925"]
    report = await areplay(store, result.run_id, agent=agent, task=task)
    assert report.identical, report.render()


async def test_concurrent_rounds_replay_identically(store: TraceStore) -> None:
    fn = brain(["1. Find A.\n2. Find B.\n3. Add. (after 1, 2)"], ["CONTINUE", "FINISH: 30"], steps={3: "30"})
    agent = PlanExecute(executor="cot")
    result = await run(agent, ScriptedBackend(fn), store)
    report = await areplay(store, result.run_id, agent=agent, task=OBJECTIVE)
    assert report.identical, report.render()


async def test_budget_limits_hold(store: TraceStore) -> None:
    fn = brain(["1. A.\n2. B. (after 1)"], ["CONTINUE", "FINISH: 30"])
    with pytest.raises(BudgetExceeded):
        await run(PlanExecute(executor="cot"), ScriptedBackend(fn), store, budget=Budget(max_calls=2))
    (r,) = store.list_runs()
    assert r.status == "error" and r.calls == 2


def test_settings_are_validated() -> None:
    agent = registry.build("agents", "plan_execute", {"max_replans": 0, "parallel": 2})
    assert isinstance(agent, PlanExecute)
    with pytest.raises(ConfigError, match="has no option 'replans'"):
        registry.build("agents", "plan_execute", {"replans": 2})
    with pytest.raises(ConfigError, match="unknown agent 'nope'"):
        PlanExecute(executor="nope")
    with pytest.raises(ConfigError, match="executor 'react' has no option 'steps'"):
        PlanExecute(executor_config={"steps": 3})
    with pytest.raises(ConfigError, match="itself"):
        PlanExecute(executor="plan_execute")
    with pytest.raises(ConfigError, match="max_steps"):
        registry.build("agents", "plan_execute", {"max_steps": 0})
