"""Live OTLP export: each run is sent when it finishes (not after the sweep), in the background, bounded.

Against a real OTLP/HTTP collector that the tests start on loopback (`otlp_receiver.py`, decoding
the protobuf with opentelemetry-proto, which the `otel` extra brings).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests._toys import ToyEnv, question_number
from tests.export.otlp_receiver import OTLPReceiver
from tests.fake_openai import FakeOpenAI, text

HAS_SDK = importlib.util.find_spec("opentelemetry") is not None and (
    importlib.util.find_spec("opentelemetry.sdk") is not None
)
pytestmark = pytest.mark.skipif(not HAS_SDK, reason="the otel extra is not installed (pip install -e '.[otel]')")
RECORDINGS = Path(__file__).parent.parent / "recordings"
DEADLINE = 30.0  # seconds any wait in these tests may take before it fails
runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recording(tmp_path: Path, name: str) -> TraceStore:
    path = tmp_path / f"{name}.db"
    shutil.copyfile(RECORDINGS / f"{name}.db", path)
    return TraceStore(path)


def spans_of(store: TraceStore, run_id: str) -> list[Any]:
    """The spans a run makes (in memory)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ponder.export.otel_spans import RunSpans

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    RunSpans(store, provider.get_tracer("test"), True).run(store.get_run(run_id), None)
    return list(memory.get_finished_spans())


def run_ids(spans: list[Any]) -> list[str]:
    """The runs whose `invoke_agent` span arrived, in arrival order."""
    return [s.attributes["ponder.run.id"] for s in spans if s.attributes.get("gen_ai.operation.name") == "invoke_agent"]


@pytest.fixture(autouse=True)
def _toy() -> None:
    registry.register("envs", "toy", ToyEnv)


def test_bench_sends_each_run_when_it_finishes_not_after_the_sweep(tmp_path: Path) -> None:
    gate = threading.Event()

    def model(req: CompletionRequest) -> str:
        i = question_number(req)
        if i > 0 and not gate.wait(DEADLINE):  # every task after the first waits for the test
            raise RuntimeError("the test never opened the gate")
        return f"The answer is {2 * i}."

    registry.register("backends", "gated", lambda **kw: ScriptedBackend(model))
    db = tmp_path / "t.db"
    with OTLPReceiver() as rx:
        args = ["bench", "--env", "toy", "--env-set", "count=3", "--agent", "cot", "--backend", "gated"]
        args += ["--concurrency", "1", "--db", str(db), "--json", "--otlp", rx.url]
        outcome: list[Any] = []
        sweep = threading.Thread(target=lambda: outcome.append(runner.invoke(app, args)), daemon=True)
        sweep.start()
        try:
            arrived = rx.wait_for(lambda spans: len(run_ids(spans)) >= 1, DEADLINE)
            still_running = sweep.is_alive()
            first_spans = rx.spans()
        finally:
            gate.set()
        sweep.join(DEADLINE)
        assert arrived, "the first task's spans never reached the collector"
        assert still_running, "the sweep ended before the first task's spans arrived"
        assert not sweep.is_alive() and outcome, "the sweep did not end after the gate opened"
        res = outcome[0]
        assert res.exit_code == 0, res.output
        store = TraceStore(db)
        first = next(r for r in store.list_runs() if r.task.get("id") == "t0")
        assert run_ids(first_spans) == [first.id]  # only the finished task, while the others wait
        chats = [s for s in first_spans if s.attributes.get("gen_ai.operation.name") == "chat"]
        assert chats and chats[0].attributes["llm.output_messages.0.message.content"] == "The answer is 0."
        # at the end every run has been sent, each once, as a whole trace
        everything = rx.spans()
        assert sorted(run_ids(everything)) == sorted(r.id for r in store.list_runs())
        assert "ponder:" not in res.stderr  # nothing went wrong, so nothing is said


def test_a_refusing_endpoint_is_one_line_once_and_every_run_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.register("backends", "doubler", lambda **kw: ScriptedBackend(lambda r: f"It is {2 * question_number(r)}."))
    monkeypatch.setenv("PONDER_OTLP_TIMEOUT", "1")
    monkeypatch.setenv("PONDER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")  # the env var, not --otlp
    db = tmp_path / "t.db"
    args = ["bench", "--env", "toy", "--env-set", "count=4", "--agent", "cot", "--backend", "doubler"]
    res = runner.invoke(app, [*args, "--concurrency", "1", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["summary"]["n"] == 4
    problems = [line for line in res.stderr.splitlines() if line.strip() and not line.startswith("experiment ")]
    assert len(problems) == 1, problems  # one line for the whole sweep, not one per run
    assert problems[0].startswith("ponder: OTLP export to http://127.0.0.1:") and "ConnectError" in problems[0]
    assert ": 0 of " in problems[0] and " spans accepted" in problems[0]
    runs = TraceStore(db).list_runs()
    assert len(runs) == 4 and all(r.status == "ok" for r in runs)


def test_a_full_queue_skips_whole_runs_without_waiting_and_says_so(tmp_path: Path) -> None:
    from ponder.export.otel import OTLPTarget
    from ponder.export.otel_live import LiveExporter

    store = recording(tmp_path, "reflexion_household")
    (run,) = store.list_runs()
    size = len(spans_of(store, run.id))
    said: list[str] = []
    hold = threading.Event()
    with OTLPReceiver(hold=hold) as rx:
        # room for exactly one run: the first is taken by the exporter (and held by the
        # collector), the second waits in the queue, the third does not fit and is skipped
        live = LiveExporter(OTLPTarget(endpoint=rx.url, queue_spans=size), report=said.append, schedule_delay_ms=10)
        try:
            assert live.run_finished(store, run.id)
            assert rx.wait_for(lambda spans: len(spans) > 0, DEADLINE), "the first batch never arrived"
            assert live.run_finished(store, run.id)
            assert not live.run_finished(store, run.id)  # returned at once: nothing waited for the collector
            assert not said  # said once, at the end
        finally:
            hold.set()
        report = live.close(deadline_s=DEADLINE)
    assert report.runs_sent == 2 and report.runs_skipped == [run.id]
    assert report.spans_queued == report.spans_accepted == 2 * size and report.flushed
    assert len(said) == 1 and "1 run not sent (the live queue of" in said[0] and run.id in said[0]
    assert report.problem == said[0]
    assert len(run_ids(rx.spans())) == 2 * (1 + len(store.child_runs(run.id)))  # whole traces only


def test_close_has_a_deadline_and_says_what_was_not_sent(tmp_path: Path) -> None:
    from ponder.export.otel import OTLPTarget
    from ponder.export.otel_live import LiveExporter

    store = recording(tmp_path, "tot_game24")
    (run,) = store.list_runs()
    said: list[str] = []
    hold = threading.Event()  # the collector never answers until the test ends
    with OTLPReceiver(hold=hold, hold_timeout=DEADLINE) as rx:
        live = LiveExporter(OTLPTarget(endpoint=rx.url, timeout_s=DEADLINE), report=said.append, schedule_delay_ms=10)
        try:
            live.run_finished(store, run.id)
            assert rx.wait_for(lambda spans: len(spans) > 0, DEADLINE)
            live.run_finished(store, run.id)  # queued behind the held request
            report = live.close(deadline_s=0.5)
        finally:
            hold.set()
    assert not report.flushed and report.spans_accepted == 0
    assert len(said) == 1, said
    n = len(list(store.iter_events(run.id))) + 1  # a run's spans: one per event, plus the run
    want = f"0 of {2 * n} spans accepted ({n} still unanswered at the deadline, {n} not sent) when the 0.5 s deadline"
    assert want in said[0]
    assert live.close() is report  # closing twice is harmless


def test_no_api_key_or_authorization_is_ever_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-live-otel-0a1b2c3d4e5f6a7b8c9d"
    token = "otlp-token-9f8e7d6c5b4a"

    def model(body: dict[str, Any]) -> dict[str, Any]:  # a model that echoes what it should never see
        return text(f"My key is {key} (Authorization: Bearer {key}). The answer is 4.")

    with FakeOpenAI(model) as server, OTLPReceiver() as rx:
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("PONDER_OTLP_HEADERS", f"Authorization=Bearer {token}")
        db = tmp_path / "t.db"
        args = ["bench", "--env", "toy", "--env-set", "count=2", "--agent", "cot", "--backend", "openai"]
        args += ["--base-url", server.url, "--model", "fake-model", "--db", str(db), "--json", "--otlp", rx.url]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    assert len(run_ids(rx.spans())) == 2
    assert all(r.headers.get("authorization") == f"Bearer {token}" for r in rx.received)  # the collector's own auth
    for r in rx.received:
        assert key.encode() not in r.body and token.encode() not in r.body and b"Bearer" not in r.body
        assert key not in json.dumps(r.headers)
    texts = json.dumps([{**s.attributes, **s.resource} for s in rx.spans()], default=str)
    assert "The answer is 4." in texts and key not in texts and token not in texts
    assert key not in res.output and token not in res.output
