"""Replay in the event tree: reveal an event (its ancestors' levels loaded and expanded) and dim
what the replay has not reached yet, so the tree reads as the run stood at that moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message
from textual.widgets.tree import NodeID, TreeNode
from textual.worker import get_current_worker

from ponder.traces.events import EventRecord, RunRecord
from ponder.tui._data import store_for
from ponder.tui.widgets.event_labels import event_label, run_label, shared_label
from ponder.tui.widgets.event_tree_reads import Links, Revealed, read_reveal

if TYPE_CHECKING:
    from ponder.tui.widgets.event_tree import NodeRef


class ReplayView:
    """The replay part of `EventTree` (a mixin over the tree's nodes, index and run)."""

    until: int | None
    _dimmed: set[NodeID]
    run: RunRecord | None
    root: TreeNode[NodeRef]
    _index: dict[tuple[str, int], TreeNode[NodeRef]]
    _run_nodes: dict[str, TreeNode[NodeRef]]
    _link_nodes: dict[NodeID, TreeNode[NodeRef]]
    db_path: str

    if TYPE_CHECKING:  # what the tree it is mixed into provides

        def move_cursor(self, node: TreeNode[NodeRef] | None, animate: bool = False) -> None: ...

        def post_message(self, message: Message) -> bool: ...

        def call_after_refresh(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> bool: ...

        def _fill(
            self,
            parent: TreeNode[NodeRef],
            events: list[EventRecord],
            child_runs: list[RunRecord],
            *,
            earlier: bool,
            links: Links | None = None,
        ) -> None: ...

    def show_until(self, seq: int | None) -> None:
        """Replay is at event `seq` of the run: dim what comes after it (None: show everything as recorded)."""
        if seq == self.until:
            return
        self.until = seq
        self._restyle()

    def _restyle(self) -> None:
        """Dim or undim every loaded node whose state changed (the replay moved, its event was loaded)."""
        for node in [*self._index.values(), *self._run_nodes.values(), *self._link_nodes.values()]:
            self._relabel(node, only_if_changed=True)

    def _cutoff(self) -> float | None:
        """When the replay's current event started: child runs that started later have not happened yet."""
        if self.run is None or self.until is None:
            return None
        node = self._index.get((self.run.id, self.until))
        rec = node.data.record if node is not None and node.data is not None else None
        return rec.started_at if isinstance(rec, EventRecord) else None

    def _in_future(self, record: EventRecord | RunRecord | None) -> bool:
        if self.until is None or self.run is None or record is None or record is self.run:
            return False
        if isinstance(record, EventRecord) and record.run_id == self.run.id:
            return record.seq > self.until
        cutoff = self._cutoff()  # a child run, or one of its events: by time
        return cutoff is not None and record.started_at > cutoff

    def _relabel(self, node: TreeNode[NodeRef], *, only_if_changed: bool = False) -> None:
        """Give `node` its label, dimmed when replay has not reached it."""
        ref = node.data
        if ref is None or ref.record is None or node is self.root:
            return
        future = self._in_future(ref.record)
        if only_if_changed and future == (node.id in self._dimmed):
            return
        rec = ref.record
        if ref.kind == "link" and isinstance(rec, EventRecord):
            label = shared_label(rec, ref.under)
        else:
            label = event_label(rec) if isinstance(rec, EventRecord) else run_label(rec)
        if future:
            label.stylize("dim")
            self._dimmed.add(node.id)
        else:
            self._dimmed.discard(node.id)
        node.set_label(label)

    # -- reveal ------------------------------------------------------------------------

    def reveal(self, run_id: str, seq: int) -> None:
        """Load, expand and move the cursor to event `seq` of `run_id`."""
        node = self._index.get((run_id, seq))
        if node is not None and all(a.is_expanded for a in self._ancestors(node)):
            self.move_cursor(node)
            return
        self._reveal(run_id, seq, frozenset(self._index))

    def _ancestors(self, node: TreeNode[NodeRef]) -> list[TreeNode[NodeRef]]:
        out = []
        p = node.parent
        while p is not None:
            out.append(p)
            p = p.parent
        return out

    @work(thread=True, exclusive=True, group="tree-reveal", exit_on_error=False)
    def _reveal(self, run_id: str, seq: int, present: frozenset[tuple[str, int]]) -> None:
        worker = get_current_worker()
        levels = read_reveal(store_for(self.db_path), run_id, seq, present, lambda: worker.is_cancelled)
        if levels is not None:
            self.post_message(Revealed(run_id, levels))

    def on_revealed(self, message: Revealed) -> None:
        """The levels down to the revealed event are read: show them and move the cursor there.

        (Handled by name: `@on` handlers of a mixin that is not a widget class are not collected.)
        """
        parent_node = self._run_nodes.get(message.run_id)
        if parent_node is None:
            return
        node: TreeNode[NodeRef] | None = None
        for level in message.levels:
            node = self._index.get((message.run_id, level.target))
            if node is None:
                if level.page is None or parent_node.data is None:
                    return
                runs = parent_node.data.child_runs if parent_node is self.root else []
                self._fill(parent_node, level.page, runs, earlier=level.earlier, links=level.links)
                node = self._index.get((message.run_id, level.target))
                if node is None:
                    return
            if not parent_node.is_expanded:
                parent_node.expand()
            parent_node = node
        if node is not None:
            target = node
            self.call_after_refresh(self.move_cursor, target)
        if self.until is not None:
            self._restyle()  # the replay's event is loaded now: child runs can be placed before or after it
