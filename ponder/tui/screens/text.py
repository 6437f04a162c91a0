"""A modal with the full text of a detail tab (shown on demand; the tabs show a preview)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from ponder.tui.widgets.safe import clean


class FullTextScreen(ModalScreen[None]):
    """The whole text in a read-only TextArea (line-based, so megabytes stay responsive)."""

    BINDINGS: ClassVar = [Binding("escape,q", "close", "Close", id="text.close")]

    def __init__(self, title: str, text: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.title_text = title
        self.text = clean(text)

    def compose(self) -> ComposeResult:
        with Vertical(id="full-text-box"):
            yield Label(clean(self.title_text), id="full-text-title", markup=False)
            yield TextArea(self.text, read_only=True, soft_wrap=True, id="full-text")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.cursor_blink = False
        area.focus()

    def action_close(self) -> None:
        self.dismiss()
