"""The fork editor: a step's response (or tool result) in a TextArea; saving forks the run there with the edit."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from ponder.tui.widgets.safe import clean


class ForkEditScreen(ModalScreen[str | None]):
    """Edit `text` (what event `seq` returned); `ctrl+s` dismisses with the edit, `escape` with None."""

    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Fork with this", priority=True, id="fork.save"),
        Binding("ctrl+a", "select_all", "Select all", priority=True, id="fork.select_all"),
        Binding("escape", "cancel", "Cancel", id="fork.cancel"),
    ]

    def __init__(self, run_id: str, seq: int, what: str, text: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.run_id = run_id
        self.seq = seq
        self.what = what
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="fork-box"):
            yield Label(
                clean(
                    f"fork run {self.run_id[:8]} at event #{self.seq}: edit the {self.what}"
                    " (ctrl+a selects all), ctrl+s to run the fork"
                ),
                id="fork-title",
                markup=False,
            )
            yield TextArea(clean(self.text), soft_wrap=True, id="fork-text")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.cursor_blink = False
        area.focus()

    def action_select_all(self) -> None:
        """Select the whole text, to replace it."""
        self.query_one(TextArea).select_all()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)
