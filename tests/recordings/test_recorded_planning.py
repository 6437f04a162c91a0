"""Planning strategies replayed from recordings made against a local fake OpenAI-compatible server
whose scripted replies are plausible model text (tests/recordings/fake_models.py; no real model runs
here). Re-record them with `python tests/recordings/fake_models.py`.
"""

from __future__ import annotations

from ponder.agents.lats.agent import Lats
from ponder.agents.plan_execute.agent import PlanExecute
from ponder.envs.household import make_task
from ponder.types import Task

BOTTLES = Task(
    id="bottles",
    input="A warehouse ships 1234 crates of 56 bottles and 789 crates of 12 bottles. 17% of the bottles break. "
    "How many bottles break, rounded down?",
    expected="13357",
)


async def test_plan_execute_bottles(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("plan_execute_bottles")
    agent = PlanExecute(executor_config={"tools": ["calculator"], "max_steps": 4})
    result = await rec.run(agent, BOTTLES)
    assert result.status == "ok" and result.answer == "13357"
    assert result.metadata["rounds"] == 3 and result.metadata["revisions"] == 1


async def test_lats_household(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("lats_household")
    agent = Lats(n_iterations=8, n_generate=2, max_depth=6, max_tokens=128)  # MCTS, the default search
    result = await rec.run(agent, make_task(1, 1))  # put a bread in cabinet 1 (a closed cabinet)
    assert result.status == "ok" and result.correct is True
    assert result.metadata["reflections"] >= 1
