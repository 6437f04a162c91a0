"""Export to a real Phoenix (`arize-phoenix`), started by the test on free loopback ports, spans read back.

Phoenix runs from the Python named by `PONDER_TEST_PHOENIX_PYTHON` (a venv of its own: it needs
openai>=3 where ponder pins <3), else from this interpreter if it has Phoenix. Slow (Phoenix
takes ~20-60 s to start); skipped, saying why, without the otel extra or a Phoenix.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.traces.store import TraceStore


def phoenix_python() -> str | None:
    """The interpreter to run Phoenix with, or None when there is none."""
    named = os.environ.get("PONDER_TEST_PHOENIX_PYTHON")
    if named:
        return named if Path(named).exists() else None
    try:
        found = importlib.util.find_spec("phoenix.server.main") is not None
    except ModuleNotFoundError:
        found = False
    return sys.executable if found else None


PHOENIX_HINT = (
    "no Phoenix: python3 -m venv .venv-phoenix && .venv-phoenix/bin/pip install arize-phoenix, "
    "then PONDER_TEST_PHOENIX_PYTHON=$PWD/.venv-phoenix/bin/python"
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("opentelemetry") is None or importlib.util.find_spec("opentelemetry.sdk") is None,
        reason="the otel extra is not installed (.[otel])",
    ),
    pytest.mark.skipif(phoenix_python() is None, reason=PHOENIX_HINT),
]
RECORDINGS = Path(__file__).parent.parent / "recordings"
STARTUP_DEADLINE = 240.0
runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Phoenix server on free loopback ports with its own working dir; its base URL."""
    work = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = {
        **os.environ,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_WORKING_DIR": str(work),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = (work / "phoenix.log").open("wb")
    python = phoenix_python()
    assert python is not None
    proc = subprocess.Popen(
        [python, "-m", "phoenix.server.main", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_DEADLINE
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Phoenix exited with {proc.returncode}: {(work / 'phoenix.log').read_text()[-2000:]}")
            try:
                if urllib.request.urlopen(f"{base}/healthz", timeout=2).status == 200:
                    break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Phoenix did not start within {STARTUP_DEADLINE} s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def spans_in(base: str, project: str, *, expect: int) -> list[dict[str, Any]]:
    """Every span of `project`, waiting (bounded) until Phoenix has ingested `expect` of them."""
    deadline = time.monotonic() + 60
    while True:
        spans: list[dict[str, Any]] = []
        cursor: str | None = None
        try:
            while True:
                q = f"{base}/v1/projects/{project}/spans?limit=1000" + (f"&cursor={cursor}" if cursor else "")
                page = get(q)
                spans += page["data"]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except urllib.error.HTTPError as e:
            if e.code != 404:  # the project appears with its first span
                raise
        if len(spans) >= expect or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def test_a_recorded_run_is_one_trace_whose_span_tree_is_the_event_tree(phoenix: str, tmp_path: Path) -> None:
    db = tmp_path / "reflexion.db"
    shutil.copyfile(RECORDINGS / "reflexion_household.db", db)
    store = TraceStore(db)
    (run,) = store.list_runs()
    ids = store.descendant_run_ids(run.id)
    events = {rid: list(store.iter_events(rid)) for rid in ids}
    calls = store.llm_calls(ids)
    tools = store.tool_calls(ids)
    expected = len(ids) + sum(len(e) for e in events.values()) + len(tools)

    res = runner.invoke(app, ["export", run.id, "--otlp", phoenix, "--project", "ponder-test", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert f"as {expected} spans" in res.output

    spans = spans_in(phoenix, "ponder-test", expect=expected)
    assert len(spans) == expected
    assert len({s["context"]["trace_id"] for s in spans}) == 1
    by_id = {s["context"]["span_id"]: s for s in spans}
    (root,) = [s for s in spans if s["parent_id"] is None]
    assert root["name"] == "invoke_agent reflexion" and root["span_kind"] == "AGENT"
    # each run's events nest in Phoenix exactly as in the store
    agent_of = {s["attributes"]["ponder.run.id"]: s for s in spans if s["span_kind"] == "AGENT"}
    assert set(agent_of) == set(ids)
    for rid, evs in events.items():
        mine = [s for s in spans if _run_of(s, by_id) == rid and "ponder.event.seq" in s["attributes"]]
        assert sorted(s["attributes"]["ponder.event.seq"] for s in mine) == [e.seq for e in evs]
        for s in mine:
            parent = by_id[s["parent_id"]]
            want = next(e.parent_seq for e in evs if e.seq == s["attributes"]["ponder.event.seq"])
            assert parent["attributes"].get("ponder.event.seq") == want
    # model calls: chat spans with their token counts; tool calls: execute_tool spans
    chats = [s for s in spans if s["name"].startswith("chat ")]
    assert len(chats) == len(calls)
    assert sorted(s["attributes"]["gen_ai.usage.input_tokens"] for s in chats) == sorted(c.prompt_tokens for c in calls)
    assert sorted(s["attributes"]["llm.token_count.completion"] for s in chats) == sorted(
        c.completion_tokens for c in calls
    )
    assert all(s["span_kind"] == "LLM" and s["attributes"]["gen_ai.operation.name"] == "chat" for s in chats)
    tool_spans = [s for s in spans if s["name"].startswith("execute_tool ")]
    assert len(tool_spans) == len(tools) and all(s["span_kind"] == "TOOL" for s in tool_spans)


def _run_of(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> str | None:
    """The run a span belongs to: its nearest `invoke_agent` ancestor's run id."""
    s: dict[str, Any] | None = by_id.get(span["parent_id"] or "")
    while s is not None:
        if s["span_kind"] == "AGENT":
            return str(s["attributes"]["ponder.run.id"])
        s = by_id.get(s["parent_id"] or "")
    return None


def test_live_mode_sends_the_run_without_content_or_key(
    phoenix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ponder._util.secrets import register_secret

    key = "sk-phoenix-live-0a1b2c3d4e5f"
    register_secret(key)
    monkeypatch.setitem(
        registry._extra["backends"], "fake", lambda **kw: ScriptedBackend([f"key {key}. The answer is 4."])
    )
    monkeypatch.setenv("PONDER_OTLP_ENDPOINT", phoenix)
    db = tmp_path / "live.db"
    res = runner.invoke(app, ["run", "What is 2 + 2?", "--backend", "fake", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    run_id = json.loads(res.stdout)["run_id"]
    spans = [
        s
        for s in spans_in(phoenix, "ponder", expect=4)
        if s["attributes"].get("ponder.run.id") == run_id or s["name"].startswith("chat ")
    ]
    assert any(s["name"] == "invoke_agent cot" for s in spans)
    assert key not in json.dumps(spans)


def test_a_recorded_tot_run_shows_its_tree(phoenix: str, tmp_path: Path) -> None:
    db = tmp_path / "tot.db"
    shutil.copyfile(RECORDINGS / "tot_game24.db", db)
    store = TraceStore(db)
    (run,) = store.list_runs()
    events = list(store.iter_events(run.id))
    res = runner.invoke(app, ["export", run.id, "--otlp", phoenix, "--project", "ponder-tot", "--db", str(db)])
    assert res.exit_code == 0, res.output
    spans = spans_in(phoenix, "ponder-tot", expect=len(events) + 1)
    by_id = {s["context"]["span_id"]: s for s in spans}
    seq_parent = {
        s["attributes"]["ponder.event.seq"]: by_id[s["parent_id"]]["attributes"].get("ponder.event.seq")
        for s in spans
        if "ponder.event.seq" in s["attributes"]
    }
    assert seq_parent == {e.seq: e.parent_seq for e in events}
    nodes = [s for s in spans if s["name"] == "node"]
    assert len(nodes) == sum(1 for e in events if e.kind == "node") > 0
