"""Planning strategies replayed from recordings made against a local fake OpenAI-compatible server
whose scripted replies are plausible model text (tests/recordings/fake_models.py; no real model runs
here). Re-record them with `python tests/recordings/fake_models.py`.
"""

from __future__ import annotations

from ponder.agents.plan_execute import PlanExecute
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
