"""The replay clock's store reads: the narrow start-time and branch queries give what whole rows gave."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore
from ponder.tui import _timeline
from ponder.tui._timeline import Timeline, load_timeline, next_branch


@pytest.fixture
def branched(tmp_path: Path) -> tuple[TraceStore, str]:
    """A run of 11 events: a trunk, then three branches interleaved, then long runs of one branch."""
    store = TraceStore(tmp_path / "t.db")
    rec = Recorder.start(store, agent="sc", task={"input": "q"})
    for branch in ["", "", "p1", "p2", "p1", "p3", "p3", "p3", "p3", "p3", "p1"]:
        rec.event("thought", "t", branch=branch)
    rec.finish(status="ok", answer="a")
    return store, rec.run_id


def test_the_timeline_over_pages_is_the_one_from_every_events_start(
    branched: tuple[TraceStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, run_id = branched
    whole = Timeline.from_starts([e.started_at for e in store.events(run_id)])
    assert len(whole.at) == 11
    for page in (3, 11, 5_000):  # a page boundary inside, at the end, and past the run
        monkeypatch.setattr(_timeline, "_PAGE", page)
        assert load_timeline(store, run_id) == whole


def test_a_branch_jump_finds_the_first_event_of_another_branch(branched: tuple[TraceStore, str]) -> None:
    store, run_id = branched
    # before any event: the first; the trunk to p1, p1 to p2, p3 past its own run to p1; none after the last
    assert [next_branch(store, run_id, s) for s in (0, 1, 3, 4, 6, 11)] == [1, 3, 4, 5, 11, None]
    assert next_branch(store, run_id, 6, pages=0) is None  # the bound on pages still holds
