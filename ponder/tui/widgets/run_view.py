"""`RunView`: a run's stats strip, event tree and detail tabs; follows a running run as it grows."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static, Tree

from ponder.errors import PonderError
from ponder.traces.events import EventRecord, RunRecord
from ponder.tui._data import store_for, with_label_data
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.widgets.detail import DetailPanel
from ponder.tui.widgets.event_tree import EventTree, NodeRef
from ponder.tui.widgets.event_tree_reads import PAGE, Links, shared_links
from ponder.tui.widgets.stats_strip import StatsStrip

# how often a running run is polled for new events (live additions are batched per poll)
POLL_S = 0.2


class RunView(ReportsWorkerErrors, Widget):
    """Shows one run. `load(run_id)` reads it in a worker; a running run is polled every `POLL_S`."""

    class Ready(Message):
        """The run is on screen."""

        def __init__(self, run: RunRecord) -> None:
            super().__init__()
            self.run = run

    class Changed(Message):
        """The run grew or finished since it was loaded."""

        def __init__(self, run: RunRecord) -> None:
            super().__init__()
            self.run = run

    def __init__(self, db_path: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.db_path = db_path
        self.run: RunRecord | None = None
        self._seen_seq = 0
        self._open: set[int] = set()  # seqs shown while still "running": re-read until they close
        self._poll_timer: Timer | None = None
        self._polling = False
        self._child_marker: tuple[int, float] = (0, 0.0)

    def compose(self) -> ComposeResult:
        yield StatsStrip(id="stats-strip")
        yield Static("", id="legend")
        with Horizontal(id="run-body"):
            yield EventTree(self.db_path, id="event-tree")
            yield DetailPanel(self.db_path, id="detail")

    @property
    def event_tree(self) -> EventTree:
        return self.query_one(EventTree)

    @property
    def detail(self) -> DetailPanel:
        return self.query_one(DetailPanel)

    def load(self, run_id: str, *, follow: bool = False) -> None:
        """Read `run_id` and show it; `follow` keeps polling until it finishes (the live screen)."""
        self._follow = follow
        self._load(run_id)

    class _Loaded(Message):
        def __init__(
            self, run: RunRecord, top: list[EventRecord], child_runs: list[RunRecord], seen: int, links: Links
        ) -> None:
            super().__init__()
            self.run = run
            self.top = top
            self.child_runs = child_runs
            self.seen = seen
            self.links = links

    class LoadFailed(Message):
        """The run could not be read (no such id, unreadable database)."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    @work(thread=True, exclusive=True, group="run-load", exit_on_error=False)
    def _load(self, run_id: str) -> None:
        store = store_for(self.db_path)
        try:
            run = store.get_run(run_id)
        except PonderError as e:
            self.post_message(self.LoadFailed(str(e)))
            return
        top = with_label_data(store, store.children(run.id, None, limit=PAGE))
        self.post_message(self._Loaded(run, top, store.child_runs(run.id), run.last_seq, shared_links(store, top)))

    @on(_Loaded)
    def _loaded(self, message: _Loaded) -> None:
        run = message.run
        self.run = run
        # a followed run (the live screen's, just started) is read again from its start on the first poll,
        # so events nested under ones already shown reach the tree's follow logic too
        self._seen_seq = 0 if self._follow else message.seen
        self._open = {e.seq for e in message.top if e.status == "running"}
        self._child_marker = (len(message.child_runs), max((r.started_at for r in message.child_runs), default=0.0))
        self.query_one(StatsStrip).show(run)
        self.detail.run = run
        self.detail.show_run(run)
        self.event_tree.show_run(run, message.top, message.child_runs, message.links)
        self._start_polling()
        self.post_message(self.Ready(run))

    # -- following a running run -------------------------------------------------------

    def _start_polling(self) -> None:
        if self._poll_timer is None and self.run is not None and (self.run.status == "running" or self._follow):
            self._poll_timer = self.set_interval(POLL_S, self._tick)

    def _tick(self) -> None:
        if self.run is not None and not self._polling:
            self._polling = True
            self._poll(self.run.id, self._seen_seq, sorted(self._open))

    def refresh_now(self) -> None:
        """Read the run once more now (its end, say), without waiting for the next poll."""
        self._tick()

    def toggle_detail(self) -> None:
        """Show or hide the detail tabs (hidden by default on a narrow screen, where the tree takes the width)."""
        shown = self.detail.display
        self.set_class(shown, "-detail-off")
        self.set_class(not shown, "-detail-on")

    def stop_following(self) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None

    class _Polled(Message):
        def __init__(self, run: RunRecord, events: list[EventRecord], child_runs: list[RunRecord] | None) -> None:
            super().__init__()
            self.run = run
            self.events = events
            self.child_runs = child_runs

    @work(thread=True, exclusive=True, group="run-poll", exit_on_error=False)
    def _poll(self, run_id: str, after: int, open_seqs: list[int]) -> None:
        try:
            store = store_for(self.db_path)
            run = store.get_run(run_id)
            events = store.events(run_id, after_seq=after, limit=500) if run.last_seq > after else []
            # events still open (an llm call waiting, a ToT node not yet scored) come back when they change
            fresh = {e.seq for e in events}
            reread = [e for e in store.events_by_seq(run_id, [q for q in open_seqs if q not in fresh])]
            events = with_label_data(store, reread + events)
            children = store.child_runs(run_id)
        finally:
            self._polling = False
        self.post_message(self._Polled(run, events, children))

    @on(_Polled)
    def _polled(self, message: _Polled) -> None:
        if self.run is None or message.run.id != self.run.id:
            return
        run = message.run
        changed = run.last_seq != self.run.last_seq or run.status != self.run.status or bool(message.events)
        if message.events:
            self._seen_seq = max(self._seen_seq, max(e.seq for e in message.events))
        for e in message.events:
            if e.status == "running":
                self._open.add(e.seq)
            else:
                self._open.discard(e.seq)
        self.event_tree.add_live(message.events, message.child_runs or [])
        self.event_tree.update_run(run)
        self.run = run
        self.detail.run = run
        if changed:
            self.query_one(StatsStrip).show(run)
            self.post_message(self.Changed(run))
        if run.status != "running" and self._seen_seq >= run.last_seq:
            self.stop_following()

    @on(EventTree.LegendChanged)
    def _legend(self, message: EventTree.LegendChanged) -> None:
        legend = self.query_one("#legend", Static)
        legend.update(Text(" " + " · ".join(message.legends), style="dim"))
        legend.display = bool(message.legends)

    # -- selection -> detail -----------------------------------------------------------

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[NodeRef]) -> None:
        ref = event.node.data
        if ref is None:
            return
        if ref.kind in ("event", "link") and ref.seq is not None:
            self.detail.show_event(ref.run_id, ref.seq)
        elif ref.kind == "run" and isinstance(ref.record, RunRecord):
            self.detail.show_run(ref.record)
