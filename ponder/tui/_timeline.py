"""Replay at the recorded pace: a run's event start times as a clock, and moves by level and branch.

The pure parts (`Timeline`) are tested directly; the store reads (`load_timeline`,
`next_on_level`, `next_branch`) run in the screen's thread workers.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from ponder.traces.store import TraceStore

# a pause longer than this (a slow model call, a person away) plays as this long
MAX_GAP_S = 3.0
_PAGE = 5_000


@dataclass(frozen=True)
class Timeline:
    """`at[i]`: when event seq `i + 1` started, in replay seconds from the first event (long gaps shortened)."""

    at: tuple[float, ...]

    @classmethod
    def from_starts(cls, starts: list[float], max_gap: float = MAX_GAP_S) -> Timeline:
        """From the recorded start times in seq order (out-of-order times, from concurrent branches, count as 0)."""
        at: list[float] = []
        t = 0.0
        for prev, cur in zip([starts[0], *starts[:-1]], starts, strict=True) if starts else []:
            t += min(max(cur - prev, 0.0), max_gap)
            at.append(t)
        return cls(tuple(at))

    def time_of(self, seq: int) -> float:
        """Replay time of event `seq` (0 before the first)."""
        return self.at[min(seq, len(self.at)) - 1] if seq >= 1 and self.at else 0.0

    def seq_at(self, t: float) -> int:
        """The last event that has started by replay time `t` (0: none yet)."""
        return bisect_right(self.at, t)


def load_timeline(store: TraceStore, run_id: str) -> Timeline:
    """The run's event start times, read a page at a time (the times only, not the event rows)."""
    starts: list[float] = []
    after = 0
    while True:
        page = store.event_starts(run_id, after_seq=after, limit=_PAGE)
        starts += [t for _, t in page]
        if len(page) < _PAGE:
            return Timeline.from_starts(starts)
        after = page[-1][0]


def next_on_level(store: TraceStore, run_id: str, seq: int, forward: bool) -> int | None:
    """The next (previous) event at the same level as `seq`, skipping subtrees; past the level's end, the
    parent's next sibling; going back past its start, the parent. None when there is nowhere to go."""
    if seq < 1:
        first = store.children(run_id, None, limit=1)
        return first[0].seq if first and forward else None
    ev = store.event(run_id, seq)
    while True:
        if forward:
            after = store.children(run_id, ev.parent_seq, after_seq=ev.seq, limit=1)
            if after:
                return after[0].seq
            if ev.parent_seq is None:
                return None
            ev = store.event(run_id, ev.parent_seq)
        else:
            before = store.children_before(run_id, ev.parent_seq, ev.seq, limit=1)
            if before:
                return before[-1].seq
            return ev.parent_seq


def next_branch(store: TraceStore, run_id: str, seq: int, *, pages: int = 20) -> int | None:
    """The first event after `seq` written from another branch (a sibling SC path, ToT subtree, …)."""
    branch = store.event(run_id, seq).branch if seq >= 1 else None
    after = seq
    for _ in range(pages):
        page = store.event_branches(run_id, after_seq=after, limit=500)
        for s, b in page:
            if b != branch:
                return s
        if len(page) < 500:
            return None
        after = page[-1][0]
    return None


def chosen_leaf(store: TraceStore, run_id: str, *, limit: int = 2_000) -> int | None:
    """The deepest event of the chosen path (status `chosen` at each level, from the top); None if none is chosen."""
    parent: int | None = None
    found: int | None = None
    for _ in range(1_000):  # a bound on depth
        kids = store.children(run_id, parent, limit=limit)
        chosen = [k for k in kids if k.status == "chosen"]
        if not chosen:
            return found
        found = parent = chosen[-1].seq
    return found
