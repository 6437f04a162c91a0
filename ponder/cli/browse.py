"""`ponder tui`: browse and replay runs in the Textual TUI, in a terminal or served to a browser."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ponder.cli._common import DbOpt, handles_errors, out
from ponder.errors import ConfigError
from ponder.traces.store import TraceStore, default_db_path


@handles_errors
def tui(
    db_arg: Annotated[Path | None, typer.Argument(metavar="[DB]", help="Trace database (same as --db).")] = None,
    db: DbOpt = None,
    serve: Annotated[bool, typer.Option("--serve", help="Serve the TUI to a browser on localhost.")] = False,
    port: Annotated[
        int,
        typer.Option(
            "--port", help="Port for --serve, on 127.0.0.1 (default 8842; 0 picks a free one).", min=0, max=65535
        ),
    ] = 8842,
) -> None:
    """Browse runs, replay a trace step by step, or ask a question live (Textual TUI)."""
    if db_arg is not None and db is not None and db_arg.expanduser().resolve() != db.expanduser().resolve():
        raise ConfigError(f"two trace databases given ({db_arg} and --db {db}); give one")
    path = (db_arg or db or default_db_path()).expanduser()
    if path.exists():
        TraceStore(path, readonly=True).close()  # a corrupt or foreign file: one clear line, exit 2
    if serve:
        try:
            from ponder.tui.serve import TuiServer, bind
        except ImportError:
            raise ConfigError('--serve needs textual-serve: pip install -e ".[serve]"') from None
        command = f"{shlex.quote(sys.executable)} -m ponder.tui {shlex.quote(str(path))}"
        server = TuiServer(command, bind(port))  # a busy port: one line, exit 2, before anything is printed
        out.print(Text(f"serving the ponder TUI on {server.url} (ctrl+c stops)"))
        server.serve()
        return
    from ponder.tui import run_tui  # only `ponder tui` imports textual

    code = run_tui(path)
    if code:
        raise typer.Exit(code)
