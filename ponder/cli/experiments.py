"""Experiments: `merge` of sharded sweeps, `compare` and `plot` (`ponder bench` is `cli/bench.py`)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ponder._util.text import safe_text
from ponder.cli._common import (
    DbOpt,
    JsonOpt,
    handles_errors,
    open_store,
    out,
    print_json,
)
from ponder.errors import ConfigError
from ponder.traces.store import TraceStore


def _new_paths(output: Path) -> list[Path]:
    """The paths a store at `output` would create that do not exist yet: the file, its -wal/-shm, its folders."""
    path = output.expanduser().absolute()
    if path.exists():
        return []
    made = [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    folder = path.parent
    while not folder.exists():
        made.append(folder)
        folder = folder.parent
    return made


def _remove_new(made: list[Path]) -> None:
    """Remove what `_new_paths` listed (files first, then the folders, innermost first), once closed."""
    for p in made:
        if p.is_file():
            p.unlink(missing_ok=True)
    for p in made:
        if p.is_dir():
            with contextlib.suppress(OSError):  # something else was put there meanwhile: keep it
                p.rmdir()


@handles_errors
def merge(
    shards: Annotated[list[Path], typer.Argument(help="Trace databases to merge (the shards of a sweep).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The database to merge into (created if missing).")],
    as_json: JsonOpt = False,
) -> None:
    """Merge trace databases into one (every run, event, call and memory row, ids kept); merging again adds nothing."""
    from ponder.traces.store import MergeReport

    out_path = output.expanduser().resolve()
    for s in shards:
        if s.expanduser().resolve() == out_path:
            raise ConfigError(f"{s} is also the output; merge into another file")
    sources = [TraceStore(s, readonly=True) for s in shards]
    total = MergeReport()
    made = _new_paths(output)  # what a failed merge must not leave behind
    try:
        with TraceStore(output) as target, target.atomic():  # all the sources or none
            for src in sources:
                total = total + target.merge_from(src)
                src.close()
    except BaseException:
        _remove_new(made)
        raise
    if as_json:
        print_json(total.model_dump())
        return
    out.print(
        Text(
            f"merged {len(shards)} store{'s' * (len(shards) != 1)} into {output}: {total.runs} runs, "
            f"{total.events} events, {total.llm_calls} llm calls, {total.tool_calls} tool calls, "
            f"{total.memory} memory rows, {total.experiments} experiments added; "
            f"{total.skipped_runs} runs were already there"
            + (f"; {total.replaced_runs} unfinished runs replaced by their newer rows" if total.replaced_runs else "")
        )
    )


@handles_errors
def compare(
    exp_ids: Annotated[list[str], typer.Argument(help="Two or more experiment ids.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Experiments side by side: a row per figure ("–" where one does not apply); the tasks one solved, another not."""
    from ponder.experiments.comparison import compare as compare_experiments

    if len(set(exp_ids)) < 2:
        raise ConfigError("give at least two different experiment ids to compare")
    comparison = compare_experiments(exp_ids, open_store(db, readonly=True))
    if as_json:
        print_json(comparison.to_dict())
        return
    table = Table(box=None, header_style="bold")
    table.add_column("", no_wrap=True)
    for e in comparison.experiments:
        table.add_column(e.id)
    for row in comparison.rows:
        table.add_row(row.label, *(Text("–" if v is None else safe_text(v)) for v in row.values))
    out.print(table)
    for p in comparison.solved_by_one_only:
        tasks = ", ".join(p["tasks"][:20]) + (f" … (+{len(p['tasks']) - 20})" if len(p["tasks"]) > 20 else "")
        out.print(Text(f"solved by {p['solved_by']}, not by {p['not_by']} ({len(p['tasks'])}): {tasks or '—'}"))


@handles_errors
def plot(
    exp_ids: Annotated[list[str], typer.Argument(help="Experiment ids (one point each).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The chart file: .png or .svg.")],
    title: Annotated[str | None, typer.Option("--title", help="Chart title.")] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="An env metric to plot (its mean per task, e.g. errors) instead of accuracy."),
    ] = None,
    better: Annotated[
        str | None,
        typer.Option("--better", help="higher or lower: which way the metric is better (default: lower for errors)."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Chart accuracy (or an env metric's mean: --metric errors) against tokens per task, one point per
    experiment, the Pareto front marked; an experiment with failed tasks says how many in its label."""
    from ponder.experiments.plot import pareto_front, plot_experiments
    from ponder.experiments.results import Experiment

    if better not in (None, "higher", "lower"):
        raise ConfigError(f"--better {better!r}: say higher or lower")
    store = open_store(db, create=False)
    exps = [Experiment.load(store, e) for e in dict.fromkeys(exp_ids)]
    higher = None if better is None else better == "higher"
    points = plot_experiments(exps, output, title=title, metric=metric, higher_is_better=higher)
    front = {points[i].experiment_id for i in pareto_front(points)}
    if as_json:
        rows = [{**vars(p), "pareto": p.experiment_id in front} for p in points]
        print_json({"output": str(output), "points": rows})
        return
    out.print(Text(f"wrote {output}: {len(points)} experiments, Pareto front: {', '.join(sorted(front))}"))
