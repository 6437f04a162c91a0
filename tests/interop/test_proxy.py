"""`ponder proxy`: an `openai` SDK client's calls recorded as runs through a proxy the test starts on
loopback, in front of a loopback OpenAI server; then answered from the recording with it stopped."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.interop._http import ThreadedServer
from ponder.interop.loopback import LoopbackOpenAI
from ponder.interop.proxy import RecordingProxy
from ponder.interop.proxy_replay import ReplayIndex
from ponder.traces.store import TraceStore
from tests.interop.conftest import Reply

KEY = "sk-client-secret-4242"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "multiply",
            "description": "a * b",
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
        },
    }
]
Q = [{"role": "user", "content": "What is 17 * 23?"}]


def agent_turns(body: dict[str, Any]) -> Reply:
    """A model that calls `multiply` first, then answers with the tool's result."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return Reply(f"The answer is {last['content']}.")
    return Reply("", tool_calls=[("multiply", {"a": 17, "b": 23})])


def client(s: ThreadedServer, session: str | None = None, **kw: Any) -> openai.OpenAI:
    headers = {"X-Ponder-Session": session} if session else None
    return openai.OpenAI(base_url=f"{s.url}/v1", api_key=KEY, max_retries=0, default_headers=headers, **kw)


def run_agent_loop(c: openai.OpenAI, *, stream_last: bool = False) -> str:
    """What a tool-calling agent does: ask, run the tool it is told to, ask again with the result."""
    first = c.chat.completions.create(model="loopback-model", messages=Q, tools=TOOLS)  # type: ignore[arg-type]
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    args = json.loads(call.function.arguments)  # type: ignore[union-attr]
    messages = [
        *Q,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": str(args["a"] * args["b"])},
    ]
    if stream_last:
        chunks = c.chat.completions.create(model="loopback-model", messages=messages, tools=TOOLS, stream=True)  # type: ignore[arg-type]
        return "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    second = c.chat.completions.create(model="loopback-model", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    return second.choices[0].message.content or ""


def test_a_tool_using_client_is_recorded_as_one_run(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(agent_turns)
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    assert run_agent_loop(client(s), stream_last=True) == "The answer is 391."
    [run] = store.list_runs()
    assert (run.agent, run.status, run.answer, run.model, run.calls) == (
        "proxy",
        "ok",
        "The answer is 391.",
        "loopback-model",
        2,
    )
    assert run.task["input"] == "What is 17 * 23?" and run.config["upstream"] == up.url
    events = list(store.iter_events(run.id, with_data=True))
    assert [(e.kind, e.label, e.status) for e in events] == [
        ("llm_call", "loopback-model", "ok"),
        ("action", "multiply", "ok"),
        ("observation", "multiply", "ok"),
        ("llm_call", "loopback-model", "ok"),
    ]
    assert events[1].parent_seq == 1 and events[2].parent_seq == 2
    [tool] = store.tool_calls(run.id)
    assert (tool.tool, tool.args, tool.result) == ("multiply", {"a": 17, "b": 23}, "391")
    first, second = store.llm_calls(run.id)
    assert first.request["tools"][0]["name"] == "multiply" and first.response is not None
    assert first.response["choices"][0]["tool_calls"][0]["name"] == "multiply"
    assert first.response["wire"]["body"]["id"] == "chatcmpl-loopback-1"  # the upstream's own reply, kept
    assert (first.prompt_tokens, first.completion_tokens) == (5, 8)
    assert first.attempts and first.attempts[0]["status"] == 200 and (first.latency_ms or 0) > 0
    # a stream not asked for usage: the text assembled from its chunks, tokens unknown (not zero)
    assert second.response is not None and second.response["choices"][0]["text"] == "The answer is 391."
    assert len(second.response["wire"]["chunks"]) >= 4 and second.prompt_tokens is None


def test_the_client_key_is_forwarded_but_never_stored(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any, tmp_path: Path
) -> None:
    up = upstream(lambda body: Reply(f"echo {json.dumps(body)[:50]} {KEY}"))
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    reply = client(s).chat.completions.create(model="m", messages=Q)
    assert KEY in (reply.choices[0].message.content or "")  # the client gets the upstream's bytes
    assert [h["authorization"] for h in up.headers] == [f"Bearer {KEY}"]
    assert "x-ponder-session" not in up.headers[0]
    store.flush()
    raw = Path(store.path).read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("*.db-wal"))
    assert KEY.encode() not in raw and b"***" in raw


def test_one_run_per_session_header_and_per_idle_gap_without_one(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply("ok"))
    now = [0.0]
    s = serve_app(RecordingProxy(store, upstream=up.url, idle_gap=10, clock=lambda: now[0]).app)
    for session in ("alpha", "beta", "alpha"):
        client(s, session).chat.completions.create(model="m", messages=Q)
    plain = client(s)
    plain.chat.completions.create(model="m", messages=Q)
    now[0] = 5.0
    plain.chat.completions.create(model="m", messages=Q)  # within the gap: same run
    now[0] = 20.0
    plain.chat.completions.create(model="m", messages=Q)  # after it: a new run
    runs = store.list_runs(limit=10)
    by_session = sorted((r.config["session"] or "-", r.calls) for r in runs)
    assert by_session == [("-", 1), ("-", 2), ("alpha", 2), ("beta", 1)]
    assert {r.status for r in runs} == {"ok"}  # nothing in flight: every run closed


def test_replay_answers_from_the_recording_with_the_upstream_gone(
    tmp_path: Path, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    db = tmp_path / "rec.db"
    store = TraceStore(db)
    up = LoopbackOpenAI(agent_turns).start()
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    recorded = (run_agent_loop(client(s)), run_agent_loop(client(s), stream_last=True))
    s.stop()
    up.stop()
    replaying = TraceStore(db, readonly=True)
    r = serve_app(RecordingProxy(replaying, upstream=None, replay=ReplayIndex(replaying)).app)
    assert (run_agent_loop(client(r)), run_agent_loop(client(r), stream_last=True)) == recorded
    # a stream asked for what was recorded whole is rebuilt from the completion, and vice versa
    assert run_agent_loop(client(r), stream_last=False) == recorded[0]
    assert [m.id for m in client(r).models.list()] == ["loopback-model"]
    assert len(replaying.list_runs()) == 1  # replaying records nothing


def test_an_unrecorded_request_answers_409_with_the_closest_and_the_diff(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply("391"))
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    client(s).chat.completions.create(model="m", messages=Q)
    r = serve_app(RecordingProxy(store, upstream=None, replay=ReplayIndex(store)).app)
    with pytest.raises(openai.ConflictError) as e:
        client(r).chat.completions.create(model="m", messages=[{"role": "user", "content": "What is 17 * 24?"}])
    body = e.value.body
    assert isinstance(body, dict) and body["code"] == "replay_miss"
    lines = body["message"].splitlines()
    assert lines[0].startswith("no recorded completion for request ") and body["request_key"] in lines[0]
    assert lines[1].startswith("closest recorded request: call #1")
    assert "-[user] What is 17 * 23?" in lines and "+[user] What is 17 * 24?" in lines
    with pytest.raises(openai.ConflictError) as e:  # a parameter, not a message, differs
        client(r).chat.completions.create(model="m", messages=Q, temperature=0.9)
    assert "differing parameters: temperature" in e.value.body["message"]  # type: ignore[index]


def test_record_missing_forwards_records_and_then_serves_it(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply(f"reply {len(up.requests)}"))
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    client(s).chat.completions.create(model="m", messages=Q)
    r = serve_app(RecordingProxy(store, upstream=up.url, replay=ReplayIndex(store), record_missing=True).app)
    other = [{"role": "user", "content": "And 2 + 2?"}]
    c = client(r)
    assert c.chat.completions.create(model="m", messages=Q).choices[0].message.content == "reply 1"
    assert c.chat.completions.create(model="m", messages=other).choices[0].message.content == "reply 2"
    assert c.chat.completions.create(model="m", messages=other).choices[0].message.content == "reply 2"
    assert len(up.requests) == 2  # only the missing one went upstream, once
    assert sorted(r.calls for r in store.list_runs()) == [1, 1]


def test_runs_show_diff_and_the_tui_read_proxied_runs(
    tmp_path: Path, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    db = tmp_path / "t.db"
    store = TraceStore(db)
    up = upstream(agent_turns)
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    run_agent_loop(client(s, "one"))
    run_agent_loop(client(s, "two"), stream_last=True)
    store.flush()
    cli = CliRunner()
    listed = cli.invoke(app, ["runs", "--db", str(db), "--json"])
    assert listed.exit_code == 0, listed.output
    ids = [r["id"] for r in json.loads(listed.stdout)]
    assert len(ids) == 2
    shown = cli.invoke(app, ["show", ids[0], "--db", str(db)])
    assert shown.exit_code == 0 and "multiply" in shown.stdout and KEY not in shown.stdout
    diff = cli.invoke(app, ["diff", ids[1], ids[0], "--db", str(db)])
    assert diff.exit_code in (0, 1) and "Traceback" not in diff.output, diff.output


def test_a_proxied_run_exports_as_otel_spans(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed (pip install -e '.[otel]')")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ponder.export.otel_spans import RunSpans

    up = upstream(agent_turns)
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    run_agent_loop(client(s))
    [run] = store.list_runs()
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    RunSpans(store, provider.get_tracer("test"), True).run(store.get_run(run.id), None)
    spans = list(memory.get_finished_spans())
    names = sorted(sp.name for sp in spans)
    assert names.count("chat loopback-model") == 2 and any(n.startswith("invoke_agent") for n in names), names
    chat = next(sp for sp in spans if sp.name == "chat loopback-model")
    assert chat.attributes is not None and chat.attributes["gen_ai.usage.input_tokens"] == 5
    assert KEY not in json.dumps([dict(sp.attributes or {}) for sp in spans], default=str)


def test_ponder_replay_of_a_proxied_run_says_to_use_the_proxy(
    tmp_path: Path, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    db = tmp_path / "t.db"
    store = TraceStore(db)
    s = serve_app(RecordingProxy(store, upstream=upstream(agent_turns).url).app)
    run_agent_loop(client(s))
    store.flush()
    [run] = store.list_runs()
    res = CliRunner().invoke(app, ["replay", run.id, "--db", str(db)])
    assert res.exit_code == 2 and "ponder proxy --replay DB" in res.stderr, res.output


def test_a_request_whose_recorded_call_failed_misses_saying_so(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply(status=500))
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    with pytest.raises(openai.InternalServerError):
        client(s).chat.completions.create(model="m", messages=Q)
    r = serve_app(RecordingProxy(store, upstream=None, replay=ReplayIndex(store)).app)
    with pytest.raises(openai.ConflictError) as e:
        client(r).chat.completions.create(model="m", messages=Q)
    message = e.value.body["message"]  # type: ignore[index]
    assert "it was recorded, but its call failed" in message and "the upstream answered 500" in message


def test_key_ignore_matches_requests_that_differ_only_in_a_random_id(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    import re
    import uuid

    def turn(c: openai.OpenAI) -> str:  # a framework that writes a fresh id into its prompt
        text = f"Calling tools: [{{'id': '{uuid.uuid4()}', 'name': 'multiply'}}]\nObservation: 391"
        return (
            c.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
            .choices[0]
            .message.content
            or ""
        )

    up = upstream(lambda body: Reply("The answer is 391."))
    s = serve_app(RecordingProxy(store, upstream=up.url).app)
    assert turn(client(s)) == "The answer is 391."
    strict = serve_app(RecordingProxy(store, upstream=None, replay=ReplayIndex(store)).app)
    with pytest.raises(openai.ConflictError) as e:
        turn(client(strict))
    assert "-[user] Calling tools: [{'id': '" in e.value.body["message"]  # type: ignore[index]
    uuid_re = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    lenient = serve_app(RecordingProxy(store, upstream=None, replay=ReplayIndex(store, ignore=[uuid_re])).app)
    assert turn(client(lenient)) == "The answer is 391."
    with pytest.raises(openai.ConflictError):  # what is not ignored still counts
        client(lenient).chat.completions.create(model="m", messages=[{"role": "user", "content": "Observation: 390"}])
