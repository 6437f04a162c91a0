"""`ponder fork` / `ponder.fork` and `ponder diff` (issue 12): the prefix is served from the
recording (the server's request count proves it), the fork point is edited, only the branch
that depends on it diverges, the origin is never written to, and bad input is one line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder.agents.react import ReAct
from ponder.agents.self_consistency import SelfConsistency
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.replay.diff import diff_runs
from ponder.replay.fork import afork
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task
from tests.fake_openai import FakeOpenAI, text

runner = CliRunner()
QUESTION = "What is 1234 * 5678?"


def react_model(body: dict[str, Any]) -> dict[str, Any]:
    """A text-mode ReAct model: compute with the calculator, then finish with what it observed."""
    last = body["messages"][-1]["content"]
    if last.startswith("Observation:"):
        value = last.removeprefix("Observation:").strip()
        return text(f"Thought: the calculator says {value}.\nAction: finish[{value}]")
    return text("Thought: I should compute this.\nAction: calculator[1234 * 5678]")


def snapshot(store: TraceStore, run_id: str) -> list[tuple[Any, ...]]:
    return [(e.seq, e.kind, e.label, e.status, e.summary) for e in store.iter_events(run_id)]


@pytest.fixture
def recorded_react(tmp_path: Path) -> tuple[TraceStore, str, FakeOpenAI]:
    """A ReAct run recorded against a local fake OpenAI server (text mode: no native tools)."""
    server = FakeOpenAI(react_model)
    server.__enter__()
    store = TraceStore(tmp_path / "t.db")
    backend = OpenAICompatBackend(base_url=server.url, model="fake-model", api_key="k")
    agent = ReAct(mode="text", tools=["calculator"], max_steps=4)
    task = Task(id="mul", input=QUESTION, expected="7006652")
    import asyncio

    result = asyncio.run(run_agent(agent, task, backend=backend, store=store))
    assert result.answer == "7006652" and len(server.requests) == 2
    yield store, result.run_id, server
    server.__exit__(None, None, None)
    store.close()


def test_react_forked_at_its_second_call_makes_no_live_call_before_it(
    recorded_react: tuple[TraceStore, str, FakeOpenAI],
) -> None:
    store, origin, server = recorded_react
    calls = [e for e in store.iter_events(origin) if e.kind == "llm_call"]
    second = calls[1].seq
    before_origin = snapshot(store, origin)
    server.requests.clear()
    live = OpenAICompatBackend(base_url=server.url, model="fake-model", api_key="k")
    import asyncio

    edit = "Thought: I will answer directly.\nAction: finish[7006650]"
    result = asyncio.run(afork(store, origin, at=second, edit=edit, backend=live))
    assert server.requests == []  # the first call was served from the recording, the second is the edit
    assert result.answer == "7006650" and result.correct is False
    assert result.metadata["fork"] == {"live_calls": 0, "served": 1, "of": origin, "at": second}
    fork_events = snapshot(store, result.run_id)
    prefix = [e for e in before_origin if e[0] < second]
    assert fork_events[: len(prefix)] == prefix  # events identical before the fork point
    assert fork_events[len(prefix)][1:3] == ("llm_call", "react step 2")
    assert fork_events[len(prefix)][4] != before_origin[len(prefix)][4]  # diverges at the edit
    assert snapshot(store, origin) == before_origin  # the origin is never written to
    run = store.get_run(result.run_id)
    assert run.forked_from == {"run_id": origin, "seq": second, "event_run_id": origin, "edit": edit}
    assert run.prompt_tokens + run.completion_tokens == 0  # nothing billed: served and edited calls

    d = diff_runs(store, origin, store, result.run_id)
    assert not d.identical and d.first is not None
    _lane, pos, a, b = d.first
    assert (a.seq, b.seq) == (second, second) and a.kind == "llm_call" and d.field == "summary"
    assert (d.a.answer, d.b.answer) == ("7006652", "7006650")

    out = runner.invoke(app, ["diff", origin, result.run_id, "--db", str(store.path)])
    assert out.exit_code == 1, out.output
    assert f"first divergence: the top level, step {pos}" in out.stdout
    assert "react step 2" in out.stdout and "7006650" in out.stdout


def test_a_fork_with_no_edit_makes_the_fork_point_live(recorded_react: tuple[TraceStore, str, FakeOpenAI]) -> None:
    store, origin, server = recorded_react
    second = [e for e in store.iter_events(origin) if e.kind == "llm_call"][1].seq
    server.requests.clear()
    res = runner.invoke(app, ["fork", origin, "--at", str(second), "--base-url", server.url, "--backend", "openai",
                              "--model", "fake-model", "--db", str(store.path), "--json"],
                        env={"OPENAI_API_KEY": "k"})  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["live_calls"] == 1 and data["served_calls"] == 1 and len(server.requests) == 1
    assert data["answer"] == "7006652" and data["forked_from"] == {"run_id": origin, "seq": second, "edit": None}
    same = runner.invoke(app, ["diff", origin, data["run_id"], "--db", str(store.path), "--json"])
    assert same.exit_code == 0, same.output  # the same model said the same thing: identical
    listed = runner.invoke(app, ["runs", "--db", str(store.path)], env={"COLUMNS": "200"})
    ids = [
        ln.split()[0] if not ln.lstrip().startswith("↳") else "↳" + ln.split()[1]
        for ln in listed.stdout.splitlines()[1:]
    ]
    assert ids[ids.index(origin) + 1] == "↳" + data["run_id"]  # the fork is shown under its origin


def sc_model(req: CompletionRequest) -> str:
    from ponder.backends.base import current_call_site

    site = current_call_site.get()
    return f"Path {site.branch if site else '?'}: 6 * 7 = 42. The answer is 42."


async def test_forking_one_self_consistency_path_re_runs_only_that_path(store: TraceStore) -> None:
    origin = await run_agent(SelfConsistency(k=5, use_n=False), "What is 6 * 7?", backend=ScriptedBackend(sc_model),
                             store=store)  # fmt: skip
    path_calls = {e.branch: e.seq for e in store.iter_events(origin.run_id) if e.kind == "llm_call"}
    assert sorted(path_calls) == ["0", "1", "2", "3", "4"]
    live_requests: list[CompletionRequest] = []

    def live(req: CompletionRequest) -> str:
        live_requests.append(req)
        return "unused"

    fork = await afork(store, origin.run_id, at=path_calls["2"], edit="The answer is 41.",
                       backend=ScriptedBackend(live))  # fmt: skip
    assert live_requests == [] and fork.metadata["fork"]["served"] == 4
    assert fork.metadata["tally"] == {"42": 4, "41": 1} and fork.answer == "42"
    d = diff_runs(store, origin.run_id, store, fork.run_id)
    assert d.first is not None and d.first[2] is not None and d.first[2].label == "path 2"  # path 2 first
    from ponder.replay.diff import lanes

    a, b = lanes(store, store.get_run(origin.run_id)), lanes(store, store.get_run(fork.run_id))
    differing = sorted(k[1] for k in a if [e.summary for e in a[k]] != [e.summary for e in b[k]])
    assert differing == ["", "2"]  # only path 2's branch (and its path event, and the vote, at the top)
    paths = {e.data["index"]: e.summary for e in store.iter_events(fork.run_id) if e.kind == "path" and e.data}
    assert paths[2] == "41" and all(paths[i] == "42" for i in (0, 1, 3, 4))


async def test_forking_a_tool_result(store: TraceStore) -> None:
    def model(req: CompletionRequest) -> str:
        last = req.messages[-1].content
        if last.startswith("Observation:"):
            return f"Thought: ok.\nAction: finish[{last.removeprefix('Observation:').strip()}]"
        return "Thought: compute.\nAction: calculator[2 + 2]"

    agent = ReAct(mode="text", tools=["calculator"])
    origin = await run_agent(agent, "2 + 2?", backend=ScriptedBackend(model, supports_tools=False), store=store)
    action = next(e for e in store.iter_events(origin.run_id) if e.kind == "action" and e.label.startswith("calc"))
    fork = await afork(store, origin.run_id, at=action.seq, edit="5", backend=ScriptedBackend(model))
    assert (origin.answer, fork.answer) == ("4", "5")
    assert fork.metadata["fork"]["live_calls"] == 1  # the reply to the changed observation


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "999"], r"has no event 999 \(its events are numbered 1\.\."),
        (["--at", "1"], r"event 1 of run \w+ is a 'step' event, not a model call or a tool result"),
        (["--at", "2", "--edit", "a", "--edit-file", "f.txt"], "--edit or --edit-file, not both"),
        (["--at", "2", "--edit-file", "/nonexistent/f.txt"], "cannot read --edit-file"),
    ],
)
def test_fork_bad_input_is_one_line(
    recorded_react: tuple[TraceStore, str, FakeOpenAI], args: list[str], message: str
) -> None:
    store, origin, _ = recorded_react
    res = runner.invoke(app, ["fork", origin, *args, "--db", str(store.path)])
    assert res.exit_code == 2, res.output
    assert re.search(message, res.stderr) and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1


async def test_fork_of_an_unfinished_run_and_diff_with_itself_are_refused(store: TraceStore) -> None:
    from ponder.errors import ConfigError
    from ponder.traces.recorder import Recorder

    rec = Recorder.start(store, agent="cot")
    seq = rec.event("llm_call", "cot", "q", status="running")
    with pytest.raises(ConfigError, match=r"did not finish \(status (running|interrupted)\)"):
        await afork(store, rec.run_id, at=seq, edit="x", backend=ScriptedBackend([]))
    res = runner.invoke(app, ["diff", rec.run_id, rec.run_id, "--db", str(store.path)])
    assert res.exit_code == 2 and "give two different runs" in res.stderr
