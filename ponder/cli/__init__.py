"""`ponder` command line (Typer): parse, call the API, print. Logic lives in the library.

This package wires the commands into one app, in the order `ponder --help` lists them; each
command group lives in its own module.
"""

from __future__ import annotations

import sys

from ponder.cli._common import (
    SQLITE_INT_MAX,
    app,
    check_text_arg,
    err,
    handles_errors,
    make_budget,
    open_store,
    out,
    print_json,
)
from ponder.cli.bench import bench
from ponder.cli.browse import tui
from ponder.cli.catalog import agents, backends, envs
from ponder.cli.corpus import corpus_app, corpus_build, corpus_search
from ponder.cli.data import experiments_cmd
from ponder.cli.experiments import compare, merge, plot
from ponder.cli.forks import diff_cmd, fork_cmd
from ponder.cli.interop import proxy, serve
from ponder.cli.models import models_app
from ponder.cli.otlp import export
from ponder.cli.running import replay, run, runs, show

__all__ = [
    "SQLITE_INT_MAX",
    "agents",
    "app",
    "backends",
    "bench",
    "check_text_arg",
    "compare",
    "corpus_app",
    "corpus_build",
    "corpus_search",
    "diff_cmd",
    "envs",
    "err",
    "experiments_cmd",
    "export",
    "fork_cmd",
    "handles_errors",
    "main",
    "make_budget",
    "merge",
    "models_app",
    "open_store",
    "out",
    "plot",
    "print_json",
    "proxy",
    "replay",
    "run",
    "runs",
    "serve",
    "show",
    "tui",
]

# the order `ponder --help` lists them in
for _name, _command in (
    ("run", run),
    ("runs", runs),
    ("show", show),
    ("agents", agents),
    ("envs", envs),
    ("backends", backends),
    ("bench", bench),
    ("experiments", experiments_cmd),
    ("merge", merge),
    ("export", export),
    ("compare", compare),
    ("plot", plot),
    ("replay", replay),
    ("tui", tui),
    ("fork", fork_cmd),
    ("diff", diff_cmd),
    ("serve", serve),
    ("proxy", proxy),
):
    app.command(_name)(_command)
app.add_typer(corpus_app, name="corpus")
app.add_typer(models_app, name="models")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
