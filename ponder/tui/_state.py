"""What the TUI remembers between sessions: the live screen's last agent, backend, model, base URL and options.

A small JSON file in the user's data dir (`$PONDER_TUI_STATE` overrides the path). A missing
or unreadable file means the defaults; no API key is ever part of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError


class LiveChoices(BaseModel):
    """The live screen's fields as last used."""

    agent: str | None = None
    backend: str | None = None
    model: str = ""
    base_url: str = ""
    options: str = ""


def state_path() -> Path:
    """`$PONDER_TUI_STATE`, else `tui.json` in the user data dir (~/.local/share/ponder)."""
    env = os.environ.get("PONDER_TUI_STATE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("ponder", appauthor=False)) / "tui.json"


def load_choices(path: Path | None = None) -> LiveChoices:
    """The remembered choices (defaults when there are none or the file is unreadable)."""
    try:
        return LiveChoices.model_validate(json.loads((path or state_path()).read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return LiveChoices()


def save_choices(choices: LiveChoices, path: Path | None = None) -> None:
    """Remember `choices` (best effort: a read-only home must not stop a run)."""
    p = path or state_path()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(choices.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(p)
    except OSError:
        pass
