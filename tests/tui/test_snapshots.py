"""Snapshot tests (pytest-textual-snapshot): fixed size, no animation, UTC, recorded timestamps only.

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from ponder.tui.app import PonderApp

SIZE = (140, 40)


async def _settle(pilot: Pilot) -> None:
    for _ in range(4):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_runs_screen(snap_compare, fixture_db: tuple[Path, dict[str, str]]) -> None:  # type: ignore[no-untyped-def]
    path, _ = fixture_db
    assert snap_compare(PonderApp(path), terminal_size=SIZE, run_before=_settle)


def test_tot_run_screen(snap_compare, fixture_db: tuple[Path, dict[str, str]]) -> None:  # type: ignore[no-untyped-def]
    path, ids = fixture_db

    async def replay_into_the_chosen_branch(pilot: Pilot) -> None:
        await _settle(pilot)
        for _ in range(4):  # replay to event 4: inside the chosen node, its level loaded and expanded
            await pilot.press("right")
            await _settle(pilot)

    assert snap_compare(
        PonderApp(path, run_id=ids["tot"]), terminal_size=SIZE, run_before=replay_into_the_chosen_branch
    )
