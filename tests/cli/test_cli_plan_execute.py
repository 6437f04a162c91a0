"""`ponder run --agent plan_execute` against a respx-mocked OpenAI-compatible server: a multi-step
question planned, its independent steps executed by ReAct with native calculator calls, then finished."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner

from ponder.agents.plan_execute.agent import PLANNER_SYSTEM
from ponder.cli import app
from ponder.traces.store import TraceStore

runner = CliRunner()
BASE = "http://llm.test/v1"
QUESTION = "A shop sells 1234 boxes of 5678 pins and 91 boxes of 3 pins. How many pins in all?"


def _reply(message: dict[str, Any], finish: str = "stop") -> httpx.Response:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
    }
    return httpx.Response(200, json=body)


def _call(name: str, args: dict[str, Any], id: str) -> httpx.Response:
    call = {"id": id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    return _reply({"content": None, "tool_calls": [call]}, "tool_calls")


def model(request: httpx.Request) -> httpx.Response:
    """Plausible replies: a three-step plan, one calculator call per step, then finish."""
    msgs = json.loads(request.content)["messages"]
    system, last = msgs[0]["content"], msgs[-1]
    if system == PLANNER_SYSTEM:
        return _reply(
            {
                "content": "1. Compute the pins in the 1234 boxes: 1234 * 5678.\n"
                "2. Compute the pins in the 91 boxes: 91 * 3.\n"
                "3. Add the two counts. (after 1, 2)"
            }
        )
    if system.startswith("You check progress on a plan"):
        done = "Step 3" in last["content"]
        return _reply({"content": "FINISH: 7006925" if done else "CONTINUE"})
    if last["role"] == "tool":
        return _call("finish", {"answer": last["content"]}, "call_2")
    step = int(re.search(r"Do only step (\d+) now", last["content"]).group(1))  # type: ignore[union-attr]
    expr = {1: "1234 * 5678", 2: "91 * 3", 3: "7006652 + 273"}[step]
    return _call("calculator", {"expression": expr}, "call_1")


def test_run_plan_execute_answers_a_multi_step_question(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test-not-real")
    db = tmp_path / "t.db"
    with respx.mock:
        route = respx.post(f"{BASE}/chat/completions").mock(side_effect=model)
        res = runner.invoke(
            app,
            ["run", QUESTION, "--agent", "plan_execute", "--set", 'executor_config.tools=["calculator"]',
             "--backend", "openai", "--base-url", BASE, "--model", "m", "--api-key-env", "MY_KEY",
             "--expected", "7006925", "--db", str(db), "--json"],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["answer"] == "7006925" and out["correct"] is True
    # plan, steps 1 and 2 (2 calls each), replan, step 3 (2 calls), replan
    assert len(route.calls) == 9
    store = TraceStore(db)
    (run,) = store.list_runs()
    assert sorted(t.result for t in store.tool_calls(run.id)) == ["273", "7006652", "7006925"]
    assert "sk-test-not-real" not in db.read_bytes().decode("latin-1")
    store.close()


def test_unknown_settings_are_refused_at_the_cli(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["run", "q", "--agent", "plan_execute", "--set", "replans=2", "--backend", "scripted", "--db",
              str(tmp_path / "t.db")],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "has no option 'replans'" in res.output and "Traceback" not in res.output
