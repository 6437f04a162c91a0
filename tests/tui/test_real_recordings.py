"""The TUI opens every shipped recording made on a real model (Qwen2.5-Coder-0.5B on the local backend)
and shows each of its events: real text is untrusted input (long lines, odd unicode, empty replies,
LaTeX, markdown)."""

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


@pytest.mark.parametrize("recording", REAL, ids=[p.stem for p in REAL])
async def test_every_event_of_a_real_recording_is_shown(recording: Path, tmp_path: Path) -> None:
    db = shutil.copyfile(recording, tmp_path / recording.name)
    with sqlite3.connect(db) as conn:
        (run_id, last), *_ = conn.execute("select id, last_seq from runs where parent_id is null").fetchall()
        responses = [
            r[0] for r in conn.execute("select response_json from llm_calls where run_id = ? order by id", (run_id,))
        ]
    app = PonderApp(db)
    async with app.run_test(size=(140, 40)) as pilot:
        await waiting.settle(pilot)
        app.open_run(run_id)
        await waiting.settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.query_one(ReplayBar).total == last
        for seq in range(1, last + 1):
            screen.jump_to(seq)
            await waiting.settle(pilot)
            assert screen.query_one(ReplayBar).position == seq
            for tab in ("prompt", "response"):
                shown = str(screen.query_one(f"#detail-{tab}", Static).render())
                assert "\x1b" not in shown and len(shown) < 20_000
    assert responses, f"{recording.name}: no llm call recorded in its top-level run"
