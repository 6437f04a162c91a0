"""Snapshot tests (pytest-textual-snapshot): fixed sizes, no animation, UTC, recorded timestamps only.

Each screen is taken at 80×24 (the size people use) and 160×48. Update after an intended
change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from ponder.tui.app import PonderApp
from tests.tui.waiting import settle

SIZES = [(80, 24), (160, 48)]


async def _settle(pilot: Pilot) -> None:
    await settle(pilot)


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


def test_experiments_screen(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Accuracy against tokens per task, one point per experiment, at 80×24."""
    from ponder.traces.recorder import Recorder
    from ponder.traces.store import TraceStore
    from tests.tui.fixtures import frozen_clock

    path = tmp_path / "exp.db"
    with frozen_clock(), TraceStore(path) as store:
        for name, agent, answers, tokens in (
            ("cot on gsm8k", "cot", [True, False, False], 60),
            ("sc k=5 on gsm8k", "self_consistency", [True, True, False], 300),
            ("tot on game24", "tot", [True, True, True], 900),
        ):
            exp = store.create_experiment(name, {"agent": agent}, exp_id=f"e{len(name):03d}{agent[:4]}0000"[:12])
            for i, ok in enumerate(answers):
                rec = Recorder.start(
                    store,
                    agent=agent,
                    task={"id": f"t{i}", "input": "q"},
                    experiment_id=exp,
                    run_id=f"{exp[:8]}r{i:03d}",
                )
                rec.add_usage(tokens, 0, 1, None)
                rec.finish(status="ok", answer="a", correct=ok)

    async def open_experiments(pilot: Pilot) -> None:
        await _settle(pilot)
        await pilot.press("e")
        await _settle(pilot)

    assert snap_compare(PonderApp(path), terminal_size=(80, 24), run_before=open_experiments)


def test_reflexion_run_screen(snap_compare, fixture_db: tuple[Path, dict[str, str]]) -> None:  # type: ignore[no-untyped-def]
    """A Reflexion run at 160×48: the wrong first trial marked failed (`−`), not invalid (`!`);
    the header names the inner agent."""
    path, ids = fixture_db
    assert snap_compare(PonderApp(path, run_id=ids["reflexion"]), terminal_size=(160, 48), run_before=_settle)
