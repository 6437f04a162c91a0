"""Snapshot tests (pytest-textual-snapshot): fixed sizes, no animation, UTC, recorded timestamps only.

Each screen is taken at 80×24 (the size people use) and 160×48. Update after an intended
change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from ponder.tui.app import PonderApp

SIZES = [(80, 24), (160, 48)]


async def _settle(pilot: Pilot) -> None:
    for _ in range(4):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_screen(snap_compare, fixture_db: tuple[Path, dict[str, str]], size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    path, _ = fixture_db
    assert snap_compare(PonderApp(path), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_tot_run_screen(snap_compare, fixture_db: tuple[Path, dict[str, str]], size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    path, ids = fixture_db

    async def replay_into_the_chosen_branch(pilot: Pilot) -> None:
        await _settle(pilot)
        for _ in range(4):  # replay to event 4: inside the chosen node, its level loaded and expanded
            await pilot.press("right")
            await _settle(pilot)

    assert snap_compare(
        PonderApp(path, run_id=ids["tot"]), terminal_size=size, run_before=replay_into_the_chosen_branch
    )


def test_tot_run_screen_narrow_with_detail(snap_compare, fixture_db: tuple[Path, dict[str, str]]) -> None:  # type: ignore[no-untyped-def]
    """At 80 columns the tree takes the width; `d` shows the detail tabs below it."""
    path, ids = fixture_db

    async def show_detail(pilot: Pilot) -> None:
        await _settle(pilot)
        await pilot.press("right", "right")
        await _settle(pilot)
        await pilot.press("d")
        await _settle(pilot)

    assert snap_compare(PonderApp(path, run_id=ids["tot"]), terminal_size=(80, 24), run_before=show_detail)
