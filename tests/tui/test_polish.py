"""Issue 23 item 12: names in full, inner agents, forks marked, kind tags not cut, replay dims what has
not happened, error toasts stay, select-all in the fork editor, the help, a failed trial's own mark,
and the experiments chart's margins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import textual.app
from pydantic import BaseModel
from rich.text import Text
from textual.widgets import DataTable, Markdown, TextArea

from ponder.traces import kinds
from ponder.traces.events import EventRecord
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore
from ponder.tui.app import ERROR_TOAST_S, PonderApp
from ponder.tui.screens.experiments import ExperimentsScreen, chart_limits, name_and_agent_widths
from ponder.tui.screens.fork import ForkEditScreen
from ponder.tui.screens.help import HELP, HelpScreen
from ponder.tui.screens.run import RunScreen
from ponder.tui.screens.runs import RunsScreen
from ponder.tui.widgets.event_labels import FAILED_MARK, event_label
from ponder.tui.widgets.event_tree import EventTree
from ponder.tui.widgets.run_rows import FORK_MARK, fit_columns, run_text
from tests.tui.test_app import SIZE, settle, table_column, tree_lines


class OutlineData(BaseModel):
    text: str = ""


# -- the runs list ----------------------------------------------------------------------------


@pytest.mark.parametrize("width", [120, 160, 200])
async def test_agent_names_are_whole_on_a_wide_screen(fixture_db: tuple[Path, dict[str, str]], width: int) -> None:
    path, _ = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=(width, 40)) as pilot:
        await settle(pilot, app)
        agents = table_column(app, "agent")
        assert "self_consistency(cot)" in agents and "reflexion(cot)" in agents, agents
        assert not any(a.endswith("…") for a in agents)


def test_columns_fit_and_grow_to_content() -> None:
    natural = {"agent": 23, "model": 20, "answer": 30}
    for width in (60, 80, 100, 120, 140, 160, 240):
        cols = fit_columns(width, natural)
        assert sum(c.width + 2 for c in cols) + 2 <= max(width, 60), width
        keys = [c.key for c in cols]
        assert {"task", "status", "answer", "correct", "id"} <= set(keys)
        if width >= 120:
            assert dict((c.key, c.width) for c in cols)["agent"] == 23
    wide = {c.key: c.width for c in fit_columns(240, natural)}
    assert wide["model"] == 20 and wide["task"] == 80  # room left: each growing column to its content


async def test_a_fork_is_marked_in_the_list(tmp_path: Path) -> None:
    path = tmp_path / "forks.db"
    with TraceStore(path) as store:
        origin = Recorder.start(store, agent="cot", task={"input": "What is 2 + 2?"}, run_id="0a0000000001")
        origin.finish(status="ok", answer="4", correct=True)
        fork = Recorder.start(
            store,
            agent="cot",
            task={"input": "What is 2 + 2?"},
            run_id="0f0000000002",
            forked_from={"run_id": "0a0000000001", "seq": 1, "event_run_id": "0a0000000001", "edit": "5"},
        )
        fork.finish(status="ok", answer="5", correct=False)
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        ids = dict(zip(app.screen.query_one(DataTable).rows, table_column(app, "id"), strict=True))
        assert ids["0f0000000002"].startswith(FORK_MARK) and not ids["0a0000000001"].startswith(FORK_MARK)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        assert "a fork of run 0a0000000001 at event #1" in run_text(screen._records["0f0000000002"])
    assert f"`{FORK_MARK}` before an id marks a fork" in HELP


# -- the run screen ---------------------------------------------------------------------------


def _event(kind: str, status: str = "ok", data: dict[str, Any] | None = None) -> EventRecord:
    return EventRecord(run_id="r", seq=3, kind=kind, label=kind, summary="s", status=status, data=data, started_at=0.0)


def test_kind_tags_are_not_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    # a plugin's kind with a long name, declared for this test only
    monkeypatch.setitem(
        kinds._KINDS, "plan_answer_outline", kinds.KindSpec("plan_answer_outline", OutlineData, "plan_answer_outline")
    )
    outline = event_label(_event("plan_answer_outline")).plain
    undeclared = event_label(_event("a_kind_nobody_declared")).plain
    assert outline[5:].startswith("plan_answer_outline ") and undeclared[5:].startswith("a_kind_nobody_declared ")
    assert event_label(_event("llm_call")).plain[5:].startswith("llm     ")  # the short ones still line up


def test_a_failed_trial_is_not_shown_as_an_error() -> None:
    failed = event_label(_event("trial", "error", {"success": False, "answer": "124"})).plain
    broken = event_label(_event("trial", "error")).plain
    assert f" {FAILED_MARK} " in failed and " ! " not in failed
    assert " ! " in broken
    assert f"`{FAILED_MARK}` failed (a Reflexion trial judged wrong" in HELP


async def test_reflexion_trials_in_the_tree(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path, run_id=ids["reflexion"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        lines = tree_lines(app)
        trial1 = next(line for line in lines if "trial 1" in line)
        assert f" {FAILED_MARK} " in trial1 and " ! " not in trial1


def _dimmed(label: Any) -> bool:
    """The whole line is dim (its seq number always is)."""
    return isinstance(label, Text) and any(
        span.start == 0 and span.end >= len(label.plain) and "dim" in str(span.style) for span in label.spans
    )


async def test_replay_dims_what_has_not_happened_yet(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path, run_id=ids["tot"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        tree = app.screen.query_one(EventTree)
        seven = tree.node_for(ids["tot"], 7)
        assert seven is not None and not _dimmed(seven.label)  # not replaying: everything as recorded
        for _ in range(4):
            await pilot.press("right")
            await settle(pilot, app)
        assert tree.until == 4
        for seq in (1, 2, 4):
            node = tree.node_for(ids["tot"], seq)
            assert node is not None and not _dimmed(node.label), seq
        for seq in (7, 12, 15):
            node = tree.node_for(ids["tot"], seq)
            assert node is not None and _dimmed(node.label), seq
        await pilot.press("end")
        await settle(pilot, app)
        last = tree.node_for(ids["tot"], 15)
        assert last is not None and not _dimmed(last.label)


async def test_enter_expands_and_help_says_so(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path, run_id=ids["tot"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        tree = app.screen.query_one(EventTree)
        node = tree.node_for(ids["tot"], 8)
        assert node is not None and not node.is_expanded
        tree.move_cursor(node)
        await pilot.press("enter")
        await settle(pilot, app)
        assert node.is_expanded
        await pilot.press("f1")
        await settle(pilot, app)
        assert isinstance(app.screen, HelpScreen)
        assert "`enter` (or a click) expands or collapses an event" in app.screen.query_one(Markdown).source


async def test_a_failed_fork_stays_until_closed(
    fixture_db: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = fixture_db
    shown: list[float | None] = []
    notify = textual.app.App.notify

    def spy(self: Any, message: str, **kw: Any) -> None:
        shown.append(kw.get("timeout"))
        notify(self, message, **kw)

    monkeypatch.setattr(textual.app.App, "notify", spy)
    app = PonderApp(path, run_id=ids["tot"])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        screen.post_message(RunScreen.ForkDone(ids["tot"], None, "ReplayMiss: the model is gone"))
        await settle(pilot, app)
        assert shown == [ERROR_TOAST_S]
        assert len(screen.query("Toast")) == 1
        await pilot.press("ctrl+x")
        await settle(pilot, app)
        assert len(screen.query("Toast")) == 0
        app.notify("a passing note")  # not an error: it goes by itself, as before
        assert shown[-1] is None


async def test_the_fork_editor_selects_all(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, _ = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.push_screen(ForkEditScreen("r" * 12, 3, "response", "The answer is 321.\nSure."))
        await settle(pilot, app)
        await pilot.press("ctrl+a")
        assert app.screen.query_one(TextArea).selected_text == "The answer is 321.\nSure."
        await pilot.press("x")
        assert app.screen.query_one(TextArea).text == "x"


# -- the experiments chart --------------------------------------------------------------------


@pytest.mark.parametrize(
    "points",
    [[(60.0, 0.33), (300.0, 0.67), (900.0, 1.0)], [(120.0, 0.0)], [(0.0, 0.5), (10.0, 1.0)], [(5.0, 1.0), (5.0, 0.0)]],
)
def test_no_point_on_the_chart_frame(points: list[tuple[float, float]]) -> None:
    xmin, xmax, ymin, ymax = chart_limits(points)
    for x, y in points:
        assert xmin < x < xmax and ymin < y < ymax


async def test_the_experiments_view_names_agents_in_full(tmp_path: Path) -> None:
    path = tmp_path / "exp.db"
    with TraceStore(path) as store:
        for agent, inner in (("self_consistency", "react"), ("cot", None)):
            config = {"agent": agent, "agent_config": {"inner": inner} if inner else {}}
            exp = store.create_experiment(f"{agent} sweep", config)
            rec = Recorder.start(store, agent=agent, task={"id": "t0", "input": "q"}, experiment_id=exp)
            rec.add_usage(50, 0, 1, None)
            rec.finish(status="ok", answer="a", correct=True)
    app = PonderApp(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ExperimentsScreen)
        assert table_column(app, "agent") == ["cot", "self_consistency(react)"]
        assert screen.limits is not None and screen.limits[0] < 50.0 < screen.limits[1]
    name_w, agent_w = name_and_agent_widths(80, screen.points)  # a narrow window cuts the names, fits the table
    assert agent_w < len("self_consistency(react)") and name_w + agent_w <= 80 - 2 - 36 - 14
