"""Messages screens post up to the app (which owns navigation)."""

from __future__ import annotations

from textual.message import Message


class OpenRun(Message):
    """Open the run screen for `run_id` (optionally at event `seq`)."""

    def __init__(self, run_id: str, seq: int | None = None) -> None:
        super().__init__()
        self.run_id = run_id
        self.seq = seq
