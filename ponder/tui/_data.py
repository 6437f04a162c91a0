"""Store access for TUI workers: one `TraceStore` connection per (thread, db path).

Textual's thread workers run on a reused pool, so a thread-local connection is opened
once per thread and reused; the UI thread never touches SQLite.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ponder.traces.events import EventRecord, LLMCallRecord, ToolCallRecord
from ponder.traces.kinds import label_data_kinds
from ponder.traces.store import TraceStore

_local = threading.local()


def store_for(path: str) -> TraceStore:
    """This thread's connection to the trace database at `path` (opened on first use, never created)."""
    stores: dict[str, TraceStore] = getattr(_local, "stores", None) or {}
    _local.stores = stores
    s = stores.get(path)
    if s is None:
        s = TraceStore(path, readonly=True)
        stores[path] = s
    return s


@dataclass
class EventDetail:
    """Everything the detail tabs show for one event."""

    event: EventRecord
    llm_call: LLMCallRecord | None = None
    tool_calls: list[ToolCallRecord] = field(default_factory=list)


def load_event_detail(path: str, run_id: str, seq: int) -> EventDetail:
    s = store_for(path)
    return EventDetail(
        event=s.event(run_id, seq),
        llm_call=s.llm_call_for_event(run_id, seq),
        tool_calls=s.tool_calls_for_event(run_id, seq),
    )


def event_json(detail: EventDetail) -> dict[str, Any]:
    """The raw record of an event with its llm and tool calls (what the Raw JSON tab shows)."""
    out: dict[str, Any] = {"event": detail.event.model_dump(mode="json")}
    if detail.llm_call is not None:
        out["llm_call"] = detail.llm_call.model_dump(mode="json")
    if detail.tool_calls:
        out["tool_calls"] = [t.model_dump(mode="json") for t in detail.tool_calls]
    return out


def with_label_data(store: TraceStore, events: list[EventRecord]) -> list[EventRecord]:
    """`events`, with `data` filled in for the kinds whose label needs it."""
    # only those kinds (a vote's tally): other events' data can be large and is read when selected
    need = label_data_kinds()
    return [store.event(e.run_id, e.seq) if e.kind in need and e.data is None else e for e in events]
