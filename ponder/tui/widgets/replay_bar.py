"""`ReplayBar`: the replay position, play state, speed and a progress bar."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class ReplayBar(Horizontal):
    """Set `position`, `total`, `playing` and `speed`; it redraws itself."""

    position: reactive[int] = reactive(0)
    total: reactive[int] = reactive(0)
    playing: reactive[bool] = reactive(False)
    speed: reactive[float] = reactive(1.0)

    def compose(self) -> ComposeResult:
        yield Label("", id="replay-state")
        yield Label("", id="replay-position")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="replay-progress")
        yield Label("", id="replay-speed")
        yield Label("space play · ←/→ step · +/- speed · home/end", id="replay-hint")

    def on_mount(self) -> None:
        self._redraw()

    def watch_position(self) -> None:
        self._redraw()

    def watch_total(self) -> None:
        self._redraw()

    def watch_playing(self) -> None:
        self._redraw()

    def watch_speed(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#replay-state", Label).update("▶ playing" if self.playing else "‖ paused")
        self.query_one("#replay-position", Label).update(f"{self.position:,} / {self.total:,}")
        bar = self.query_one(ProgressBar)
        bar.update(total=max(self.total, 1), progress=self.position)
        self.query_one("#replay-speed", Label).update(f"{self.speed:g}×")
