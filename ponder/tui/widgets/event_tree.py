"""`EventTree`: a run's events as a lazily loaded tree (children are read from SQLite on expand).

A level shows a window of at most `PAGE` siblings; "▲ earlier" / "▼ more" nodes page it,
so a run with 100,000 events costs a few hundred nodes. Reflexion trials (child runs)
appear as expandable run nodes. Replay reveals an event by seq: its ancestors are
loaded and expanded, and the level around it is paged in. An event made from several others
of its kind (a GoT aggregated thought; `KindSpec.shared_under`) is also shown under each of
them, as a "↳ also under …" link node; selecting one shows the event, enter takes the cursor
to its own place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import NodeID, TreeNode
from textual.worker import get_current_worker

from ponder.traces.events import EventRecord, RunRecord
from ponder.traces.kinds import kind_spec
from ponder.tui._data import store_for
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.widgets.event_labels import event_label, run_label, shared_label
from ponder.tui.widgets.event_tree_reads import (
    PAGE,
    LevelRead,
    Links,
    PageRead,
    read_level,
    read_page,
)
from ponder.tui.widgets.event_tree_replay import ReplayView
from ponder.tui.widgets.safe import clean

__all__ = ["EventTree", "NodeRef"]


@dataclass
class NodeRef:
    """What a tree node stands for: an event, a run (root or child run), or a paging node."""

    kind: str  # "event" | "run" | "earlier" | "more" | "link" (an event shown again under another)
    run_id: str
    seq: int | None = None  # the event's seq; for paging nodes the level's parent seq
    anchor: int = 0  # paging nodes: load before / after this seq
    record: EventRecord | RunRecord | None = None
    loaded: bool = False
    generation: int = 0
    child_runs: list[RunRecord] = field(default_factory=list)
    links: list[EventRecord] = field(default_factory=list)  # events shared with this one, shown under it
    under: str = ""  # a link node: the label of the event it is shown under


class EventTree(ReplayView, ReportsWorkerErrors, Tree[NodeRef]):
    """The event tree of one run; loads children from `db_path` in thread workers."""

    BINDINGS: ClassVar = []

    class Loaded(Message):
        """Posted when the first level of the run is on screen."""

    class LegendChanged(Message):
        """A kind with a legend (`KindSpec.legend`) appeared in the tree: `legends` is the whole legend now."""

        def __init__(self, legends: list[str]) -> None:
            super().__init__()
            self.legends = legends

    def __init__(self, db_path: str, **kw: Any) -> None:
        super().__init__("", **kw)
        self.db_path = db_path
        self.guide_depth = 3
        self.show_root = True
        self.run: RunRecord | None = None
        self._index: dict[tuple[str, int], TreeNode[NodeRef]] = {}
        self._run_nodes: dict[str, TreeNode[NodeRef]] = {}
        self._legends: dict[str, str] = {}  # kind -> its legend, for the kinds shown so far
        # following a live run: new events' levels are expanded and the cursor moves to the newest,
        # until the user moves the cursor somewhere else
        self.follow = False
        self._auto_moves: set[NodeID] = set()  # nodes the cursor was moved to by following
        self._followed_any = False
        self.until: int | None = None  # replay: the events after this one are dimmed (None: nothing is)
        self._dimmed: set[NodeID] = set()
        self._link_nodes: dict[NodeID, TreeNode[NodeRef]] = {}

    # -- labels are never markup -------------------------------------------------------

    def process_label(self, label: str | Text) -> Text:
        if isinstance(label, str):
            return Text(clean(label), no_wrap=True)
        return label

    def render_label(self, node: TreeNode[NodeRef], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        if not node.allow_expand and node is not self.root:
            label = Text.assemble("  ", label)  # line leaves up with the text of expandable siblings
        return label

    # -- building ----------------------------------------------------------------------

    def show_run(
        self, run: RunRecord, top: list[EventRecord], child_runs: list[RunRecord], links: Links | None = None
    ) -> None:
        """Show `run` with its first page of top-level events (called on the UI thread)."""
        self.run = run
        self._index.clear()
        self._link_nodes.clear()
        self._run_nodes.clear()
        self._legends.clear()
        self._dimmed.clear()
        self.until = None
        self.reset(run_label(run, root=True), NodeRef("run", run.id, record=run, loaded=True, child_runs=child_runs))
        self._run_nodes[run.id] = self.root
        self._fill(self.root, top, child_runs, earlier=False, links=links)
        self.root.expand()
        self.post_message(self.Loaded())

    def update_run(self, run: RunRecord) -> None:
        """Relabel `run`'s node (the root or a child run) with its newer record."""
        node = self._run_nodes.get(run.id)
        if node is self.root:
            self.run = run
        if node is not None and node.data is not None:
            node.data.record = run
            if node is self.root:
                node.set_label(run_label(run, root=True))
            else:
                self._relabel(node)

    def _add_event(
        self, parent: TreeNode[NodeRef], ev: EventRecord, links: list[EventRecord] | None = None, **where: Any
    ) -> TreeNode[NodeRef]:
        if ev.kind not in self._legends:
            legend = kind_spec(ev.kind).legend
            self._legends[ev.kind] = legend or ""
            if legend:
                self.post_message(self.LegendChanged([v for v in self._legends.values() if v]))
        ref = NodeRef("event", ev.run_id, ev.seq, record=ev, loaded=ev.n_children == 0, links=list(links or ()))
        node = parent.add(event_label(ev), ref, allow_expand=ev.n_children > 0 or bool(links), **where)
        self._index[(ev.run_id, ev.seq)] = node
        self._relabel(node)
        if ev.n_children == 0:  # nothing to load below it: its shared events are its children now
            self._add_links(node)
        return node

    def _add_links(self, node: TreeNode[NodeRef]) -> None:
        """The events shared with `node`'s event, as link nodes after its own children."""
        ref = node.data
        if ref is None or not isinstance(ref.record, EventRecord):
            return
        for ev in ref.links:
            link = NodeRef("link", ev.run_id, ev.seq, record=ev, loaded=True, under=ref.record.label)
            added = node.add_leaf(shared_label(ev, link.under), link)
            self._link_nodes[added.id] = added
            self._relabel(added)

    def _add_run(self, parent: TreeNode[NodeRef], run: RunRecord, **where: Any) -> TreeNode[NodeRef]:
        node = parent.add(run_label(run), NodeRef("run", run.id, record=run), allow_expand=True, **where)
        self._run_nodes[run.id] = node
        self._relabel(node)
        return node

    def _level_run(self, parent: TreeNode[NodeRef]) -> tuple[str, int | None]:
        ref = parent.data
        assert ref is not None
        return ref.run_id, (None if ref.kind == "run" else ref.seq)

    def _fill(
        self,
        parent: TreeNode[NodeRef],
        events: list[EventRecord],
        child_runs: list[RunRecord],
        *,
        earlier: bool,
        links: Links | None = None,
    ) -> None:
        """Replace `parent`'s children by a window of events (merged with child runs by start time), then
        the events shared with `parent`'s; `links`: the events shared with those of the window."""
        for child in list(parent.children):
            self._forget(child)
        parent.remove_children()
        run_id, parent_seq = self._level_run(parent)
        if earlier and events:
            parent.add_leaf(
                Text("  ▲ earlier events", style="dim italic"),
                NodeRef("earlier", run_id, parent_seq, anchor=events[0].seq),
            )
        runs = sorted(child_runs, key=lambda r: (r.started_at, r.id))
        ri = 0
        for ev in events:
            while ri < len(runs) and runs[ri].started_at < ev.started_at:
                self._add_run(parent, runs[ri])
                ri += 1
            self._add_event(parent, ev, (links or {}).get(ev.seq))
        for r in runs[ri:]:
            self._add_run(parent, r)
        if len(events) >= PAGE:
            parent.add_leaf(
                Text("  ▼ more events", style="dim italic"),
                NodeRef("more", run_id, parent_seq, anchor=events[-1].seq),
            )
        self._add_links(parent)
        if parent.data is not None:
            parent.data.loaded = True
            parent.data.generation += 1

    def _forget(self, node: TreeNode[NodeRef]) -> None:
        self._dimmed.discard(node.id)
        self._link_nodes.pop(node.id, None)
        ref = node.data
        if ref is not None and ref.kind == "event" and ref.seq is not None:
            self._index.pop((ref.run_id, ref.seq), None)
        elif ref is not None and ref.kind == "run":
            self._run_nodes.pop(ref.run_id, None)
        for child in node.children:
            self._forget(child)

    def node_for(self, run_id: str, seq: int) -> TreeNode[NodeRef] | None:
        """The node of event `seq` of `run_id`, if it is loaded."""
        return self._index.get((run_id, seq))

    # -- lazy loading ------------------------------------------------------------------

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[NodeRef]) -> None:
        ref = event.node.data
        if ref is None or ref.loaded or ref.kind not in ("event", "run"):
            return
        ref.loaded = True  # a request is on its way; do not ask twice
        parent_seq = None if ref.kind == "run" else ref.seq
        self._load_level(event.node.id, ref.generation, ref.run_id, parent_seq, ref.kind == "run")

    @on(Tree.NodeHighlighted)
    def _moved(self, event: Tree.NodeHighlighted[NodeRef]) -> None:
        ref = event.node.data
        if ref is not None and ref.kind in ("earlier", "more"):
            self._page_in(event.node)  # the cursor reached the end of a window: bring the next page
        if event.node.id in self._auto_moves:
            self._auto_moves.discard(event.node.id)
        elif event.node is not self.cursor_node:
            return  # a stale highlight (the cursor has moved on since)
        elif self.follow and self._followed_any:
            self.follow = False  # the user looks elsewhere: stop pulling the cursor to new events

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[NodeRef]) -> None:
        ref = event.node.data
        if ref is not None and ref.kind == "link" and ref.seq is not None:
            event.stop()
            self.reveal(ref.run_id, ref.seq)  # to the shared event's own place
            return
        if ref is None or ref.kind not in ("earlier", "more"):
            return
        event.stop()
        self._page_in(event.node)

    def _page_in(self, pager: TreeNode[NodeRef]) -> None:
        ref = pager.data
        if ref is None or ref.loaded:
            return
        ref.loaded = True  # one request per pager at a time (cleared when its page arrives)
        self._load_page(pager.id, ref.run_id, ref.seq, ref.anchor, ref.kind == "more")

    def watch_scroll_y(self, old: float, new: float) -> None:
        """Scrolling a "more events" / "earlier events" row into view loads its page."""
        super().watch_scroll_y(old, new)
        top = int(new)
        for line in range(top, top + self.scrollable_content_region.height):
            node = self.get_node_at_line(line)
            if node is not None and node.data is not None and node.data.kind in ("earlier", "more"):
                self._page_in(node)

    @work(thread=True, group="tree-load", exit_on_error=False)
    def _load_level(self, node_id: NodeID, gen: int, run_id: str, parent_seq: int | None, is_run: bool) -> None:
        events, runs, links = read_level(store_for(self.db_path), run_id, parent_seq, is_run)
        if not get_current_worker().is_cancelled:
            self.post_message(LevelRead(node_id, gen, events, runs, links))

    @work(thread=True, group="tree-load", exit_on_error=False)
    def _load_page(self, node_id: NodeID, run_id: str, parent_seq: int | None, anchor: int, forward: bool) -> None:
        events, has_more, links = read_page(store_for(self.db_path), run_id, parent_seq, anchor, forward)
        self.post_message(PageRead(node_id, events, forward, has_more, links))

    @on(LevelRead)
    def _level_loaded(self, message: LevelRead) -> None:
        try:
            node = self.get_node_by_id(message.node_id)
        except Exception:
            return
        if node.data is None or node.data.generation != message.generation:
            return
        node.data.child_runs = message.runs
        self._fill(node, message.events, message.runs, earlier=False, links=message.links)
        if not message.events and not message.runs and not node.data.links:
            node.allow_expand = False
        elif self.follow and node.children:
            self._follow_to(node.children[-1])

    @on(PageRead)
    def _page_loaded(self, message: PageRead) -> None:
        try:
            pager = self.get_node_by_id(message.node_id)
        except Exception:
            return
        parent = pager.parent
        ref = pager.data
        if parent is None or ref is None:
            return
        on_pager = self.cursor_node is pager
        keep = self.cursor_node
        if on_pager and any((ev.run_id, ev.seq) not in self._index for ev in message.events):
            # Take the cursor off the pager before the rows arrive: left on it, the tree carries it
            # to the pager's new line and highlights the pager again, which would load the next page
            # (and so on, every page of the level) before the cursor lands on the first new row.
            self.move_cursor(None)
        new_nodes: list[TreeNode[NodeRef]] = []
        ordered = message.events if message.forward else list(reversed(message.events))
        for ev in ordered:
            if (ev.run_id, ev.seq) in self._index:
                continue
            where = {"before": pager} if message.forward else {"after": pager}
            new_nodes.append(self._add_event(parent, ev, message.links.get(ev.seq), **where))
        if message.has_more and message.events:
            ref.anchor = message.events[-1].seq if message.forward else message.events[0].seq
            ref.loaded = False
        else:
            pager.remove()
        if new_nodes and on_pager:
            self.call_after_refresh(self.move_cursor, new_nodes[0])
        elif keep is not None and keep is not pager:
            # rows came in above the cursor (a page loaded by scrolling): keep it on the same event
            self.call_after_refresh(self.move_cursor, keep)

    # -- live additions ----------------------------------------------------------------

    def add_live(self, events: list[EventRecord], child_runs: list[RunRecord]) -> None:
        """Add events recorded since the last poll (in seq order) where their level is loaded.

        While `follow` is on, each new event's level is expanded (loading it when it is not yet
        loaded) and the cursor moves to the newest event.
        """
        newest: TreeNode[NodeRef] | None = None
        for ev in events:
            if (ev.run_id, ev.seq) in self._index:
                node = self._index[(ev.run_id, ev.seq)]
                if node.data is not None:
                    node.data.record = ev
                self._relabel(node)
                continue
            if ev.parent_seq is None:
                parent: TreeNode[NodeRef] | None = self._run_nodes.get(ev.run_id)
            else:
                parent = self._index.get((ev.run_id, ev.parent_seq))
            if parent is None or parent.data is None:
                continue
            if not parent.data.loaded:
                parent.allow_expand = True
                if self.follow and not parent.is_expanded:
                    parent.expand()  # loads the level, this event with it
                continue
            if parent.children and parent.children[-1].data and parent.children[-1].data.kind == "more":
                continue  # the level is paged: "more" will bring it
            newest = self._add_event(parent, ev)
            if parent.data.kind == "event" and parent.data.record is not None:
                rec = parent.data.record
                if isinstance(rec, EventRecord):
                    rec.n_children += 1
                    self._relabel(parent)
                parent.allow_expand = True
            if self.follow and not parent.is_expanded:
                parent.expand()
        for run in child_runs:
            if run.id in self._run_nodes:
                self.update_run(run)
            elif self.run is not None and run.parent_id in self._run_nodes:
                owner = self._run_nodes[run.parent_id]
                if owner.data is not None and owner.data.loaded:
                    self._add_run(owner, run)
        if self.follow and newest is not None:
            self._follow_to(newest)

    def _follow_to(self, node: TreeNode[NodeRef]) -> None:
        self._auto_moves.add(node.id)
        self._followed_any = True
        self.call_after_refresh(self.move_cursor, node)  # its line is known once the tree is laid out
