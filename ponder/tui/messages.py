"""Messages screens and the command palette post up to the app (which owns navigation)."""

from __future__ import annotations

from textual.message import Message


class OpenRun(Message):
    """Open the run screen for `run_id` (optionally at event `seq`)."""

    def __init__(self, run_id: str, seq: int | None = None) -> None:
        super().__init__()
        self.run_id = run_id
        self.seq = seq


class SwitchDb(Message):
    """Show another trace database (`path`); the app checks it first and keeps the current one on error."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class FilterExperiment(Message):
    """Show only the runs of experiment `experiment_id` in the runs list."""

    def __init__(self, experiment_id: str) -> None:
        super().__init__()
        self.experiment_id = experiment_id


class JumpTo(Message):
    """Move the run screen's replay cursor to event `seq`."""

    def __init__(self, seq: int) -> None:
        super().__init__()
        self.seq = seq


class OpenExperiments(Message):
    """Show the experiments view."""


class OpenCompare(Message):
    """Show runs `run_a` and `run_b` side by side."""

    def __init__(self, run_a: str, run_b: str) -> None:
        super().__init__()
        self.run_a = run_a
        self.run_b = run_b
