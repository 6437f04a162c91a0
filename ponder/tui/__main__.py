"""`python -m ponder.tui [DB] [RUN_ID]`: what `ponder tui --serve` runs for each browser session."""

from __future__ import annotations

import sys

from ponder.traces.store import default_db_path
from ponder.tui.app import run_tui

if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(run_tui(args[0] if args else default_db_path(), run_id=args[1] if len(args) > 1 else None))
