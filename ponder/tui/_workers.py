"""Turn a failed worker into a notification (workers run with `exit_on_error=False`)."""

from __future__ import annotations

from typing import Any

from textual.worker import Worker, WorkerState

from ponder.tui.widgets.safe import one_line


class ReportsWorkerErrors:
    """Mixin for widgets and screens: a worker that raised is shown as an error toast, not a crash."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error: Any = event.worker.error
            app = self.app  # type: ignore[attr-defined]
            app.notify(one_line(error, 300), title=type(error).__name__, severity="error", timeout=8, markup=False)
