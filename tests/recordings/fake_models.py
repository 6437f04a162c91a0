"""Scripted "models" with plausible text, served by a local fake OpenAI-compatible server, from which
the planning recordings (test_recorded_planning.py) were recorded — no real model runs here.

Re-record them with:

    python tests/recordings/fake_models.py

which starts the fake server on a free loopback port and runs
`pytest tests/recordings/test_recorded_planning.py --ponder-record=all` against it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fake_openai import FakeOpenAI, text, tool_call

_STEP = re.compile(r"Do only step (\d+) now")

PLAN = (
    "1. Count the bottles in the 1234 crates of 56 bottles.\n"
    "2. Count the bottles in the 789 crates of 12 bottles.\n"
    "3. Add the two counts to get the total number of bottles. (after 1, 2)\n"
    "4. Work out how many bottles break. (after 3)"
)
REVISION = "REVISE:\n5. Compute 17% of 78572 and round it down to a whole number of bottles. (after 3)"
STEP_CALLS = {
    1: ("I need 1234 times 56.", "1234 * 56"),
    2: ("I need 789 times 12.", "789 * 12"),
    3: ("I add the two counts from steps 1 and 2.", "69104 + 9468"),
    5: ("17% of 78572 is 78572 * 17 / 100.", "78572 * 17 / 100"),
}
STEP_ANSWERS = {5: "13357"}


def plan_execute_model(body: dict[str, Any]) -> dict[str, Any]:
    """Plans the bottle question, executes each step with one calculator call, revises step 4, finishes."""
    msgs = body["messages"]
    system, last = msgs[0]["content"] or "", msgs[-1]
    if system.startswith("You plan how to reach an objective"):
        return text(PLAN)
    if system.startswith("You check progress on a plan"):
        results = last["content"]
        if "Step 5" in results:
            return text("FINISH: 13357")
        if "Step 3" in results:
            return text("The total is known. Step 4 is vague; it should say what to compute.\n" + REVISION)
        return text("CONTINUE")
    if system.startswith("You give the final answer"):
        return text("Answer: 13357")
    m = _STEP.search(msgs[1]["content"])
    if m is None:
        return text("I cannot tell which step to do.")
    step = int(m.group(1))
    if last["role"] == "tool":
        answer = STEP_ANSWERS.get(step, last["content"])
        return tool_call("finish", {"answer": answer}, id=f"call_{step}_2")
    thought, expr = STEP_CALLS.get(step, ("Nothing to compute.", "0"))
    msg = tool_call("calculator", {"expression": expr}, id=f"call_{step}_1")
    msg["content"] = thought
    return msg


def _household_plan(prompt: str) -> list[str] | None:
    from ponder.envs.household import HouseholdEnv, make_task

    for seed in range(12):
        for difficulty in (1, 2, 3):
            task = make_task(seed, difficulty)
            if task.input in prompt:
                return HouseholdEnv().solve(task)
    return None


def lats_household_model(body: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
    """LATS on household: at first it tries the fridge or a cabinet (wrong), gives up there, reflects, and
    otherwise follows a plan that reaches the goal; it scores trajectories that found the object higher."""
    msgs = body["messages"]
    system, last = msgs[0]["content"] or "", msgs[-1]["content"] or ""
    i = last.find("Thought:")
    traj = last[i:] if i >= 0 else ""
    if system.startswith("You judge attempts"):
        if "You pick up" in traj:
            return text("The object is in hand; the rest is carrying it over.\nScore: 9")
        if "Nothing happens" in traj or "fridge 1" in traj:
            return text("This place does not seem to hold the object.\nScore: 3")
        return text("It is a reasonable start.\nScore: 6")
    if system.startswith("You are an advanced reasoning agent"):
        return text(
            "I searched the fridge for an object that was not there and then gave up. Next time I should "
            "check the countertops and shelves first, where things are left in the open."
        )
    plan = _household_plan(last)
    if plan is None:
        return text("Thought: I am not sure what to do.\nAction: env[look]")
    if "go to fridge 1" in traj and "go to fridge 1" not in plan:
        return text("Thought: There is nothing useful in the fridge. I give up.\nAction: finish[done]")
    done = traj.count("Action: env[")
    if done >= len(plan):
        return text("Thought: The task should be done.\nAction: finish[done]")
    good = text(f"Thought: Next, {plan[done]}.\nAction: env[{plan[done]}]")
    n = int(body.get("n") or 1)
    if done == 0 and n > 1 and "go to fridge 1" not in plan:
        wrong = text("Thought: Food is often kept in the fridge; I will look there.\nAction: env[go to fridge 1]")
        return [wrong, good]
    return good


MODELS = {"plan_execute": plan_execute_model, "lats": lats_household_model}


def main() -> int:
    """Record every planning recording from the fake models."""
    here = Path(__file__).resolve().parent
    code = 0
    for name in MODELS:
        with FakeOpenAI(MODELS[name]) as server:
            env = {
                **os.environ,
                "PONDER_BACKEND": "openai",
                "OPENAI_BASE_URL": server.url,
                "OPENAI_API_KEY": "not-a-key",
                "PONDER_MODEL": "fake-model",
            }
            cmd = [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(here / "test_recorded_planning.py"),
                "-k",
                name,
                "--ponder-record=all",
            ]
            code = code or subprocess.run(cmd, env=env, timeout=600).returncode
    return code


if __name__ == "__main__":
    raise SystemExit(main())
