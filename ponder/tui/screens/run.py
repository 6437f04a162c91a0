"""The run screen: event tree, detail tabs, totals, and replay in recorded order."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header

from ponder.experiments.labels import agent_label
from ponder.traces.events import RunRecord
from ponder.tui._data import store_for
from ponder.tui._timeline import Timeline, chosen_leaf, load_timeline, next_branch, next_on_level
from ponder.tui.messages import JumpTo, OpenCompare
from ponder.tui.screens.fork import ForkEditScreen
from ponder.tui.screens.live import BackendFactory
from ponder.tui.screens.text import FullTextScreen
from ponder.tui.widgets.replay_bar import SPEEDS, ReplayBar
from ponder.tui.widgets.run_view import RunView
from ponder.tui.widgets.safe import clean

# the replay clock's tick; each tick moves to the last event that had started by then (at 1x, as recorded)
TICK_S = 0.05


class RunScreen(Screen[None]):
    """One run. Replay steps through its events by seq; the tree and detail follow the cursor."""

    BINDINGS: ClassVar = [
        Binding("space", "play_pause", "Play/Pause", priority=True, id="replay.play"),
        Binding("right", "step(1)", "Step", priority=True, id="replay.forward"),
        Binding("left", "step(-1)", "Back", priority=True, id="replay.back"),
        Binding("plus,equals_sign", "speed(1)", "Faster", priority=True, id="replay.faster"),
        Binding("minus", "speed(-1)", "Slower", priority=True, id="replay.slower"),
        Binding("n", "level(1)", "Next on level", show=False, id="replay.next_level"),
        Binding("p", "level(-1)", "Prev on level", show=False, id="replay.prev_level"),
        Binding("b", "next_branch", "Next branch", show=False, id="replay.next_branch"),
        Binding("c", "chosen_path", "Chosen path", id="run.chosen"),
        Binding("f", "fork", "Fork here", id="run.fork"),
        Binding("home", "goto_start", "Start", priority=True, show=False, id="replay.home"),
        Binding("end", "goto_end", "End", priority=True, show=False, id="replay.end"),
        Binding("right_square_bracket", "tab(1)", "Next tab", id="run.next_tab"),
        Binding("left_square_bracket", "tab(-1)", "Prev tab", show=False, id="run.prev_tab"),
        Binding("v", "full_text", "Full text", id="run.full_text"),
        Binding("d", "toggle_detail", "Detail", id="run.detail"),
        Binding("escape", "back", "Back", id="run.back"),
    ]

    def __init__(
        self,
        db_path: str,
        run_id: str,
        *,
        seq: int | None = None,
        backend_factory: BackendFactory | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.db_path = db_path
        self.backend_factory = backend_factory
        self.run_id = run_id
        self.start_seq = seq
        self.run: RunRecord | None = None
        self._timer: Timer | None = None
        self.timeline: Timeline | None = None
        self._clock = 0.0  # replay seconds (see `Timeline`)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield RunView(self.db_path, id="run-view")
        yield ReplayBar(id="replay-bar")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RunView).load(self.run_id)
        self.query_one(RunView).event_tree.focus()

    @property
    def bar(self) -> ReplayBar:
        return self.query_one(ReplayBar)

    @on(RunView.Ready)
    def _ready(self, message: RunView.Ready) -> None:
        self.run = message.run
        self.run_id = message.run.id
        self.sub_title = f"{agent_label(message.run.agent, message.run.config)} · {message.run.id}"
        self.bar.total = message.run.last_seq
        self._load_timeline(message.run.id)
        if self.start_seq is not None:
            self.jump_to(self.start_seq)

    class _TimelineLoaded(Message):
        def __init__(self, timeline: Timeline) -> None:
            super().__init__()
            self.timeline = timeline

    @work(thread=True, exclusive=True, group="timeline", exit_on_error=False)
    def _load_timeline(self, run_id: str) -> None:
        self.post_message(self._TimelineLoaded(load_timeline(store_for(self.db_path), run_id)))

    @on(_TimelineLoaded)
    def _timeline_loaded(self, message: _TimelineLoaded) -> None:
        self.timeline = message.timeline

    @on(RunView.LoadFailed)
    def _failed(self, message: RunView.LoadFailed) -> None:
        self.app.notify(clean(message.error), title="cannot open run", severity="error", timeout=8, markup=False)
        self.dismiss()

    @on(RunView.Changed)
    def _changed(self, message: RunView.Changed) -> None:
        self.run = message.run
        self.bar.total = message.run.last_seq

    # -- replay ------------------------------------------------------------------------

    @on(JumpTo)
    def _jump_message(self, message: JumpTo) -> None:
        self.jump_to(message.seq)

    def jump_to(self, seq: int) -> None:
        """Move the replay cursor to event `seq` (clamped to the run)."""
        total = self.bar.total
        if total <= 0:
            return
        seq = max(1, min(seq, total))
        self.bar.position = seq
        tree = self.query_one(RunView).event_tree
        tree.show_until(seq)  # what comes after it has not happened yet: dimmed
        tree.reveal(self.run_id, seq)

    def action_step(self, delta: int) -> None:
        self.jump_to(self.bar.position + delta)
        if self.bar.position >= self.bar.total:
            self._pause()

    def action_goto_start(self) -> None:
        self.jump_to(1)

    def action_goto_end(self) -> None:
        self.jump_to(self.bar.total)
        self._pause()

    def action_play_pause(self) -> None:
        if self.bar.playing:
            self._pause()
            return
        if self.bar.position >= self.bar.total:
            self.bar.position = 0
        self.bar.playing = True
        timeline = self.timeline
        self._clock = timeline.time_of(self.bar.position) if timeline is not None else 0.0
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_interval(TICK_S, self._tick)

    def action_speed(self, direction: int) -> None:
        i = SPEEDS.index(self.bar.speed) if self.bar.speed in SPEEDS else SPEEDS.index(1.0)
        self.bar.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + direction))]

    def _tick(self) -> None:
        """Advance the replay clock; show the last event that had started by then (several may pass in a tick)."""
        if self.bar.position >= self.bar.total:
            self._pause()
            return
        self._clock += TICK_S * self.bar.speed
        if self.timeline is None or len(self.timeline.at) < self.bar.position + 1:
            target = self.bar.position + 1  # no times (yet): one event per tick
        else:
            target = max(self.bar.position, self.timeline.seq_at(self._clock))
        if target != self.bar.position:
            self.jump_to(target)
        if self.bar.position >= self.bar.total:
            self._pause()

    # -- moves by level and branch -----------------------------------------------------

    class _MoveFound(Message):
        def __init__(self, seq: int | None, what: str) -> None:
            super().__init__()
            self.seq = seq
            self.what = what

    def action_level(self, direction: int) -> None:
        self._find_move(self.run_id, self.bar.position, "level", direction > 0)

    def action_next_branch(self) -> None:
        self._find_move(self.run_id, self.bar.position, "branch", True)

    def action_chosen_path(self) -> None:
        self._find_move(self.run_id, 0, "chosen", True)

    @work(thread=True, exclusive=True, group="replay-move", exit_on_error=False)
    def _find_move(self, run_id: str, seq: int, what: str, forward: bool) -> None:
        store = store_for(self.db_path)
        if what == "level":
            found = next_on_level(store, run_id, seq, forward)
        elif what == "branch":
            found = next_branch(store, run_id, seq)
        else:
            found = chosen_leaf(store, run_id)
        self.post_message(self._MoveFound(found, what))

    @on(_MoveFound)
    def _move_found(self, message: _MoveFound) -> None:
        if message.seq is None:
            nothing = {"level": "no more events on this level", "branch": "no other branch after this event"}
            self.app.notify(nothing.get(message.what, "no chosen path in this run"), timeout=3)
            return
        self.jump_to(message.seq)

    def _pause(self) -> None:
        self.bar.playing = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    # -- other -------------------------------------------------------------------------

    def action_tab(self, delta: int) -> None:
        self.query_one(RunView).detail.cycle_tab(delta)

    def action_full_text(self) -> None:
        title, text = self.query_one(RunView).detail.full_text()
        self.app.push_screen(FullTextScreen(title, text))

    # -- fork ------------------------------------------------------------------------------

    class _ForkText(Message):
        def __init__(self, run_id: str, seq: int, what: str, text: str | None, error: str | None) -> None:
            super().__init__()
            self.run_id = run_id
            self.seq = seq
            self.what = what
            self.text = text
            self.error = error

    class ForkDone(Message):
        """A fork started from this screen finished (`fork_id`), or failed (`error`)."""

        def __init__(self, origin: str, fork_id: str | None, error: str | None) -> None:
            super().__init__()
            self.origin = origin
            self.fork_id = fork_id
            self.error = error

    def action_fork(self) -> None:
        """Edit the selected event's response (or tool result) and fork the run there."""
        node = self.query_one(RunView).event_tree.cursor_node
        ref = node.data if node is not None else None
        if ref is None or ref.kind != "event" or ref.seq is None:
            self.app.notify("select a model call or a tool action to fork at", timeout=4)
            return
        self._fork_text(ref.run_id, ref.seq)

    @work(thread=True, exclusive=True, group="fork-text", exit_on_error=False)
    def _fork_text(self, run_id: str, seq: int) -> None:
        store = store_for(self.db_path)
        call = store.llm_call_for_event(run_id, seq)
        if call is not None:
            choices = (call.response or {}).get("choices") or [{}]
            text = str(choices[0].get("text") or "")
            self.post_message(self._ForkText(run_id, seq, "response", text, None))
            return
        tools = store.tool_calls_for_event(run_id, seq)
        if tools:
            t = tools[0]
            self.post_message(self._ForkText(run_id, seq, f"{t.tool} result", t.result or t.error or "", None))
            return
        error = f"event #{seq} is not a model call or a tool result: fork at an llm event or a tool action"
        self.post_message(self._ForkText(run_id, seq, "", None, error))

    @on(_ForkText)
    def _edit_fork(self, message: _ForkText) -> None:
        if message.text is None:
            self.app.notify(message.error or "cannot fork here", severity="warning", timeout=5, markup=False)
            return

        def start(edit: str | None) -> None:
            if edit is not None:
                self.app.notify(f"forking {self.run_id[:8]} at #{message.seq}…", timeout=3)
                self._fork(message.run_id, message.seq, edit)

        self.app.push_screen(ForkEditScreen(message.run_id, message.seq, message.what, message.text), start)

    @work(thread=True, group="fork", exit_on_error=False)
    def _fork(self, run_id: str, seq: int, edit: str) -> None:
        import asyncio

        from ponder.errors import PonderError
        from ponder.replay.fork import afork
        from ponder.traces.store import TraceStore

        store = TraceStore(self.db_path)  # the fork writes through its own connection, off the UI thread
        try:
            origin = store.get_run(self.run_id)
            backend = None
            if self.backend_factory is not None:
                backend = self.backend_factory(origin.backend or "", origin.model, None)
            result = asyncio.run(afork(store, run_id, at=seq, edit=edit, backend=backend))
        except PonderError as e:
            self.post_message(self.ForkDone(self.run_id, None, str(e)))
            return
        except Exception as e:
            self.post_message(self.ForkDone(self.run_id, None, f"{type(e).__name__}: {e}"))
            return
        finally:
            store.close()
        self.post_message(self.ForkDone(self.run_id, result.run_id, None))

    @on(ForkDone)
    def _fork_done(self, message: ForkDone) -> None:
        if message.fork_id is None:
            self.app.notify(message.error or "the fork failed", title="fork", severity="error", timeout=8, markup=False)
            return
        self.app.post_message(OpenCompare(message.origin, message.fork_id))

    def action_toggle_detail(self) -> None:
        self.query_one(RunView).toggle_detail()

    def action_back(self) -> None:
        self._pause()
        self.dismiss()
