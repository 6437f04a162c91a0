"""Fork from the run screen (f: edit a step, the fork runs in a worker, opens beside the original) and the
compare view (m marks a run, c compares it with the selected one). Pilot tests and snapshots at 80×24, 160×48."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, TextArea

from ponder.agents.cot import CoT
from ponder.backends.scripted import ScriptedBackend
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.tui.app import PonderApp
from ponder.tui.screens.compare import CompareScreen
from ponder.tui.screens.fork import ForkEditScreen
from ponder.tui.screens.run import RunScreen
from tests.tui.fixtures import frozen_clock
from tests.tui.waiting import settle

SIZES = [(80, 24), (160, 48)]


@contextmanager
def fixed_ids() -> Iterator[None]:
    counter = itertools.count(1)
    with mock.patch("ponder.traces._runs.new_id", lambda: f"run{next(counter):02d}".ljust(12, "0")):
        yield


def _backend(name: str, model: str | None, base_url: str | None) -> ScriptedBackend:
    return ScriptedBackend(["The answer is 5."])


def make_runs(path: Path) -> tuple[str, str]:
    """Two CoT runs of one question: 17 * 23 answered 391, then 381."""
    with TraceStore(path) as store:
        a = asyncio.run(
            run_agent(
                CoT(), "What is 17 * 23?", backend=ScriptedBackend(["17 * 23 = 391. The answer is 391."]), store=store
            )
        )
        b = asyncio.run(
            run_agent(
                CoT(), "What is 17 * 23?", backend=ScriptedBackend(["17 * 23 = 381. The answer is 381."]), store=store
            )
        )
    return a.run_id, b.run_id


async def _settle(pilot: Pilot) -> None:
    await settle(pilot)


async def _wait(pilot: Pilot, cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("timed out waiting for the UI")
        await pilot.pause(0.02)


async def _fork_first_call(pilot: Pilot) -> None:
    app = pilot.app
    await _settle(pilot)
    screen = app.screen
    assert isinstance(screen, RunScreen)
    screen.jump_to(1)  # the llm call
    await _settle(pilot)
    await pilot.press("f")
    await _wait(pilot, lambda: isinstance(app.screen, ForkEditScreen))
    area = app.screen.query_one(TextArea)
    assert "The answer is 391." in area.text
    area.text = "17 * 23 = 392. The answer is 392."
    await pilot.press("ctrl+s")
    await _wait(pilot, lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.rows))
    await _settle(pilot)
    app.clear_notifications()  # toasts come and go with the clock: not part of the picture
    await _settle(pilot)


async def test_fork_from_the_run_screen_opens_beside_the_original_diffed(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    a, _ = await asyncio.to_thread(make_runs, path)
    app = PonderApp(path, run_id=a, backend_factory=_backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await _fork_first_call(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        d = screen.diff
        assert d.a.run_id == a and d.b.answer == "392" and d.a.answer == "391"
        assert d.b.forked_from["run_id"] == a and d.b.forked_from["seq"] == 1
        assert d.b.calls == 1  # the edited call counts; nothing else was live
        assert d.first is not None
        assert all(not r.same for r in screen.rows)  # a one-call CoT: every event follows the edited call
        header = screen.query_one("#compare-header").render().plain  # type: ignore[attr-defined]
        assert "→ 392" in header and "first divergence" in header
    with TraceStore(path) as s:
        assert s.get_run(a).answer == "391"  # the origin is never written


async def test_fork_refuses_an_event_that_is_not_a_call(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    a, _ = await asyncio.to_thread(make_runs, path)
    app = PonderApp(path, run_id=a, backend_factory=_backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        app.screen.jump_to(2)  # the reasoning thought
        await _settle(pilot)
        await pilot.press("f")
        await _settle(pilot)
        assert isinstance(app.screen, RunScreen)
        assert any("not a model call" in str(n.message) for n in app._notifications)


async def _mark_and_compare(pilot: Pilot) -> None:
    await _settle(pilot)
    table = pilot.app.screen.query_one(DataTable)
    table.move_cursor(row=1)
    await pilot.press("m")
    table.move_cursor(row=0)
    await pilot.press("c")
    await _wait(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and bool(pilot.app.screen.rows))
    await _settle(pilot)
    pilot.app.clear_notifications()
    await _settle(pilot)


async def test_mark_a_run_and_compare_it_with_another(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    a, b = await asyncio.to_thread(make_runs, path)
    app = PonderApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _mark_and_compare(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert (screen.diff.a.run_id, screen.diff.b.run_id) == (a, b)
        differing = [r for r in screen.rows if not r.same]
        assert differing and "391" in (differing[0].a or "") and "381" in (differing[0].b or "")
        await pilot.press("n")
        assert screen.query_one(DataTable).cursor_row > 0


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fork_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f.db"
    with frozen_clock(), fixed_ids():
        a, _ = make_runs(path)
        assert snap_compare(
            PonderApp(path, run_id=a, backend_factory=_backend), terminal_size=size, run_before=_fork_first_call
        )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.db"
    with frozen_clock(), fixed_ids():
        make_runs(path)
        assert snap_compare(PonderApp(path), terminal_size=size, run_before=_mark_and_compare)
