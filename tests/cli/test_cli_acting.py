"""`ponder corpus build/search`, and `ponder run --agent react` calling the calculator through native tool calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend, tool_call
from ponder.cli import app
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest

runner = CliRunner()


def test_corpus_build_reports_bad_lines_and_search_uses_it(tmp_path: Path) -> None:
    src = tmp_path / "pages.jsonl"
    src.write_text(
        json.dumps({"title": "Zork", "text": "Zork is a text adventure. It was written at MIT."})
        + "\n{broken\n"
        + json.dumps({"title": "No text"})
        + "\n"
    )
    db = tmp_path / "corpus.db"
    res = runner.invoke(app, ["corpus", "build", str(src), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "1 pages added, 0 replaced, 2 bad lines skipped" in res.stdout
    assert "line 2: not JSON" in res.stdout and "line 3: missing or empty 'text'" in res.stdout
    found = runner.invoke(app, ["corpus", "search", "zork", "--db", str(db)])
    assert found.exit_code == 0 and found.stdout.startswith("Zork is a text adventure.")
    again = runner.invoke(app, ["corpus", "build", str(src), "--db", str(db), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["already_built"] is True  # nothing loaded twice
    as_json = runner.invoke(app, ["corpus", "build", str(src), "--db", str(db), "--json", "--restart"])
    assert json.loads(as_json.stdout)["replaced"] == 1


def test_corpus_build_of_only_bad_lines_fails_in_one_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text("nope\n[]\n")
    res = runner.invoke(app, ["corpus", "build", str(src), "--db", str(tmp_path / "c.db")])
    assert res.exit_code == 2
    assert "ponder: no usable lines" in res.stderr
    missing = runner.invoke(app, ["corpus", "build", str(tmp_path / "missing.jsonl"), "--db", str(tmp_path / "c.db")])
    assert missing.exit_code == 2 and "cannot read corpus file" in missing.stderr


@pytest.fixture
def tool_calling_backend(monkeypatch: pytest.MonkeyPatch) -> list[CompletionRequest]:
    seen: list[CompletionRequest] = []

    def respond(req: CompletionRequest):
        seen.append(req)
        if req.messages[-1].role == "tool":
            return tool_call("finish", json.dumps({"answer": req.messages[-1].content}), id="call_2")
        return tool_call("calculator", json.dumps({"expression": "1234 * 5678"}), id="call_1")

    def factory(model: str = "fake-tools"):
        return ScriptedBackend(respond, model=model, supports_tools=True)

    monkeypatch.setitem(registry._extra["backends"], "fake-tools", factory)
    return seen


def test_run_react_calls_the_calculator(tmp_path: Path, tool_calling_backend: list[CompletionRequest]) -> None:
    db = tmp_path / "t.db"
    res = runner.invoke(
        app, ["run", "What is 1234 * 5678?", "--agent", "react", "--backend", "fake-tools", "--db", str(db), "--json"]
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["answer"] == "7006652" and payload["agent"] == "react"
    assert tool_calling_backend[0].tools and "calculator" in [t.name for t in tool_calling_backend[0].tools]
    store = TraceStore(db)
    calls = store.tool_calls(payload["run_id"])
    assert [(c.tool, c.result) for c in calls] == [("calculator", "7006652")]
    store.close()


def _openai_reply(message: dict, finish: str) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def test_run_react_against_an_openai_compatible_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx
    import respx

    base = "http://llm.test/v1"
    monkeypatch.setenv("MY_KEY", "sk-test-not-real")

    def answer(request: httpx.Request) -> httpx.Response:
        msgs = json.loads(request.content)["messages"]
        if msgs[-1]["role"] == "tool":
            call = {
                "id": "call_2",
                "type": "function",
                "function": {"name": "finish", "arguments": '{"answer": "7006652"}'},
            }
        else:
            args = json.dumps({"expression": "1234 * 5678"})
            call = {"id": "call_1", "type": "function", "function": {"name": "calculator", "arguments": args}}
        return httpx.Response(200, json=_openai_reply({"content": None, "tool_calls": [call]}, "tool_calls"))

    db = tmp_path / "t.db"
    with respx.mock:
        route = respx.post(f"{base}/chat/completions").mock(side_effect=answer)
        res = runner.invoke(
            app,
            ["run", "What is 1234 * 5678?", "--agent", "react", "--backend", "openai", "--base-url", base,
             "--model", "m", "--api-key-env", "MY_KEY", "--db", str(db), "--json"],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["answer"] == "7006652"
    first, second = (json.loads(c.request.content) for c in route.calls)
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator", "search", "lookup", "finish"]
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "calculator"
    assert second["messages"][-1] == {"role": "tool", "content": "7006652", "tool_call_id": "call_1"}
