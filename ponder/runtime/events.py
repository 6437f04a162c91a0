"""The event verbs of a `RunContext`: write a step (`event`, or `emit` for typed data), change it
(`update`), close what a stopped run left open, and read a run's events back.

A base class of `RunContext`, kept apart from its calls and structure; it writes through the
run's recorder, which an agent never sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from ponder.errors import ConfigError
from ponder.traces.event_data import EventData
from ponder.traces.events import EventRecord

if TYPE_CHECKING:
    from ponder.runtime.run_state import RunState
    from ponder.traces.recorder import Recorder


def _dumped(data: dict[str, Any] | EventData | None) -> dict[str, Any] | None:
    # typed data is written without its None fields (they read back as None)
    return data.model_dump(mode="json", exclude_none=True) if isinstance(data, EventData) else data


class EventVerbs:
    """`event`, `emit`, `update`, `close_open_events` and `events`: how a strategy records its steps."""

    _recorder: Recorder
    _state: RunState
    parent: int | None
    branch_path: str

    @property
    def run_id(self) -> str:
        """The id of the run this context writes to."""
        return self._recorder.run_id

    def event(
        self,
        kind: str,
        label: str = "",
        summary: str | None = None,
        *,
        parent: int | EllipsisType | None = ...,
        status: str = "ok",
        score: float | None = None,
        data: dict[str, Any] | EventData | None = None,
    ) -> int:
        """Record one step of kind `kind`; its seq. Nested under this context's parent unless `parent` is given.

        status: `running` leaves the event open for `update`. data: what the kind declares (a dict,
        or its typed data; `emit` takes the kind from the data's class).
        """
        seq = self._recorder.event(
            kind,
            label,
            summary,
            parent=self.parent if isinstance(parent, EllipsisType) else parent,
            branch=self.branch_path,
            status=status,
            score=score,
            data=_dumped(data),
        )
        if status == "running":
            self._state.open_events.setdefault(self.run_id, set()).add(seq)
        return seq

    def emit(
        self,
        data: EventData,
        label: str = "",
        summary: str | None = None,
        *,
        parent: int | EllipsisType | None = ...,
        status: str = "ok",
        score: float | None = None,
    ) -> int:
        """Record one step whose kind is the one `data`'s class declares (`class VoteData(EventData,
        kind="vote", ...)`); its seq. The rest is as `event`."""
        kind = type(data).kind
        if kind is None:
            name = type(data).__name__
            raise ConfigError(f"{name} declares no event kind: declare one with class {name}(EventData, kind=...)")
        return self.event(kind, label, summary, parent=parent, status=status, score=score, data=data)

    def update(
        self,
        seq: int,
        *,
        status: str | None = None,
        score: float | None = None,
        summary: str | None = None,
        label: str | None = None,
        data: dict[str, Any] | EventData | None = None,
    ) -> None:
        """Change event `seq` of this run (close it, score it, mark it pruned or chosen); None leaves a field."""
        self._recorder.update(seq, status=status, score=score, summary=summary, label=label, data=_dumped(data))
        if status is not None and status != "running":
            self._state.open_events.get(self.run_id, set()).discard(seq)

    def close_open_events(self, status: str, summary: str) -> None:
        """Close every event of this run still `running` (the run stopped: an error, a timeout, a cancel)."""
        for seq in sorted(self._state.open_events.pop(self.run_id, set())):
            self._recorder.update(seq, status=status, summary=summary)

    def events(self, run_id: str | None = None) -> Iterator[EventRecord]:
        """The events of this run, or of `run_id` (one of this run's child runs), in seq order, with data."""
        rid = self.run_id if run_id is None else run_id
        if rid not in self._state.runs:
            raise ConfigError(f"run {rid} is not this run or one of its child runs; an agent reads only its own")
        return self._recorder.store.iter_events(rid, with_data=True)
