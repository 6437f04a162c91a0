"""Traces: event models, the SQLite store and the recorder.

The names below are imported on first access (PEP 562): reading the store never loads the recorder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.traces.events import EventRecord, LLMCallRecord, MemoryRecord, RunRecord, ToolCallRecord
    from ponder.traces.recorder import Recorder
    from ponder.traces.store import TraceStore, default_db_path

_LAZY = {
    "EventRecord": "ponder.traces.events",
    "LLMCallRecord": "ponder.traces.events",
    "MemoryRecord": "ponder.traces.events",
    "Recorder": "ponder.traces.recorder",
    "RunRecord": "ponder.traces.events",
    "ToolCallRecord": "ponder.traces.events",
    "TraceStore": "ponder.traces.store",
    "default_db_path": "ponder.traces.store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EventRecord",
    "LLMCallRecord",
    "MemoryRecord",
    "Recorder",
    "RunRecord",
    "ToolCallRecord",
    "TraceStore",
    "default_db_path",
]
