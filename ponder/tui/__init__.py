"""The Textual TUI (imported only by `ponder tui`)."""

from __future__ import annotations

from ponder.tui.app import PonderApp, run_tui

__all__ = ["PonderApp", "run_tui"]
