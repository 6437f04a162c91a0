"""What the event tree reads from SQLite in its thread workers (a level, a page, a reveal),
and the messages that carry it back to the UI thread.

A level shows a window of at most `PAGE` siblings; revealing an event loads each level on the
way down to it, with `CONTEXT` events of context above it. These functions only read the store
(given the worker's own connection); the tree widget turns their results into nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message
from textual.widgets.tree import NodeID

from ponder.traces.events import EventRecord, RunRecord
from ponder.traces.store import TraceStore
from ponder.tui._data import with_label_data

PAGE = 200
CONTEXT = 20  # events shown above a revealed event in a fresh window


@dataclass
class Level:
    """One level on the way down to a revealed event: its page, or None when it is already shown."""

    parent_seq: int | None
    target: int
    page: list[EventRecord] | None
    earlier: bool


def read_level(
    store: TraceStore, run_id: str, parent_seq: int | None, is_run: bool
) -> tuple[list[EventRecord], list[RunRecord]]:
    """The first page of a level's events, and the run's child runs when the level is a run's top."""
    events = with_label_data(store, store.children(run_id, parent_seq, limit=PAGE))
    runs = store.child_runs(run_id) if is_run else []
    return events, runs


def read_page(
    store: TraceStore, run_id: str, parent_seq: int | None, anchor: int, forward: bool
) -> tuple[list[EventRecord], bool]:
    """The page of a level after (or before) `anchor`, and whether there is more beyond it."""
    if forward:
        events = store.children(run_id, parent_seq, after_seq=anchor, limit=PAGE + 1)
        return with_label_data(store, events[:PAGE]), len(events) > PAGE
    events = store.children_before(run_id, parent_seq, anchor, limit=PAGE + 1)
    return with_label_data(store, events[-PAGE:]), len(events) > PAGE


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
            levels.append(Level(parent, target, with_label_data(store, before + after), earlier))
        parent = target
    return levels


class LevelRead(Message):
    """A level's first page, read for the node `node_id` (at its `generation`)."""

    def __init__(self, node_id: NodeID, generation: int, events: list[EventRecord], runs: list[RunRecord]) -> None:
        super().__init__()
        self.node_id = node_id
        self.generation = generation
        self.events = events
        self.runs = runs


class PageRead(Message):
    """The page a paging node (`node_id`) asked for."""

    def __init__(self, node_id: NodeID, events: list[EventRecord], forward: bool, has_more: bool) -> None:
        super().__init__()
        self.node_id = node_id
        self.events = events
        self.forward = forward
        self.has_more = has_more


class Revealed(Message):
    """The levels down to an event being revealed."""

    def __init__(self, run_id: str, levels: list[Level]) -> None:
        super().__init__()
        self.run_id = run_id
        self.levels = levels
