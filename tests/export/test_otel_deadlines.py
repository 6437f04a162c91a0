"""Every wait on a collector has a total deadline: `ponder export` and live export end within the
timeout + 5 s whatever the collector does, and say how many spans were accepted.

The collectors are misbehaving servers the tests start on loopback (`fault_servers.py`).
"""

from __future__ import annotations

import importlib.util
import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore
from tests.export.fault_servers import FaultCollector
from tests.export.otlp_receiver import OTLPReceiver

HAS_SDK = importlib.util.find_spec("opentelemetry") is not None and (
    importlib.util.find_spec("opentelemetry.sdk") is not None
)
pytestmark = pytest.mark.skipif(not HAS_SDK, reason="the otel extra is not installed (pip install -e '.[otel]')")
runner = CliRunner()
TIMEOUT = 1.0
GRACE = 5.0  # what the README promises beyond the timeout


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, str, int]]:
    """The stores of this module, built once each (a 10k-event one takes a moment)."""
    return {n: _build(tmp_path_factory.mktemp(f"run{n}"), n) for n in (10, 2_000, 10_000)}


def _build(folder: Path, events: int) -> tuple[Path, str, int]:
    """A store holding one run of `events` events (every other a model call): (path, run id, spans it makes)."""
    db = folder / "t.db"
    with TraceStore(db, flush_interval=1.0) as store:
        rec = Recorder.start(store, agent="react", task={"input": "a long run"}, run_id="r1")
        for i in range(events // 2):
            call = rec.event("llm_call", f"step {i}", f"Thought {i}")
            rec.llm_call(
                event_seq=call,
                request_key=f"k{i}",
                branch="",
                sample_index=0,
                request={"messages": [{"role": "user", "content": f"step {i}"}]},
                response={"choices": [{"text": f"Thought {i}"}]},
                prompt_tokens=5,
                completion_tokens=2,
                latency_ms=1.0,
                origin="live",
            )
            rec.event("observation", "observation", f"seen {i}", parent=call)
        rec.finish(status="ok", answer="done")
    return db, "r1", 1 + 2 * (events // 2)


def export(db: Path, url: str, *extra: str) -> tuple[object, float]:
    t0 = time.monotonic()
    res = runner.invoke(app, ["export", "r1", "--db", str(db), "--otlp", url, "--timeout", str(TIMEOUT), *extra])
    return res, time.monotonic() - t0


@pytest.mark.parametrize("mode", ["drip", "hang", "reset", "headers", "closed"])
@pytest.mark.parametrize("events", [10, 10_000])
def test_export_ends_within_its_deadline_whatever_the_collector_does(
    stores: dict[int, tuple[Path, str, int]], mode: str, events: int
) -> None:
    db, _, spans = stores[events]
    if mode == "closed":
        res, took = export(db, closed_port_url())
    else:
        with FaultCollector(mode) as fc:
            res, took = export(db, fc.url)
    assert took <= TIMEOUT + GRACE, f"{mode}: {took:.1f} s"
    assert res.exit_code == 2, res.output  # type: ignore[attr-defined]
    lines = res.output.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and f"0 of {spans} spans accepted" in lines[0], lines
    # the first request that fails ends the export: the rest is said as not sent, never tried
    if spans > 512:
        assert f"{spans - 512} not sent" in lines[0], lines


def test_a_huge_answer_is_read_only_up_to_a_cap(stores: dict[int, tuple[Path, str, int]]) -> None:
    from ponder.export.otlp_http import BODY_CAP

    db, _, spans = stores[10]
    with FaultCollector("huge") as fc:
        res, took = export(db, fc.url)
        written = fc.written
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert f"{spans} spans" in res.output and f"{spans} accepted" in res.output  # type: ignore[attr-defined]
    assert took <= TIMEOUT + GRACE
    assert written < 64 * 1024 * 1024  # not the 512 MB on offer: what socket buffers took beyond the cap
    assert BODY_CAP <= 64 * 1024


def test_a_partial_success_counts_the_rejected_spans(stores: dict[int, tuple[Path, str, int]]) -> None:
    db, _, spans = stores[10]
    with FaultCollector("partial", rejected=2) as fc:
        res, _ = export(db, fc.url)
    assert res.exit_code == 2  # type: ignore[attr-defined]
    assert f"{spans - 2} of {spans} spans accepted (2 refused)" in res.output  # type: ignore[attr-defined]
    assert "span too large" in res.output  # type: ignore[attr-defined]


def test_a_working_collector_gets_a_big_run_in_batches_and_the_line_says_so(
    stores: dict[int, tuple[Path, str, int]],
) -> None:
    db, _, spans = stores[2_000]
    with OTLPReceiver() as rx:
        res, _ = export(db, rx.url)
        assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
        assert len(rx.spans()) == spans and len(rx.received) == -(-spans // 512)
    assert f"as {spans} spans to" in res.output and f"{spans} accepted" in res.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", ["drip", "headers"])
def test_live_export_to_a_silent_collector_ends_in_time_and_says_nothing_was_accepted(
    stores: dict[int, tuple[Path, str, int]], mode: str
) -> None:
    from ponder.export.otel import OTLPTarget
    from ponder.export.otel_live import LiveExporter

    db, run_id, spans = stores[10]
    said: list[str] = []
    with FaultCollector(mode) as fc, TraceStore(db) as store:
        live = LiveExporter(OTLPTarget(endpoint=fc.url, timeout_s=TIMEOUT), report=said.append, schedule_delay_ms=10)
        assert live.run_finished(store, run_id)
        t0 = time.monotonic()
        report = live.close()
        took = time.monotonic() - t0
    assert took <= TIMEOUT + GRACE
    assert report.spans_accepted == 0 and report.spans_queued == spans
    assert len(said) == 1 and f"0 of {spans} spans accepted ({spans} got no answer)" in said[0], said
    assert "0 spans not sent" not in said[0]


def test_live_export_cut_at_its_deadline_says_the_spans_were_unanswered(
    stores: dict[int, tuple[Path, str, int]],
) -> None:
    from ponder.export.otel import OTLPTarget
    from ponder.export.otel_live import LiveExporter

    db, run_id, spans = stores[10]
    said: list[str] = []
    with FaultCollector("drip") as fc, TraceStore(db) as store:
        live = LiveExporter(OTLPTarget(endpoint=fc.url, timeout_s=30), report=said.append, schedule_delay_ms=10)
        live.run_finished(store, run_id)
        while not fc.requests:
            time.sleep(0.01)
        t0 = time.monotonic()
        report = live.close(deadline_s=0.5)
        assert time.monotonic() - t0 < 3  # the request in flight is cancelled, not waited for
    assert not report.flushed
    assert len(said) == 1 and f"0 of {spans} spans accepted ({spans} still unanswered at the deadline)" in said[0]
