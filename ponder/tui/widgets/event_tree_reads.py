"""What the event tree reads from SQLite in its thread workers (a level, a page, a reveal),
and the messages that carry it back to the UI thread.

A level shows a window of at most `PAGE` siblings; revealing an event loads each level on the
way down to it, with `CONTEXT` events of context above it. Each read also brings the events shared
with the ones it read (`shared_links`: an aggregated GoT thought, shown under each thought it was
made from). These functions only read the store (given the worker's own connection); the tree widget
turns their results into nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message
from textual.widgets.tree import NodeID

from ponder.traces.events import EventRecord, RunRecord
from ponder.traces.kinds import kind_spec
from ponder.traces.store import TraceStore
from ponder.tui._data import with_label_data

Links = dict[int, list[EventRecord]]
"""Events shown again under another event than their own parent, by that event's seq."""

PAGE = 200
CONTEXT = 20  # events shown above a revealed event in a fresh window


@dataclass
class Level:
    """One level on the way down to a revealed event: its page, or None when it is already shown."""

    parent_seq: int | None
    target: int
    page: list[EventRecord] | None
    earlier: bool
    links: Links | None = None


def shared_links(store: TraceStore, events: list[EventRecord]) -> Links:
    """For each of `events` whose kind is `shared_under` a data field: the events of its kind made from it
    and from at least one other (a GoT thought aggregated from it), in seq order."""
    wanted: dict[tuple[str, str], dict[str, list[int]]] = {}
    for e in events:
        field = kind_spec(e.kind).shared_under
        if field:
            wanted.setdefault((e.kind, field), {}).setdefault(e.label, []).append(e.seq)
    links: Links = {}
    for (kind, field), by_label in wanted.items():
        for label, shared in store.shared_children(events[0].run_id, kind, field, sorted(by_label)):
            for seq in by_label[label]:
                links.setdefault(seq, []).append(shared)
    return links


def read_level(
    store: TraceStore, run_id: str, parent_seq: int | None, is_run: bool
) -> tuple[list[EventRecord], list[RunRecord], Links]:
    """The first page of a level's events, the run's child runs when the level is a run's top, and the
    events shared with those of the page."""
    events = with_label_data(store, store.children(run_id, parent_seq, limit=PAGE))
    runs = store.child_runs(run_id) if is_run else []
    return events, runs, shared_links(store, events)


def read_page(
    store: TraceStore, run_id: str, parent_seq: int | None, anchor: int, forward: bool
) -> tuple[list[EventRecord], bool, Links]:
    """The page of a level after (or before) `anchor`, whether there is more beyond it, and the events
    shared with those of the page."""
    if forward:
        events = store.children(run_id, parent_seq, after_seq=anchor, limit=PAGE + 1)
        page, more = with_label_data(store, events[:PAGE]), len(events) > PAGE
    else:
        events = store.children_before(run_id, parent_seq, anchor, limit=PAGE + 1)
        page, more = with_label_data(store, events[-PAGE:]), len(events) > PAGE
    return page, more, shared_links(store, page)


def read_reveal(
    store: TraceStore, run_id: str, seq: int, present: frozenset[tuple[str, int]], cancelled: Callable[[], bool]
) -> list[Level] | None:
    """The levels from the run down to event `seq` (None if `cancelled()` said stop on the way).

    present: the (run, seq) of events already in the tree, whose levels need no page.
    """
    chain = store.ancestors(run_id, seq)
    levels: list[Level] = []
    parent: int | None = None
    for target in chain:
        if cancelled():
            return None
        if (run_id, target) in present:
            levels.append(Level(parent, target, None, False))
        else:
            # a window around the target: a few events of context above it, the rest below
            before = store.children_before(run_id, parent, target, limit=CONTEXT + 1)
            earlier = len(before) > CONTEXT
            before = before[-CONTEXT:] if CONTEXT else []
            after = store.children(run_id, parent, after_seq=target - 1, limit=PAGE - len(before))
            page = with_label_data(store, before + after)
            levels.append(Level(parent, target, page, earlier, shared_links(store, page)))
        parent = target
    return levels


class LevelRead(Message):
    """A level's first page, read for the node `node_id` (at its `generation`)."""

    def __init__(
        self, node_id: NodeID, generation: int, events: list[EventRecord], runs: list[RunRecord], links: Links
    ) -> None:
        super().__init__()
        self.node_id = node_id
        self.generation = generation
        self.events = events
        self.runs = runs
        self.links = links


class PageRead(Message):
    """The page a paging node (`node_id`) asked for."""

    def __init__(self, node_id: NodeID, events: list[EventRecord], forward: bool, has_more: bool, links: Links) -> None:
        super().__init__()
        self.node_id = node_id
        self.events = events
        self.forward = forward
        self.has_more = has_more
        self.links = links


class Revealed(Message):
    """The levels down to an event being revealed."""

    def __init__(self, run_id: str, levels: list[Level]) -> None:
        super().__init__()
        self.run_id = run_id
        self.levels = levels
