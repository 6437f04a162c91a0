"""Hostile input (issue 9 §4): text that is not UTF-8, control characters in JSON output,
and bad command-line input — never a crash, never a lost reply, one line and exit 2."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from ponder import registry
from ponder._util.text import clean_text, escape_json_text, json_text
from ponder.agents.cot import CoT
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.replay.rerun import replay
from ponder.runtime.budget import Budget
from ponder.traces.store import TraceStore
from ponder.types import Choice, Task

runner = CliRunner()
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
HOSTILE_ANSWER = "4\x9b[31m\x85\x1b]0;pwn\x07"  # C1 CSI, NEL, an OSC title


def _fake(monkeypatch: pytest.MonkeyPatch, reply: str) -> None:
    monkeypatch.setitem(registry._extra["backends"], "fake", lambda model="m": ScriptedBackend([reply] * 4))


# -- text that cannot be encoded as UTF-8 ---------------------------------------------------


def test_clean_text_replaces_lone_surrogates_only() -> None:
    assert clean_text("plain é 😀") == "plain é 😀"
    assert clean_text("a\ud800b") == "a\ufffdb"
    assert clean_text("byte \udcff") == "byte \ufffd"
    assert clean_text("\ud83d\ude00") == "😀"  # a pair split in two code points is one character


def test_lone_surrogate_in_a_reply_is_stored_and_replays(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db")
    result = asyncio.run(CoT().arun("q", backend=ScriptedBackend(["x \ud800 The answer is 7\udcff"]), store=store))
    assert result.status == "ok" and result.answer == "7\ufffd"
    (row,) = store.db.query("select response_json from llm_calls where run_id = ?", [result.run_id])
    assert "x \ufffd The answer" in json.loads(row["response_json"])["choices"][0]["text"]
    assert replay(store, result.run_id).identical
    store.close()


def test_store_write_path_takes_any_string(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db")
    rid = store.create_run(agent="cot", task={"input": "q\udcff"}, model="m\ud800")
    store.add_event(rid, seq=1, kind="thought", label="l\ud800", summary="s\udc80")
    store.finish_run(rid, status="error", answer="a\ud800", error="e\udcff")
    run = store.get_run(rid)
    assert (run.answer, run.error, run.model) == ("a\ufffd", "e\ufffd", "m\ufffd")
    assert store.event(rid, 1).summary == "s\ufffd"
    store.close()


def test_surrogate_in_a_task_is_hashable() -> None:
    task = Task.from_question("q\udcff")
    assert task.input == "q\ufffd" and len(task.id) == 12
    assert Choice(text="\ud800").text == "\ufffd"


@respx.mock
def test_openai_reply_with_a_lone_surrogate_is_not_lost(tmp_path: Path) -> None:
    body = (
        '{"choices": [{"index": 0, "message": {"role": "assistant", "content": "odd \\ud800 text. '
        'The answer is 9"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}'
    )
    respx.post("http://127.0.0.1:9/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})
    )
    db = tmp_path / "t.db"
    res = runner.invoke(
        app, ["run", "q", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--db", str(db), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["answer"] == "9"
    with TraceStore(db, create=False) as store:
        (row,) = store.db.query("select response_json from llm_calls")
    assert "odd \ufffd text" in json.loads(row["response_json"])["choices"][0]["text"]


@pytest.mark.slow  # a real console-script process (raw bytes in argv)
def test_non_utf8_question_is_one_line_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "PONDER_DB": str(tmp_path / "t.db"), "PONDER_BACKEND": "scripted"}
    out = subprocess.run(
        [sys.executable, "-c", "from ponder.cli import main; main()", "run", b"what is \xff?"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    err = out.stderr.decode()
    assert "not valid UTF-8" in err and "0xff" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# -- JSON outputs never carry raw control characters ---------------------------------------------


def test_json_text_escapes_c1_del_and_surrogates_losslessly() -> None:
    value = {"a": "x\x9b[31m\x85\x7f\ud800 é"}
    text = json_text(value)
    assert not RAW_CONTROL.search(text) and "é" in text
    assert json.loads(text) == value
    assert escape_json_text('"\x9b"') == '"\\u009b"'


def test_every_json_output_escapes_c1_controls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, f"so. The answer is {HOSTILE_ANSWER}")
    db = str(tmp_path / "t.db")
    ran = runner.invoke(app, ["run", "q\x9b", "--backend", "fake", "--db", db, "--json"])
    assert ran.exit_code == 0, ran.output
    listed = runner.invoke(app, ["runs", "--db", db, "--json"])
    run_id = json.loads(ran.stdout)["run_id"]
    shown = runner.invoke(app, ["show", run_id, "--db", db, "--format", "json"])
    for res in (ran, listed, shown):
        assert res.exit_code == 0, res.output
        assert not RAW_CONTROL.search(res.stdout.rstrip("\n")), repr(res.stdout[:300])
    # escaped, not dropped: the JSON still holds the exact text
    assert json.loads(ran.stdout)["answer"].startswith("4\x9b[31m")
    assert json.loads(listed.stdout)[0]["task"]["input"] == "q\x9b"
    assert "\x9b" in json.dumps(json.loads(shown.stdout), ensure_ascii=False)


# -- bad command-line input: one line on stderr, exit 2, no traceback ---------------------------


def _one_line_exit_2(res, message: str) -> None:
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert "Traceback" not in res.output and "╭" not in res.output, res.output
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert message in res.stderr, res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "q", "--seed", "99999999999999999999"], "Invalid value for '--seed'"),
        (["run", "q", "--seed", "-1"], "Invalid value for '--seed'"),
        (["runs", "--limit", "99999999999999999999"], "Invalid value for '--limit'"),
        (["run", "q", "--timeout", "nan"], "--timeout nan: input should be a finite number"),
        (["run", "q", "--timeout", "inf"], "--timeout inf"),
        (["run", "q", "--timeout", "-1"], "--timeout -1.0: input should be greater than 0"),
        (["run", "q", "--max-calls", "-1"], "Invalid value for '--max-calls'"),
        (["run", "q", "--max-tokens", "-5"], "Invalid value for '--max-tokens'"),
        (["run", "q\udcff"], "the question is not valid UTF-8 text (byte 0xff at character 1)"),
        # Typer/click usage errors, which Typer prints as a multi-line boxed panel
        (["run"], "Missing argument 'question'"),
        (["run", "q", "--bogus"], "No such option: --bogus"),
        (["run", "q", "--seed"], "requires an argument"),
        (["run", "q", "--seed", "abc"], "Invalid value for '--seed'"),
        (["runs", "--limit", "0"], "Invalid value for '--limit'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["show"], "Missing argument 'run_id'"),
        (["corpus", "build"], "Missing argument 'file'"),
        (["corpus", "nosuch"], "No such command 'nosuch'"),
        (["bench", "--concurrency", "0"], "Invalid value for '--concurrency'"),
        (["compare"], "Missing argument"),
        (["replay"], "Missing argument 'run_id'"),
        (["tui", "--port", "x"], "Invalid value for '--port'"),
        (["run", "q", "extra", "args"], "Got unexpected extra argument"),
    ],
)
def test_bad_cli_input_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args, message) -> None:
    _fake(monkeypatch, "The answer is 1")
    monkeypatch.setenv("PONDER_BACKEND", "fake")
    _one_line_exit_2(runner.invoke(app, args), message)


def test_budget_model_rejects_negative_and_nan() -> None:
    for bad in ({"max_calls": -1}, {"max_tokens": -1}, {"timeout_s": float("nan")}, {"timeout_s": 0}):
        with pytest.raises(ValueError):
            Budget(**bad)


def test_non_utf8_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b'default = "x"\n[profiles.x]\nmodel = "\xff"\n')
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    _one_line_exit_2(runner.invoke(app, ["run", "q"]), "not UTF-8 text")


def test_profile_that_is_a_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('default = "x"\n[profiles]\nx = "gpt"\n')
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    _one_line_exit_2(runner.invoke(app, ["run", "q"]), "profile 'x' is a str, not a table")
    _one_line_exit_2(runner.invoke(app, ["backends"]), "profile 'x' is a str, not a table")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jsonl", None, "does not exist"),
        ("binary.jsonl", b"\x7fELF\x02\x01\x01\x00\xff\xfe" * 20, "not a ponder recording"),
        ("list.jsonl", b"[1, 2]\n", "not a ponder recording"),
        ("missing.db", None, "does not exist"),
        ("binary.db", b"\x7fELF\x02\x01\x01\x00\xff\xfe" * 20, "not a SQLite database"),
    ],
)
def test_replay_of_a_missing_or_binary_recording(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    _one_line_exit_2(runner.invoke(app, ["replay", "abc", "--db", str(path)]), message)


def test_db_whose_folder_cannot_be_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "The answer is 1")
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    res = runner.invoke(app, ["run", "q", "--backend", "fake", "--db", str(blocker / "sub" / "t.db")])
    _one_line_exit_2(res, f"cannot create the folder {blocker / 'sub'}")


def test_tui_with_two_databases_refuses(tmp_path: Path) -> None:
    res = runner.invoke(app, ["tui", str(tmp_path / "a.db"), "--db", str(tmp_path / "b.db")])
    _one_line_exit_2(res, "two trace databases given")
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()


@pytest.mark.slow  # a real console-script process
def test_console_script_usage_error_is_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from ponder.cli import main; main()", "run", "--bogus"],
        capture_output=True,
        text=True,
        env={**os.environ, "PONDER_DB": str(tmp_path / "t.db")},
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "No such option: --bogus" in lines[0], out.stderr
