"""The one way the TUI turns untrusted text (model output, tool results, stored labels) into something to draw.

Model text is never parsed as Rich markup (`Finish[yes]`, `Lookup[/etc/passwd]` are
text) and terminal control sequences are made visible (`\\x1b[31m`), so nothing a model
writes can restyle or break the screen.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from ponder._util.text import safe_text

# what a detail pane shows before "full text" is asked for
PREVIEW_CHARS = 6_000


def clean(s: object) -> str:
    """`s` as a string with ANSI/control sequences made visible as `\\x1b[…` (newlines and tabs kept)."""
    # "\x1b" rather than the control picture "␛", which browsers (ponder tui --serve) draw as an empty box
    return safe_text("" if s is None else s, visible=True).replace("␛", "\\x1b")


def safe(s: object, style: str = "") -> Text:
    """A `Text` of `s`, cleaned, never interpreted as markup."""
    return Text(clean(s), style=style)


def one_line(s: object, limit: int = 80) -> str:
    """`s` cleaned and squeezed onto one line of at most `limit` characters."""
    flat = " ".join(clean(s).split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def preview(s: str, limit: int = PREVIEW_CHARS) -> tuple[str, bool]:
    """The first `limit` characters of `s` and whether it was cut."""
    if len(s) <= limit:
        return s, False
    return s[:limit], True


def to_json(obj: Any) -> str:
    """Pretty JSON of stored data (non-ASCII kept, unknown objects as strings)."""
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)
