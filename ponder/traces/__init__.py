"""Traces: event models, the SQLite store, the recorder and exports."""

from ponder.traces.events import EventRecord, LLMCallRecord, MemoryRecord, RunRecord, ToolCallRecord
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore, default_db_path

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
