"""`ponder run --env NAME`: the run is on the env (its prompts, tools and scoring), the env is
recorded with the run, and `ponder replay` rebuilds it; bad env flags are one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from ponder.cli import app
from ponder.envs.game24.env import Game24Env
from ponder.traces.store import TraceStore
from ponder.types import Task

runner = CliRunner()
BASE = "http://llm.test/v1"
SOLVED = "13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n4 * 6 = 24 (left: 24)\nAnswer: (13 - 9) * (10 - 4) = 24"


def _reply(text: str) -> httpx.Response:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
    }
    return httpx.Response(200, json=body)


def test_run_on_an_env_is_scored_by_it_and_replays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test-not-real")
    db = tmp_path / "t.db"
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{BASE}/chat/completions").mock(return_value=_reply(SOLVED))
        res = runner.invoke(
            app,
            ["run", "4 9 10 13", "--env", "game24", "--agent", "cot", "--backend", "openai", "--base-url", BASE,
             "--model", "m", "--api-key-env", "MY_KEY", "--db", str(db), "--json"],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # no --expected: Game of 24 judges the expression itself
    assert out["answer"] == "(13 - 9) * (10 - 4)" and out["correct"] is True and out["error"] is None
    sent = json.loads(route.calls[0].request.content)["messages"][-1]["content"]
    assert sent == Game24Env().cot_prompt(Task(id="t", input="4 9 10 13"))
    store = TraceStore(db)
    run = store.get_run(out["run_id"])
    assert run.env == {"name": "game24", "config": Game24Env().model_dump(mode="json")}
    store.close()
    replayed = runner.invoke(app, ["replay", out["run_id"], "--db", str(db), "--json"])
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.stdout)["identical"] is True


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--env", "no-such-env"], "no-such-env"),
        (["--env-set", "n=3"], "--env-set sets options of an env: give --env NAME too"),
        (["--env", "game24", "--env-set", "n=-1"], "game24"),
    ],
)
def test_bad_env_flags_are_one_line(tmp_path: Path, flags: list[str], message: str) -> None:
    res = runner.invoke(app, ["run", "4 9 10 13", *flags, "--backend", "scripted", "--db", str(tmp_path / "t.db")])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_env_options_of_a_single_run_are_recorded(tmp_path: Path) -> None:
    # humaneval is not a pydantic model: its options are its constructor's arguments
    db = tmp_path / "t.db"
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{BASE}/chat/completions").mock(return_value=_reply("The answer is 4."))
        res = runner.invoke(
            app,
            ["run", "What is 2 + 2?", "--env", "humaneval", "--env-set", "timeout_s=30", "--backend", "openai",
             "--base-url", BASE, "--model", "m", "--db", str(db), "--json"],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    store = TraceStore(db)
    run = store.get_run(json.loads(res.stdout)["run_id"])
    store.close()
    config = {"samples": 1, "timeout_s": 30, "cpu_s": 10, "memory_mb": 512, "sandbox": None}
    assert run.env == {"name": "humaneval", "config": config}
