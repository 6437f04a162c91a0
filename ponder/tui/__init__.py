"""The Textual TUI (imported only by `ponder tui`)."""
