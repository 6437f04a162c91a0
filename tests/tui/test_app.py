"""The TUI driven through `App.run_test()` and Pilot: runs list, run screen, replay, live, bad input."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static, TextArea

from ponder.backends.scripted import ScriptedBackend
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore
from ponder.tui.app import CreateDbScreen, PonderApp
from ponder.tui.screens.help import HelpScreen
from ponder.tui.screens.live import LiveScreen
from ponder.tui.screens.run import RunScreen
from ponder.tui.screens.runs import RunsScreen
from ponder.tui.screens.text import FullTextScreen
from ponder.tui.widgets.event_tree import EventTree
from ponder.tui.widgets.event_tree_reads import PAGE
from ponder.tui.widgets.replay_bar import ReplayBar
from ponder.tui.widgets.run_rows import RunQuery, parse_filter
from ponder.tui.widgets.safe import clean, one_line, safe
from tests.tui import waiting

SIZE = (140, 40)


async def settle(pilot: Pilot, app: PonderApp) -> None:
    """Let messages, workers and the messages they post run to the end."""
    await waiting.settle(pilot)


async def wait_until(pilot: Pilot, app: PonderApp, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (event-driven, bounded) for something a thread worker or a timer makes true."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("timed out waiting for the UI")
        await pilot.pause(0.02)  # not wait_for_complete: a live run's worker is meant to outlast this


def tree_lines(app: PonderApp) -> list[str]:
    tree = app.screen.query_one(EventTree)
    out = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        label = node.label
        out.append(label.plain if isinstance(label, Text) else str(label))
        for child in node.children:
            walk(child)

    walk(tree.root)
    return out


def detail_text(app: PonderApp, tab: str) -> str:
    return str(app.screen.query_one(f"#detail-{tab}", Static).render())


def table_column(app: PonderApp, key: str) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(c.plain if isinstance(c, Text) else c) for c in table.get_column(key)]


# -- the one text helper ---------------------------------------------------------------


def test_clean_makes_escape_codes_visible_and_keeps_markup_literal() -> None:
    s = "[bold]x[/bold] \x1b[31mred\x1b[0m \x07"
    out = clean(s)
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[31m" in out
    t = safe(s)
    assert isinstance(t, Text) and t.plain.startswith("[bold]x[/bold]")
    assert one_line("a\nb   c" * 50, 10).endswith("…") and len(one_line("a\nb" * 50, 10)) == 10


def test_parse_filter_tokens() -> None:
    q = parse_filter("agent:tot status:ok exp:e1 game 24", RunQuery(sort="calls"))
    assert (q.agent, q.status, q.experiment_id, q.text, q.sort) == ("tot", "ok", "e1", "game 24", "calls")


# -- runs list ---------------------------------------------------------------------------


async def test_runs_list_shows_top_level_runs_with_literal_text(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert isinstance(app.screen, RunsScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 8  # the two Reflexion trials are child runs, not rows
        assert ids["reflexion"][:10] + "t0" not in table.rows
        tasks = table_column(app, "task")
        assert any(t.startswith("Say [bold]hi[/bold] \\x1b[31m") for t in tasks), tasks
        assert table_column(app, "started_at")[-1] == "01-01 00:00"  # the year is in the full row (v)


async def test_the_filter_box_is_literal_and_a_long_filter_is_cut_and_said(
    fixture_db: tuple[Path, dict[str, str]],
) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        box = app.screen.query_one(Input)
        table = app.screen.query_one(DataTable)
        for text, expected in [("%", []), ("_", []), ("input", []), ("[bold]hi[/bold]", [ids["hostile"]])]:
            box.value = text
            await settle(pilot, app)
            assert list(table.rows) == expected, text
        box.value = "x" * 50_000  # a paste: SQLite would refuse the LIKE pattern
        await settle(pilot, app)
        assert table.row_count == 0
        notes = [n.message for n in app._notifications]
        assert any("only its first 500 are searched" in n for n in notes), notes
        box.value = "17 * 23"
        await settle(pilot, app)
        assert table.row_count == 1


async def test_filter_and_sort(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        await pilot.press(*"agent:react")
        await settle(pilot, app)
        assert list(app.screen.query_one(DataTable).rows) == [ids["react"]]
        app.screen.query_one(Input).value = "Apple Remote"
        await settle(pilot, app)
        assert list(app.screen.query_one(DataTable).rows) == [ids["react"]]
        await pilot.press("escape")  # clears the filter
        await settle(pilot, app)
        assert app.screen.query_one(DataTable).row_count == 8
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        screen._set_sort("tokens")  # as a click on the "tokens" header does
        await settle(pilot, app)
        tokens = [int(x.replace(",", "")) for x in table_column(app, "tokens")]
        assert tokens == sorted(tokens, reverse=True) and tokens[0] > 0
        screen._set_sort("tokens")
        await settle(pilot, app)
        tokens = [int(x.replace(",", "")) for x in table_column(app, "tokens")]
        assert tokens == sorted(tokens)


async def test_runs_list_follows_another_writer(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, _ = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(DataTable)
        with TraceStore(path) as other:
            rec = Recorder.start(other, agent="cot", task={"input": "new from another process"}, run_id="feed00000001")
            await wait_until(pilot, app, lambda: "feed00000001" in table.rows)
            assert str(table.get_cell("feed00000001", "status")) == "running"
            assert table.row_count == 9
            rec.finish(status="ok", answer="42")
            await wait_until(pilot, app, lambda: str(table.get_cell("feed00000001", "status")) == "ok")
            assert str(table.get_cell("feed00000001", "answer")) == "42"
            assert table.row_count == 9


async def test_runs_list_pages_from_sql(tmp_path: Path) -> None:
    path = tmp_path / "many.db"
    with TraceStore(path) as store:
        for i in range(450):
            store.create_run(agent="cot", task={"input": f"q{i}"}, run_id=f"r{i:05d}")
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 200
        table.move_cursor(row=199)
        await settle(pilot, app)
        assert table.row_count == 400
        table.move_cursor(row=399)
        await settle(pilot, app)
        assert table.row_count == 450
        assert len(set(table.rows)) == 450


# -- run screen ---------------------------------------------------------------------------


async def open_run(pilot: Pilot, app: PonderApp, run_id: str) -> RunScreen:
    app.open_run(run_id)
    await settle(pilot, app)
    assert isinstance(app.screen, RunScreen)
    return app.screen


async def test_enter_opens_the_tot_run_and_replay_steps(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(ids["tot"]))
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RunScreen)
        lines = tree_lines(app)
        assert any("★ 20 13 - 9 = 4" in line for line in lines), lines
        assert any("✗ 0.001 4 + 9 = 13" in line for line in lines)
        tree = app.screen.query_one(EventTree)
        pruned = tree.node_for(ids["tot"], 13)
        assert pruned is not None and isinstance(pruned.label, Text)
        assert any("dim" in str(span.style) for span in pruned.label.spans)
        # replay: → twice reaches event 2, the chosen node; its detail follows
        await pilot.press("right")
        await settle(pilot, app)
        assert app.screen.query_one(ReplayBar).position == 1
        assert "Possible next steps" in detail_text(app, "prompt")
        assert "13 - 9 = 4" in detail_text(app, "response")
        await pilot.press("right")
        await settle(pilot, app)
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.seq == 2
        assert "y: 13 - 9 = 4" in detail_text(app, "response")
        # a nested event: the level below a node is loaded and expanded on the way
        await pilot.press("right", "right")
        await settle(pilot, app)
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.seq == 4
        assert tree.cursor_node.parent is not None and tree.cursor_node.parent.is_expanded
        await pilot.press("end")
        await settle(pilot, app)
        assert app.screen.query_one(ReplayBar).position == 15
        assert "(13 - 9) * (10 - 4) = 24" in detail_text(app, "response")
        await pilot.press("left")
        await settle(pilot, app)
        assert app.screen.query_one(ReplayBar).position == 14
        await pilot.press("home")
        await settle(pilot, app)
        assert app.screen.query_one(ReplayBar).position == 1
        await pilot.press("plus", "plus")
        assert app.screen.query_one(ReplayBar).speed == 4.0
        await pilot.press("minus")
        assert app.screen.query_one(ReplayBar).speed == 2.0
        await pilot.press("plus", "plus", "plus", "plus", "plus")
        assert app.screen.query_one(ReplayBar).speed == 32.0  # the fastest: the play-through below is short
        assert app.screen.query_one(ReplayBar).position == 1
        await pilot.press("space")  # plays from 1 to the end, then pauses itself
        await wait_until(pilot, app, lambda: not app.screen.query_one(ReplayBar).playing)
        assert app.screen.query_one(ReplayBar).position == 15
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, RunsScreen)


async def test_react_actions_are_shown_literally(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await open_run(pilot, app, ids["react"])
        text = "\n".join(tree_lines(app))
        for action in ("Finish[yes]", "Search[Apple Remote]", "Lookup[/etc/passwd]"):
            assert action in text
        # steps are siblings under the root, not a nested chain
        tree = app.screen.query_one(EventTree)
        assert all(n.parent is tree.root for n in (tree.node_for(ids["react"], s) for s in (1, 2, 3, 4, 5)) if n)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        screen.jump_to(3)  # the Search action: its tool call shows in the tabs
        await settle(pilot, app)
        assert "Search[Apple Remote]" in detail_text(app, "prompt")
        assert "wikipedia → The Apple Remote" in detail_text(app, "response")


async def test_sc_vote_and_reflexion_trials(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await open_run(pilot, app, ids["sc"])
        text = "\n".join(tree_lines(app))
        assert "[391:3, 381:1, 401:1 of 5]" in text
        tree = app.screen.query_one(EventTree)
        call = tree.node_for(ids["sc"], 1)
        assert call is not None
        call.expand()
        await settle(pilot, app)
        assert any("path 0 → 391" in line for line in tree_lines(app))
        await pilot.press("escape")
        await settle(pilot, app)
        await open_run(pilot, app, ids["reflexion"])
        tree = app.screen.query_one(EventTree)
        trials = [n for n in tree.root.children if n.data is not None and n.data.kind == "run"]
        assert len(trials) == 2
        trials[0].expand()
        await settle(pilot, app)
        assert any("The answer is 124" in line for line in tree_lines(app))
        tree.move_cursor(trials[1])
        await settle(pilot, app)
        assert "144" in detail_text(app, "response")


async def test_hostile_text_and_huge_payload(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = await open_run(pilot, app, ids["hostile"])
        screen.jump_to(1)
        await settle(pilot, app)
        response = detail_text(app, "response")
        assert "[bold]not bold[/bold] [red]not red[/]" in response
        assert "\\x1b[31mred?\\x1b[0m" in response and "\x1b" not in response and "\x07" not in response
        assert "Lookup[/etc/passwd]" in response
        screen.jump_to(2)
        await settle(pilot, app)
        shown = detail_text(app, "response")
        assert "more characters — press v for the full text" in shown
        assert len(shown) < 10_000
        await pilot.press("v")
        await settle(pilot, app)
        assert isinstance(app.screen, FullTextScreen)
        assert len(app.screen.query_one(TextArea).text) > 190_000
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, RunScreen)
        screen.jump_to(3)
        await settle(pilot, app)
        assert "Lookup[/etc/passwd] failed: [red]denied[/red]" in detail_text(app, "response")


async def test_big_level_is_paged_and_replay_jumps_far(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    with TraceStore(path) as store:
        rec = Recorder.start(store, agent="react", task={"input": "long"}, run_id="b1600000000f")
        for i in range(1, 1001):
            rec.event("thought" if i % 2 else "observation", f"step {i}", f"text {i}")
        rec.finish(status="ok", answer="done")
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = await open_run(pilot, app, "b1600000000f")
        tree = app.screen.query_one(EventTree)
        kinds = [n.data.kind for n in tree.root.children if n.data]
        assert kinds.count("event") == PAGE and kinds[-1] == "more"
        tree.select_node(tree.root.children[-1])
        await settle(pilot, app)
        loaded = [n.data.seq for n in tree.root.children if n.data and n.data.kind == "event"]
        assert len(loaded) >= 2 * PAGE and loaded == list(range(1, len(loaded) + 1))  # a page or more, in order
        screen.jump_to(1000)
        await settle(pilot, app)
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.seq == 1000
        assert tree.root.children[0].data is not None and tree.root.children[0].data.kind == "earlier"
        assert len(tree.root.children) <= 2 * PAGE + 2  # a window, and the earlier page in view
        tree.select_node(tree.root.children[0])
        await settle(pilot, app)
        seqs = [n.data.seq for n in tree.root.children if n.data and n.data.kind == "event"]
        assert seqs == list(range(seqs[0], 1001)) and seqs[0] <= 1000 - PAGE


async def test_selecting_more_loads_one_page_not_the_whole_level(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    with TraceStore(path) as store:
        rec = Recorder.start(store, agent="react", task={"input": "long"}, run_id="b1700000000f")
        for i in range(1, 1001):
            rec.event("thought", f"step {i}", f"text {i}")
        rec.finish(status="ok", answer="done")
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await open_run(pilot, app, "b1700000000f")
        tree = app.screen.query_one(EventTree)
        tree.select_node(tree.root.children[-1])
        await settle(pilot, app)
        kinds = [n.data.kind for n in tree.root.children if n.data]
        # the cursor was on "more" when its page came in: it moves to the page's first row and
        # the pager stays, unhighlighted, for the next page
        assert kinds.count("event") == 2 * PAGE and kinds[-1] == "more"
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.seq == PAGE + 1


async def test_missing_run_is_reported_not_fatal(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, _ = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.open_run("zzzz")
        await settle(pilot, app)
        assert isinstance(app.screen, RunsScreen)
        assert any("no run 'zzzz'" in str(n.message) for n in app._notifications)


# -- palette, help, theme ------------------------------------------------------------------


async def test_command_palette_opens_run_by_id_and_jumps(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await settle(pilot, app)
        await pilot.press(*"7077a0")
        await wait_until(
            pilot,
            app,
            lambda: (
                "Open run 7077a0000001" in str(app.screen.query("CommandList").first().get_option_at_index(0).prompt)
                if app.screen.query("CommandList") and app.screen.query("CommandList").first().option_count
                else False
            ),
        )
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == ids["tot"]
        await pilot.press("ctrl+p")
        await settle(pilot, app)
        await pilot.press(*"#7")
        await wait_until(
            pilot,
            app,
            lambda: bool(app.screen.query("CommandList")) and app.screen.query("CommandList").first().option_count > 0,
        )
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RunScreen)
        assert app.screen.query_one(ReplayBar).position == 7


async def test_help_and_theme(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, _ = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f1")
        await settle(pilot, app)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await settle(pilot, app)
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"


# -- bad databases ---------------------------------------------------------------------------


async def test_missing_database_offers_to_create(tmp_path: Path) -> None:
    path = tmp_path / "new" / "traces.db"
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert isinstance(app.screen, CreateDbScreen)
        await pilot.click("#create-yes")
        await settle(pilot, app)
        assert isinstance(app.screen, RunsScreen)
        assert path.exists()


async def test_missing_database_declined_exits(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("escape")
        await settle(pilot, app)
    assert app.return_value == 1
    assert not path.exists()


async def test_switch_db_to_a_corrupt_file_keeps_the_current_one(
    fixture_db: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, _ = fixture_db
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all, just text" * 10)
    app = PonderApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.switch_db(str(bad))
        await settle(pilot, app)
        assert app.db_path == str(path)
        assert any("not a SQLite database" in str(n.message) for n in app._notifications)
        other = tmp_path / "other.db"
        with TraceStore(other) as s:
            s.create_run(agent="cot", task={"input": "other"}, run_id="0the4000000")
        app.switch_db(str(other))
        await settle(pilot, app)
        assert app.db_path == str(other)
        assert list(app.screen.query_one(DataTable).rows) == ["0the4000000"]


# -- live ---------------------------------------------------------------------------------------


async def test_live_session_streams_a_scripted_run(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    TraceStore(path).close()
    made: list[tuple[str, str | None]] = []

    def factory(name: str, model: str | None, base_url: str | None) -> ScriptedBackend:
        made.append((name, model))
        return ScriptedBackend(["17 * 23 = 391. The answer is 391."], model=model or "scripted")

    app = PonderApp(path, backend_factory=factory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        screen.query_one("#live-model", Input).value = "tiny"
        screen.query_one("#live-question", Input).value = "What is 17 * 23?"
        screen.query_one("#live-question", Input).focus()
        await pilot.press("enter")
        status = lambda: str(screen.query_one("#live-status", Static).render())  # noqa: E731
        await wait_until(pilot, app, lambda: "ok · answer: 391" in status() or "error" in status())
        assert "ok · answer: 391" in status(), status()
        await wait_until(pilot, app, lambda: any("answer" in line and "391" in line for line in tree_lines(app)))
        assert made and made[0][1] == "tiny"
        assert screen.run_id is not None
        with TraceStore(path) as s:
            run = s.get_run(screen.run_id)
        assert run.status == "ok" and run.answer == "391" and run.model == "tiny"


async def test_live_escape_cancels_and_the_run_is_stored_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    TraceStore(path).close()

    async def never(req):  # type: ignore[no-untyped-def]
        await asyncio.Event().wait()

    app = PonderApp(path, backend_factory=lambda name, model, base_url: ScriptedBackend(never))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        screen.query_one("#live-question", Input).value = "Will you answer?"
        screen.start()
        await wait_until(pilot, app, lambda: screen.running and app.screen.query_one(EventTree).run is not None)
        await pilot.press("escape")
        await wait_until(pilot, app, lambda: "cancelled" in str(screen.query_one("#live-status", Static).render()))
        assert isinstance(app.screen, LiveScreen)  # the first escape cancels, it does not leave
        assert screen.run_id is not None
        with TraceStore(path) as s:
            run = s.get_run(screen.run_id)
            kinds = [e.kind for e in s.events(run.id)]
        assert run.status == "cancelled"
        assert kinds[-1] == "error"
        await wait_until(pilot, app, lambda: app.screen.query_one(EventTree).run.status == "cancelled")  # type: ignore[union-attr]
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, RunsScreen)


async def test_live_needs_a_question(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    TraceStore(path).close()
    app = PonderApp(path, backend_factory=lambda name, model, base_url: ScriptedBackend([]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        screen.start()
        await settle(pilot, app)
        assert "type a question first" in str(screen.query_one("#live-status", Static).render())
        assert screen.run_id is None


@pytest.mark.parametrize("status", ["running"])
async def test_open_running_run_follows_new_events(tmp_path: Path, status: str) -> None:
    path = tmp_path / "grow.db"
    store = TraceStore(path)
    rec = Recorder.start(store, agent="react", task={"input": "growing"}, run_id="9409000000001")
    rec.event("thought", "t1", "first")
    call = rec.event("llm_call", "step 1", "waiting", status="running")
    rec.flush()
    app = PonderApp(path, run_id="9409000000001")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert isinstance(app.screen, RunScreen)
        assert app.screen.run is not None and app.screen.run.status == status
        assert any("… step 1 · waiting" in line for line in tree_lines(app)), tree_lines(app)
        rec.event("action", "Search[more]", "Search[more]")
        rec.update(call, status="ok", summary="Thought: done")
        rec.finish(status="ok", answer="done")
        await wait_until(pilot, app, lambda: any("Search[more]" in line for line in tree_lines(app)))
        await wait_until(pilot, app, lambda: app.screen.query_one(ReplayBar).total == 3)
        # the open llm call was re-read when it closed
        await wait_until(pilot, app, lambda: any("step 1 · Thought: done" in line for line in tree_lines(app)))
        assert not any("… step 1" in line for line in tree_lines(app))
    store.close()


async def test_bracket_keys_switch_detail_tabs(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path, run_id=ids["tot"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        from ponder.tui.widgets.detail import DetailPanel

        detail = app.screen.query_one(DetailPanel)
        assert detail.active_tab == "prompt"
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert detail.active_tab == "raw"
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert detail.active_tab == "stats"


async def test_live_session_passes_agent_options(tmp_path: Path) -> None:
    """Options typed on the live screen configure the agent, validated as `--set` is."""
    path = tmp_path / "live.db"
    TraceStore(path).close()
    app = PonderApp(path, backend_factory=lambda name, model, base_url: ScriptedBackend(lambda req: "The answer is 4."))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        status = lambda: str(screen.query_one("#live-status", Static).render())  # noqa: E731
        screen.query_one("#live-question", Input).value = "2+2?"
        screen.query_one("#live-options", Input).value = "bogus=1"
        screen.start()
        await wait_until(pilot, app, lambda: "error" in status())
        assert "has no option 'bogus'" in status()
        screen.query_one("#live-options", Input).value = "temperature=0.5 max_tokens=64"
        screen.start()
        await wait_until(pilot, app, lambda: "ok · answer: 4" in status())
    store = TraceStore(path)
    run = store.list_runs(limit=1)[0]
    assert run.config["temperature"] == 0.5 and run.config["max_tokens"] == 64


async def test_live_run_starts_from_any_field_follows_the_tree_and_remembers_its_fields(tmp_path: Path) -> None:
    """Enter in the options field starts the run; focus goes to the tree, which expands new events and
    moves to the newest; the root row and one status line show the end; the fields come back next time."""
    path = tmp_path / "live.db"
    TraceStore(path).close()
    gate = threading.Event()
    urls: list[str | None] = []

    async def gated(req):  # type: ignore[no-untyped-def]
        for _ in range(2000):  # bounded: 20 s at most
            if gate.is_set():
                break
            await asyncio.sleep(0.01)
        return "2 + 2 = 4. The answer is 4."

    def factory(name: str, model: str | None, base_url: str | None) -> ScriptedBackend:
        urls.append(base_url)
        return ScriptedBackend(gated, supports_n=False)

    app = PonderApp(path, backend_factory=factory)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        screen.query_one("#live-question", Input).value = "What is 2 + 2?"
        screen.query_one("#live-agent", Select).value = "self_consistency"
        screen.query_one("#live-base-url", Input).value = "http://127.0.0.1:9/v1"
        screen.query_one("#live-options", Input).value = "k=2"
        screen.query_one("#live-options", Input).focus()
        await pilot.press("enter")
        tree = screen.query_one(EventTree)
        await wait_until(pilot, app, lambda: screen.running and tree.run is not None)
        assert app.focused is tree
        # the paths' calls are nested under them: followed, their levels are expanded and the cursor on the newest
        try:
            await wait_until(pilot, app, lambda: sum(1 for ln in tree_lines(app) if " llm " in ln) == 2)
        except AssertionError:
            raise AssertionError(tree_lines(app)) from None
        paths = [n for n in tree.root.children if n.data is not None and n.data.record is not None]
        assert paths and all(p.is_expanded for p in paths if p.children)
        await wait_until(pilot, app, lambda: " llm " in tree.cursor_node.label.plain)  # type: ignore[union-attr]
        gate.set()
        status = lambda: screen.query_one("#live-status", Static).render().plain  # type: ignore[attr-defined]  # noqa: E731
        await wait_until(pilot, app, lambda: "ok · answer: 4" in status())
        assert "2 calls" in status() and f"run {screen.run_id[:8]}" in status()  # type: ignore[index]
        await wait_until(pilot, app, lambda: "→ 4" in tree.root.label.plain)  # type: ignore[union-attr]
        assert " ok " in tree.root.label.plain  # type: ignore[union-attr]
        assert urls == ["http://127.0.0.1:9/v1"]
        await pilot.press("escape")  # the run is over: escape leaves
        await settle(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot, app)
        again = app.screen
        assert isinstance(again, LiveScreen) and again is not screen
        assert again.query_one("#live-agent", Select).value == "self_consistency"
        assert again.query_one("#live-options", Input).value == "k=2"
        assert again.query_one("#live-base-url", Input).value == "http://127.0.0.1:9/v1"


async def test_following_stops_when_the_user_moves_the_cursor(tmp_path: Path) -> None:
    path = tmp_path / "grow.db"
    store = TraceStore(path)
    rec = Recorder.start(store, agent="react", task={"input": "growing"}, run_id="f0110w000001")
    step = rec.event("step", "step 1", status="running")
    rec.flush()
    app = PonderApp(path, run_id="f0110w000001")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        tree = app.screen.query_one(EventTree)
        tree.follow = True
        rec.event("thought", "thought", "first", parent=step, data={"text": "first"})
        rec.flush()
        await wait_until(pilot, app, lambda: tree.cursor_node is not None and "first" in str(tree.cursor_node.label))
        assert tree.node_for("f0110w000001", step).is_expanded  # type: ignore[union-attr]
        await pilot.press("home")  # the user looks elsewhere (home is replay's start: the cursor moves)
        await wait_until(pilot, app, lambda: not tree.follow)
        rec.event("thought", "thought", "second", parent=step, data={"text": "second"})
        rec.finish(status="ok", answer="x")
        await wait_until(pilot, app, lambda: any("second" in ln for ln in tree_lines(app)))
        assert "second" not in str(tree.cursor_node.label)  # type: ignore[union-attr]
    store.close()


async def test_more_events_load_when_the_cursor_reaches_them(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    with TraceStore(path) as store:
        rec = Recorder.start(store, agent="react", task={"input": "long"}, run_id="5c4011000001")
        for i in range(1, PAGE + 51):
            rec.event("thought", f"step {i}", f"text {i}", data={"text": f"text {i}"})
        rec.finish(status="ok", answer="done")
    app = PonderApp(path, run_id="5c4011000001")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        tree = app.screen.query_one(EventTree)
        assert tree.root.children[-1].data is not None and tree.root.children[-1].data.kind == "more"
        tree.move_cursor(tree.root.children[-1])  # arrowing down onto it: no enter needed
        await settle(pilot, app)
        kinds = [n.data.kind for n in tree.root.children if n.data]
        assert kinds.count("event") == PAGE + 50 and "more" not in kinds


async def test_replay_follows_the_recorded_pace_and_jumps_by_level_branch_and_chosen_path(
    fixture_db: tuple[Path, dict[str, str]],
) -> None:
    from ponder.tui._timeline import Timeline

    t = Timeline.from_starts([100.0, 100.5, 130.0, 129.0, 131.0])
    assert t.at == (0.0, 0.5, 3.5, 3.5, 5.5)  # a 29.5 s wait plays as 3 s; out-of-order times add nothing
    assert [t.seq_at(x) for x in (0.0, 0.4, 0.5, 3.4, 3.5, 9.0)] == [1, 1, 2, 2, 4, 5]
    path, ids = fixture_db
    app = PonderApp(path, run_id=ids["tot"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.timeline is not None and len(screen.timeline.at) == 15
        # the fixture's clock steps 0.25 s per write: at 1x, one tick (0.05 s) is not yet the next event
        screen.action_play_pause()
        screen._tick()
        assert screen.bar.position == 1
        screen.bar.speed = 32.0  # 1.6 s of recorded time per tick
        screen._tick()
        assert screen.bar.position > 2
        screen._pause()
        screen.jump_to(2)  # node 2 (depth 1)
        await settle(pilot, app)
        await pilot.press("n")  # the next event on its level skips its subtree (3..6)
        await settle(pilot, app)
        assert screen.bar.position == 7
        await pilot.press("p")
        await settle(pilot, app)
        assert screen.bar.position == 2
        await pilot.press("c")  # the chosen path: its deepest chosen node, revealed
        await settle(pilot, app)
        tree = screen.query_one(EventTree)
        assert screen.bar.position == 4 and tree.cursor_node is not None and "★" in tree.cursor_node.label.plain  # type: ignore[union-attr]
        legend = screen.query_one("#legend", Static).render().plain  # type: ignore[attr-defined]
        assert "sure=20 likely=1 impossible=0.001" in legend
        assert "samples 20 20 20" in "\n".join(tree_lines(app))  # all n samples of a value


async def test_experiments_view_charts_accuracy_against_tokens(tmp_path: Path) -> None:
    path = tmp_path / "exp.db"
    with TraceStore(path) as store:
        for name, agent, answers, tokens in (
            ("cot sweep", "cot", [True, False], 40),
            ("sc sweep", "sc", [True, True], 200),
        ):
            exp = store.create_experiment(name, {"agent": agent})
            for i, ok in enumerate(answers):
                rec = Recorder.start(store, agent=agent, task={"id": f"t{i}", "input": "q"}, experiment_id=exp)
                rec.add_usage(tokens, 0, 1, None)
                rec.finish(status="ok", answer="a", correct=ok)
    app = PonderApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await settle(pilot, app)
        from ponder.tui.screens.experiments import ExperimentsScreen

        screen = app.screen
        assert isinstance(screen, ExperimentsScreen)
        assert sorted(screen.plotted) == [(40.0, 0.5), (200.0, 1.0)]
        assert screen.query_one("#experiments-chart").display
        assert table_column(app, "value") == ["1.00", "0.50"]
        sc_id = next(p.id for p in screen.points if p.agent == "sc")
        await pilot.press("enter")  # the newest (sc) experiment's runs
        await settle(pilot, app)
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.query_one("#runs-filter", Input).value == f"exp:{sc_id}"
        assert app.screen.query_one(DataTable).row_count == 2


async def test_experiment_filter_takes_an_id_prefix_or_a_name(fixture_db: tuple[Path, dict[str, str]]) -> None:
    path, ids = fixture_db
    app = PonderApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        for typed in ("exp:e0000", "exp:gsm8k-sweep", "exp:e0000000e001"):
            app.screen.query_one("#runs-filter", Input).value = typed
            await settle(pilot, app)
            assert list(app.screen.query_one(DataTable).rows) == [ids["cot"]], typed
