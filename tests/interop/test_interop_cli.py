"""`ponder serve` and `ponder proxy` from the command line: bad input is one line and exit 2; as
processes of their own (marked slow), they serve, record and replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.interop.loopback import CliServer, LoopbackOpenAI
from ponder.traces.store import TraceStore
from tests.interop.conftest import Reply

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["proxy"], "give --upstream URL to record, or --replay DB"),
        (["proxy", "--record-missing", "--upstream", "http://x/v1"], "--record-missing needs --replay DB"),
        (["proxy", "--upstream", "http://x/v1", "--run", "abc"], "give --replay DB too"),
        (["proxy", "--replay", "no-such.db"], "no such file"),
        (["proxy", "--upstream", "http://x/v1", "--upstream-key-env", "PONDER_NO_SUCH_VAR"], "is not set"),
        (["serve", "--api-key", "short"], "at least 8 characters"),
        (["serve", "--max-calls", "-1"], "--max-calls"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], words: str, tmp_path: Path) -> None:
    res = runner.invoke(app, args, env={"PONDER_DB": str(tmp_path / "t.db")})
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with LoopbackOpenAI(lambda body: "x") as taken:
        res = runner.invoke(
            app, ["proxy", "--upstream", taken.url, "--port", str(taken.port), "--db", str(tmp_path / "t.db")]
        )
    assert res.exit_code == 2 and "cannot listen on 127.0.0.1" in res.stderr, res.output


@pytest.mark.slow
def test_serve_as_a_process_answers_through_its_openai_upstream(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    with LoopbackOpenAI(lambda body: Reply("340 + 51 = 391. The answer is 391.")) as up:
        args = ["serve", "--port", "0", "--db", str(db), "--backend", "openai", "--base-url", up.url, "-m", "m"]
        with CliServer([*args, "--api-key", "sk-serve-12345"]) as srv:
            c = openai.OpenAI(base_url=srv.url, api_key="sk-serve-12345", max_retries=0)
            reply = c.chat.completions.create(
                model="self_consistency#k=3", messages=[{"role": "user", "content": "17*23?"}]
            )
            assert reply.choices[0].message.content == "391"
            code = srv.stop()
    assert code in (0, 130)
    run = TraceStore(db, readonly=True).get_run(reply.model_extra["ponder"]["run_id"])  # type: ignore[index]
    assert (run.agent, run.status, run.backend, run.model) == ("self_consistency", "ok", "openai", "m")


def _agent(url: str) -> list[str]:
    c = openai.OpenAI(base_url=url, api_key="sk-none", max_retries=0, timeout=20)
    out = []
    for q in ("What is 2 + 2?", "And 3 + 3?"):
        out.append(
            c.chat.completions.create(model="m", messages=[{"role": "user", "content": q}]).choices[0].message.content
            or ""
        )
    return out


@pytest.mark.slow
def test_proxy_records_then_replays_with_the_upstream_gone(tmp_path: Path) -> None:
    db = tmp_path / "rec.db"
    answers: dict[str, Any] = {"What is 2 + 2?": "4", "And 3 + 3?": "6"}
    up = LoopbackOpenAI(lambda body: Reply(answers[body["messages"][-1]["content"]])).start()
    with CliServer(["proxy", "--port", "0", "--db", str(db), "--upstream", up.url]) as prx:
        recorded = _agent(prx.url)
    up.stop()
    assert recorded == ["4", "6"]
    with CliServer(["proxy", "--port", "0", "--replay", str(db)]) as rep:
        assert _agent(rep.url) == recorded
        with pytest.raises(openai.ConflictError) as e:
            openai.OpenAI(base_url=rep.url, api_key="x", max_retries=0).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "What is 2 + 3?"}]
            )
        assert "closest recorded request" in json.dumps(e.value.body)


def test_the_cli_imports_no_server_stack_until_serve_or_proxy_runs() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ponder.cli; print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('starlette', 'uvicorn') or m.startswith('ponder.interop')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_bad_key_ignore_regex_is_one_line(tmp_path: Path) -> None:
    TraceStore(tmp_path / "rec.db").close()
    res = runner.invoke(app, ["proxy", "--replay", str(tmp_path / "rec.db"), "--key-ignore", "("])
    assert res.exit_code == 2 and "--key-ignore '(': not a regular expression" in res.stderr, res.output
