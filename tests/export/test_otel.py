"""Recorded runs as OpenTelemetry spans: the span tree is the event tree, GenAI/OpenInference attributes, no secrets.

These use the SDK's in-memory exporter (the `otel` extra); `test_otel_phoenix.py` sends to a real Phoenix.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.errors import ConfigError
from ponder.export import otel
from ponder.traces.store import TraceStore

HAS_SDK = importlib.util.find_spec("opentelemetry") is not None and (
    importlib.util.find_spec("opentelemetry.sdk") is not None
)
needs_sdk = pytest.mark.skipif(not HAS_SDK, reason="the otel extra is not installed (pip install -e '.[otel]')")
RECORDINGS = Path(__file__).parent.parent / "recordings"
runner = CliRunner()


def recording(tmp_path: Path, name: str) -> TraceStore:
    path = tmp_path / f"{name}.db"
    shutil.copyfile(RECORDINGS / f"{name}.db", path)
    return TraceStore(path)


def spans_of(store: TraceStore, run_id: str, *, content: bool = True) -> list[Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ponder.export.otel_spans import RunSpans

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    RunSpans(store, provider.get_tracer("test"), content).run(store.get_run(run_id), None)
    return list(memory.get_finished_spans())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_sdk
def test_span_tree_is_the_event_tree(tmp_path: Path) -> None:
    store = recording(tmp_path, "tot_game24")
    (run,) = store.list_runs()
    spans = spans_of(store, run.id)
    events = list(store.iter_events(run.id))
    assert len(spans) == len(events) + 1  # one per event, plus the run
    by_id = {s.context.span_id: s for s in spans}
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "invoke_agent tot" and root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["openinference.span.kind"] == "AGENT"
    assert len({s.context.trace_id for s in spans}) == 1
    for e in events:
        (span,) = [s for s in spans if s.attributes.get("ponder.event.seq") == e.seq]
        parent = by_id[span.parent.span_id]
        assert parent.attributes.get("ponder.event.seq") == e.parent_seq  # None: the run's span
        assert span.start_time == int(e.started_at * 1e9)  # the recording's time
    calls = {c.event_seq: c for c in store.llm_calls(run.id)}
    chats = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert chats and len(chats) == len(calls)
    for s in chats:
        c = calls[s.attributes["ponder.event.seq"]]
        assert s.name == f"chat {c.request['model']}" if c.request.get("model") else s.name.startswith("chat ")
        assert s.attributes["gen_ai.usage.input_tokens"] == c.prompt_tokens
        assert s.attributes["gen_ai.usage.output_tokens"] == c.completion_tokens
        assert s.attributes["gen_ai.request.temperature"] == c.request["temperature"]
        assert s.attributes["openinference.span.kind"] == "LLM"
        assert s.attributes["llm.input_messages.0.message.content"] == c.request["messages"][0]["content"]
        assert s.attributes["llm.output_messages.0.message.content"] == c.response["choices"][0]["text"]
        assert s.attributes["gen_ai.response.finish_reasons"] == (c.response["choices"][0]["finish_reason"],)


@needs_sdk
def test_child_runs_nest_under_their_trial_and_tools_are_execute_tool_spans(tmp_path: Path) -> None:
    store = recording(tmp_path, "reflexion_household")
    (run,) = store.list_runs()
    spans = spans_of(store, run.id)
    assert len({s.context.trace_id for s in spans}) == 1  # the whole run, children included, is one trace
    by_id = {s.context.span_id: s for s in spans}
    agents = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "invoke_agent"]
    children = store.child_runs(run.id)
    assert len(agents) == 1 + len(children)
    for child in children:
        (span,) = [s for s in agents if s.attributes["ponder.run.id"] == child.id]
        parent = by_id[span.parent.span_id]
        assert parent.attributes["ponder.event.kind"] == "trial"
    tools = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "execute_tool"]
    recorded = store.tool_calls(store.descendant_run_ids(run.id))
    assert len(tools) == len(recorded) > 0
    assert {s.attributes["gen_ai.tool.name"] for s in tools} == {t.tool for t in recorded}
    assert all(s.attributes["openinference.span.kind"] == "TOOL" and s.parent is not None for s in tools)


@needs_sdk
def test_no_content_leaves_out_messages_and_results(tmp_path: Path) -> None:
    store = recording(tmp_path, "reflexion_household")
    (run,) = store.list_runs()
    spans = spans_of(store, run.id, content=False)
    keys = {k for s in spans for k in s.attributes}
    assert not any(k.startswith(("llm.input_messages", "llm.output_messages")) for k in keys)
    assert not keys & {"input.value", "output.value", "ponder.event.data"}
    assert any(k == "gen_ai.usage.input_tokens" for k in keys)  # the numbers stay


@needs_sdk
async def test_an_api_key_is_never_exported(tmp_path: Path) -> None:
    from ponder._util.secrets import register_secret
    from ponder.agents.cot import CoT

    key = "sk-otel-5e6f7a8b9c0d1e2f"
    register_secret(key)
    store = TraceStore(tmp_path / "t.db")
    backend = ScriptedBackend([f"Authorization: Bearer {key} and the answer is 4."])
    result = await CoT().arun("What is 2 + 2?", backend=backend, store=store)
    spans = spans_of(store, result.run_id)
    text = json.dumps([dict(s.attributes) for s in spans])
    assert key not in text and "Bearer" not in text
    assert "the answer is 4" in text


@needs_sdk
def test_a_refusing_endpoint_is_one_line(tmp_path: Path) -> None:
    store = recording(tmp_path, "tot_game24")
    (run,) = store.list_runs()
    target = otel.OTLPTarget(endpoint=f"http://127.0.0.1:{closed_port()}", timeout_s=1)
    with pytest.raises(otel.ExportError) as info:
        otel.export_runs(store, [run.id], target)
    message = str(info.value)
    n = len(list(store.iter_events(run.id))) + 1  # one span per event, plus the run
    assert "\n" not in message and f"0 of {n} spans accepted ({n} got no answer)" in message
    assert "ConnectError" in message


def test_without_the_extra_it_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(otel, "_SDK_MODULES", ("ponder_no_such_module.sdk",))
    store = recording(tmp_path, "tot_game24")
    with pytest.raises(otel.ExportError, match=r"needs the otel extra: pip install"):
        otel.export_runs(store, [store.list_runs()[0].id], otel.OTLPTarget(endpoint="http://127.0.0.1:9"))


def test_endpoint_and_headers_are_checked() -> None:
    assert otel.traces_url("http://127.0.0.1:6006") == "http://127.0.0.1:6006/v1/traces"
    assert otel.traces_url("http://h:1/v1/traces/") == "http://h:1/v1/traces/".rstrip("/")
    with pytest.raises(ConfigError, match="http"):
        otel.traces_url("127.0.0.1:6006")
    assert otel.parse_headers(["api_key=abcd1234", "x = y"]) == {"api_key": "abcd1234", "x": "y"}
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        otel.parse_headers(["nope"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "abc"], "give --otlp URL"),
        (["export", "--otlp", "http://127.0.0.1:9"], "give a RUN_ID or --experiment"),
        (["export", "abc", "--experiment", "e", "--otlp", "http://127.0.0.1:9"], "give a RUN_ID or --experiment"),
        (["export", "abc", "--otlp", "ftp://x"], "give an http(s) URL"),
        (["export", "abc", "--otlp", "http://127.0.0.1:9", "--header", "bad"], "NAME=VALUE"),
    ],
)
def test_export_bad_input_is_one_line_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    res = runner.invoke(app, [*args, "--db", str(tmp_path / "t.db")])
    assert res.exit_code == 2, res.output
    assert message in res.output and len(res.output.strip().splitlines()) == 1


@needs_sdk
def test_live_export_to_a_refusing_endpoint_still_stores_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry._extra["backends"], "fake", lambda **kw: ScriptedBackend(["The answer is 4."]))
    monkeypatch.setenv("PONDER_OTLP_TIMEOUT", "1")
    db = tmp_path / "t.db"
    url = f"http://127.0.0.1:{closed_port()}"
    res = runner.invoke(app, ["run", "What is 2 + 2?", "--backend", "fake", "--db", str(db), "--json", "--otlp", url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["answer"] == "4"
    problems = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(problems) == 1 and "OTLP export to" in problems[0] and "failed" in problems[0]
    (run,) = TraceStore(db).list_runs()
    assert run.status == "ok" and run.answer == "4"
