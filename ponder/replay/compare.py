"""Comparing a re-run with its recording: events in canonical order and the first `Divergence`.

Events are compared in a canonical order: by (branch, seq) within each run. Concurrent
branches interleave differently from one execution to the next, but the branch path an
event was written from is deterministic, and so is the order within one branch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ponder.traces.events import RunRecord
from ponder.traces.kinds import kind_spec
from ponder.traces.store import TraceStore

COMPARED = ("kind", "label", "status", "summary", "score", "parent", "data")
# event data that differs from one execution to the next by nature (timings, ids of rows and runs);
# a kind adds its own (`declare_kind(volatile=...)`: what a provider assigns)
VOLATILE_DATA = frozenset(
    {"latency_ms", "duration_ms", "elapsed_ms", "elapsed_s", "run_id", "ids", "started_at", "ended_at"}
)


def stable_data(data: dict[str, Any] | None, kind: str) -> str | None:
    """An event's data as compared: canonical JSON without the volatile keys, the kind's own included
    (None when nothing is left)."""
    if not data:
        return None
    volatile = kind_spec(kind).volatile
    kept = {k: v for k, v in data.items() if k not in VOLATILE_DATA and k not in volatile}
    return json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str) if kept else None


@dataclass(frozen=True)
class EventView:
    """One event as replay compares it: `parent` is the parent's position in canonical order."""

    index: int
    seq: int
    branch: str
    kind: str
    label: str
    summary: str
    status: str
    score: float | None
    parent: int | None
    data: str | None = None

    def key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in COMPARED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "seq": self.seq,
            "branch": self.branch,
            "kind": self.kind,
            "label": self.label,
            "summary": self.summary,
            "status": self.status,
            "score": self.score,
            "parent": self.parent,
            "data": None if self.data is None else json.loads(self.data),
        }

    def describe(self) -> str:
        score = f" score={self.score:g}" if self.score is not None else ""
        parent = f" under #{self.parent}" if self.parent is not None else ""
        branch = f" branch {self.branch!r}" if self.branch else ""
        text = self.summary if len(self.summary) <= 120 else self.summary[:119] + "…"
        return f"{self.kind} {self.label!r} [{self.status}]{score}{parent}{branch}: {text!r}"


def canonical_events(store: TraceStore, run_id: str) -> list[EventView]:
    """A run's events sorted by (branch, seq), numbered from 1, parents given by position."""
    events = sorted(store.iter_events(run_id, with_data=True), key=lambda e: (e.branch, e.seq))
    position = {e.seq: i for i, e in enumerate(events, 1)}
    return [
        EventView(
            index=i,
            seq=e.seq,
            branch=e.branch,
            kind=e.kind,
            label=e.label,
            summary=e.summary,
            status=e.status,
            score=e.score,
            parent=None if e.parent_seq is None else position.get(e.parent_seq, -e.parent_seq),
            data=stable_data(e.data, e.kind),
        )
        for i, e in enumerate(events, 1)
    ]


@dataclass
class Divergence:
    """Where a re-run first differs from its recording.

    index: the 1-based position of the first differing event in canonical order
        (None when the events agree and the run's outcome or child runs differ).
    miss: when the re-run asked for a completion that was never recorded, the miss
        message with the diff of the request against the closest recorded one.
    """

    run_id: str
    new_run_id: str
    what: str
    index: int | None = None
    field: str | None = None
    recorded: Any = None
    new: Any = None
    path: str = ""
    miss: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return v.to_dict() if isinstance(v, EventView) else v

        return {
            "run_id": self.run_id,
            "new_run_id": self.new_run_id,
            "path": self.path,
            "what": self.what,
            "index": self.index,
            "field": self.field,
            "recorded": plain(self.recorded),
            "new": plain(self.new),
            "miss": self.miss,
            "error": self.error,
        }

    def render(self) -> str:
        where = f" in child run {self.path!r} ({self.run_id})" if self.path else ""
        if self.index is not None:
            head = f"divergence at event {self.index}{where}: {self.what}"
            if self.field:
                head += f" ({self.field} differs)"
        else:
            head = f"divergence{where}: {self.what}"
        lines = [head]

        def show(v: Any) -> str:
            if isinstance(v, EventView):
                return f"{v.describe()} (seq {v.seq})"
            return "(none)" if v is None else repr(v)

        lines.append(f"  recorded: {show(self.recorded)}")
        lines.append(f"  new:      {show(self.new)}")
        if self.field == "data" and isinstance(self.recorded, EventView) and isinstance(self.new, EventView):
            lines.append(f"  recorded data: {self.recorded.data}")
            lines.append(f"  new data:      {self.new.data}")
        if self.miss:
            lines.append("cause: the re-run asked for a completion that was never recorded (ReplayMiss)")
            lines.extend("  " + line for line in self.miss.splitlines())
        elif self.error:
            lines.append(f"the re-run failed: {self.error}")
        return "\n".join(lines)


def outcome_status(run: RunRecord) -> str:
    """The run's status as replay compares it: a run that finished `ok` with no answer is `error`.

    Older ponder recorded a run that ended without an answer (a ReAct run out of steps)
    as `ok`; it now records it as `error` ("no answer: ..."). Its events are the same either
    way (the `answer` event was already an error), so a recording made before the change is
    read as what ponder records for it now, and still replays identical.
    """
    return "error" if run.status == "ok" and run.answer is None else run.status


def _legacy_no_answer(run: RunRecord) -> bool:
    return run.status == "ok" and run.answer is None


def _first_difference(a: EventView, b: EventView) -> str:
    return next(f for f in COMPARED if getattr(a, f) != getattr(b, f))


def compare_runs(
    rec_store: TraceStore, rec_id: str, new_store: TraceStore, new_id: str, *, path: str = ""
) -> Divergence | None:
    """The first difference between two runs (events, then outcome, then child runs), or None."""
    old, new = canonical_events(rec_store, rec_id), canonical_events(new_store, new_id)
    for a, b in zip(old, new, strict=False):
        if a.key() != b.key():
            field_ = _first_difference(a, b)
            return Divergence(rec_id, new_id, "events differ", a.index, field_, a, b, path)
    if len(old) != len(new):
        i = min(len(old), len(new))
        if len(old) > len(new):
            return Divergence(rec_id, new_id, "the re-run stopped early", i + 1, None, old[i], None, path)
        return Divergence(rec_id, new_id, "the re-run wrote more events", i + 1, None, None, new[i], path)
    r_old, r_new = rec_store.get_run(rec_id), new_store.get_run(new_id)
    if outcome_status(r_old) != outcome_status(r_new):
        return Divergence(rec_id, new_id, "the run's status differs", None, "status", r_old.status, r_new.status, path)
    for f in ("answer", "correct", "score"):
        if getattr(r_old, f) != getattr(r_new, f):
            return Divergence(
                rec_id, new_id, f"the run's {f} differs", None, f, getattr(r_old, f), getattr(r_new, f), path
            )
    kids_old = sorted(rec_store.child_runs(rec_id), key=lambda r: (r.branch, r.started_at))
    kids_new = sorted(new_store.child_runs(new_id), key=lambda r: (r.branch, r.started_at))
    if [k.branch for k in kids_old] != [k.branch for k in kids_new]:
        return Divergence(
            rec_id,
            new_id,
            "child runs differ",
            None,
            "child runs",
            [k.branch for k in kids_old],
            [k.branch for k in kids_new],
            path,
        )
    for ko, kn in zip(kids_old, kids_new, strict=True):
        if ko.agent != kn.agent:
            return Divergence(ko.id, kn.id, "child run agent differs", None, "agent", ko.agent, kn.agent, ko.branch)
        d = compare_runs(rec_store, ko.id, new_store, kn.id, path=ko.branch)
        if d is not None:
            return d
    return None


def assert_same_events(rec_store: TraceStore, rec_id: str, new_store: TraceStore, new_id: str) -> None:
    """Assert that run `new_id` did exactly what recorded run `rec_id` did (events, outcome, child runs)."""
    d = compare_runs(rec_store, rec_id, new_store, new_id)
    if d is not None:
        raise AssertionError(d.render())
