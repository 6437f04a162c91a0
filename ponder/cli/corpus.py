"""`ponder corpus`: build and query the search corpora behind ReAct's search/lookup tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ponder._util.text import safe_text
from ponder.cli._common import JsonOpt, err, handles_errors, out, print_json
from ponder.errors import ConfigError
from ponder.traces.store import default_db_path

corpus_app = typer.Typer(help="Build and query search corpora (ReAct's search/lookup tools).", no_args_is_help=True)
CorpusDbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Corpus database (default: corpus.db beside the trace db, where ReAct looks)."),
]


def _corpus_db(db: Path | None) -> Path:
    return db or default_db_path().parent / "corpus.db"


@corpus_app.command("build")
@handles_errors
def corpus_build(
    file: Annotated[Path, typer.Argument(help='JSONL file, one {"title": ..., "text": ...} per line.')],
    db: CorpusDbOpt = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Load the file from its start, even if a build of it finished or stopped.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build (or add to) a corpus from JSONL, thousands of pages per transaction; an interrupted build
    goes on where it stopped when run again. Bad lines are skipped, counted and reported."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from ponder.tools.search import build_corpus

    columns = (
        TextColumn("[bold]corpus"),
        BarColumn(bar_width=20),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[pages]:,} pages"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, disable=as_json or not err.is_terminal, transient=True) as bar:
        task = bar.add_task("build", total=None, pages=0)

        def progress(done: int, total: int, pages: int) -> None:
            bar.update(task, completed=done, total=total, pages=pages)

        report = build_corpus(file, _corpus_db(db), restart=restart, progress=progress)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        out.print(Text(safe_text(report.summary())))
    if report.added + report.replaced == 0 and not report.already_built:
        raise ConfigError(f"no usable lines in {file}; each line must be a JSON object with 'title' and 'text'")


@corpus_app.command("search")
@handles_errors
def corpus_search(
    entity: Annotated[str, typer.Argument(help="What to search for, as ReAct's search[entity].")],
    db: CorpusDbOpt = None,
) -> None:
    """Show what search[entity] answers from a corpus (the shipped example one if none is built)."""
    import asyncio

    from ponder.tools.search import SearchTool, open_corpus

    path = _corpus_db(db)
    corpus = open_corpus(path if db is not None or path.is_file() else None)
    out.print(Text(safe_text(asyncio.run(SearchTool(corpus).acall(entity)))))
