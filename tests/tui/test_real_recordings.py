"""The TUI opens every shipped recording made on a real model (Qwen2.5-Coder-0.5B on the local backend)
and shows its longest model reply and its last event (the three largest in the default run; all of
them, and every event of each: `-m slow`): real text is untrusted input
(long lines, odd unicode, empty replies, LaTeX, markdown)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from textual.widgets import Static

from ponder.tui.app import PonderApp
from ponder.tui.screens.run import RunScreen
from ponder.tui.widgets.replay_bar import ReplayBar
from tests.tui import waiting

RECORDINGS = Path(__file__).parent.parent / "recordings"


def _real(db: Path) -> bool:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("select count(*) from runs where backend = 'local'").fetchone()[0] > 0


REAL = [db for db in sorted(RECORDINGS.glob("*.db")) if _real(db)]


def test_there_are_real_recordings() -> None:
    assert len(REAL) >= 13


async def _show(recording: Path, tmp_path: Path, *, every_event: bool) -> None:
    """Open the recording's run and move the replay cursor to the llm call with the longest reply and
    to the last event, or to every event; the detail tabs render each, bounded."""
    db = shutil.copyfile(recording, tmp_path / recording.name)
    with sqlite3.connect(db) as conn:
        (run_id, last), *_ = conn.execute("select id, last_seq from runs where parent_id is null").fetchall()
        longest = conn.execute(
            "select event_seq, json_extract(response_json, '$.choices[0].text') from llm_calls where run_id = ? "
            "order by length(response_json) desc, id limit 1",
            (run_id,),
        ).fetchone()
    assert longest is not None, f"{recording.name}: no llm call in its top-level run"
    words = longest[1].split()[:3]  # the reply's first words, shown as written
    seqs = range(1, last + 1) if every_event else sorted({longest[0], last})
    app = PonderApp(db)
    async with app.run_test(size=(140, 40)) as pilot:
        await waiting.settle(pilot)
        app.open_run(run_id)
        await waiting.settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.query_one(ReplayBar).total == last
        for seq in seqs:
            screen.jump_to(seq)
            await waiting.settle(pilot)
            assert screen.query_one(ReplayBar).position == seq
            for tab in ("prompt", "response"):
                shown = str(screen.query_one(f"#detail-{tab}", Static).render())
                assert "\x1b" not in shown and len(shown) < 20_000
            if seq == longest[0]:
                assert all(w in shown for w in words), (words, shown[:300])


# the default run opens the three largest (the most model text); every one, every event: `-m slow`
_LARGEST = set(sorted(REAL, key=lambda p: (-p.stat().st_size, p.name))[:3])
_SAMPLED = [pytest.param(p, id=p.stem, marks=() if p in _LARGEST else pytest.mark.slow) for p in REAL]


@pytest.mark.parametrize("recording", _SAMPLED)
async def test_a_real_recording_opens_and_shows_its_longest_reply(recording: Path, tmp_path: Path) -> None:
    await _show(recording, tmp_path, every_event=False)


@pytest.mark.slow
@pytest.mark.parametrize("recording", REAL, ids=[p.stem for p in REAL])
async def test_every_event_of_a_real_recording_is_shown(recording: Path, tmp_path: Path) -> None:
    await _show(recording, tmp_path, every_event=True)
