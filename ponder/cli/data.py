"""Experiment data out: `ponder experiments` (the list, filtered) and `ponder export EXP --csv`."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.text import Text

from ponder._util.columns import Column, fitted_table
from ponder._util.text import safe_text
from ponder.cli._common import DbOpt, JsonOpt, _cell, _id_cell, err, handles_errors, open_store, out, print_json
from ponder.errors import ConfigError
from ponder.experiments.labels import agent_label


def _matches(row: dict[str, Any], agent: str | None, env: str | None, name: str | None) -> bool:
    c = row["config"]
    label = agent_label(c.get("agent"), c.get("agent_config"))
    # an agent filter matches the strategy or an inner agent: `react` finds self_consistency(react)
    if agent is not None and agent not in label.replace(")", "(").split("("):
        return False
    if env is not None and c.get("env") != env:
        return False
    return name is None or name.casefold() in str(row["name"]).casefold()


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    c = row["config"]
    return {
        "id": row["id"],
        "name": row["name"],
        "created_at": row["created_at"],
        "agent": c.get("agent"),
        "agent_label": agent_label(c.get("agent"), c.get("agent_config")),
        "env": c.get("env"),
        "backend": c.get("backend"),
        "model": c.get("model"),
        "tasks": row["tasks"],
        "correct": row["correct"],
        "runs": row["runs"],
        "config": c,
    }


@handles_errors
def experiments_cmd(
    agent: Annotated[
        str | None,
        typer.Option("--agent", "-a", help="Only this strategy (or inner agent: react finds SC over react)."),
    ] = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only experiments on this env.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only names containing this (any case).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many, newest first.", min=1)] = 50,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List experiments, newest first: agent, env, model, tasks and how many were right."""
    store = open_store(db, readonly=True)
    rows = [_listed(r) for r in store.list_experiments() if _matches(r, agent, env, name)][:limit]
    if as_json:
        print_json(rows)
        return
    if not rows:
        err.print(f"no experiments{' match' if agent or env or name else ''} in {store.path}")
        return

    def created(t: float) -> str:
        return dt.datetime.fromtimestamp(t).strftime("%m-%d %H:%M")

    cols = [
        Column("id", [Text(_id_cell(r["id"], out.width)) for r in rows], priority=0),
        Column("created", [Text(created(r["created_at"])) for r in rows], priority=6),
        Column("agent", [_cell(r["agent_label"]) for r in rows], priority=1, max_width=40),
        Column("env", [_cell(r["env"] or "") for r in rows], priority=2, max_width=24),
        Column("model", [_cell(f"{r['backend']}:{r['model']}") for r in rows], priority=5, max_width=32),
        Column("tasks", [Text(str(r["tasks"])) for r in rows], priority=3, justify="right"),
        Column("correct", [Text(str(r["correct"])) for r in rows], priority=4, justify="right"),
        Column("runs", [Text(str(r["runs"])) for r in rows], priority=8, justify="right"),
        Column("name", [_cell(r["name"]) for r in rows], priority=7, flex=True, min_width=12, max_width=60),
    ]
    out.print(fitted_table(cols, out.width))


def write_csv(rows: list[dict[str, Any]], stream: TextIO) -> None:
    """`rows` as CSV with a header; text made safe to print (control sequences out, secrets redacted)."""
    if not rows:
        return
    writer = csv.DictWriter(stream, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_text(v) if isinstance(v, str) else v for k, v in row.items()})


def export_csv(exp_id: str, db: Path | None, output: Path | None) -> None:
    """`ponder export EXP --csv`: one row per task, the experiment's agent, config, model and env on each."""
    from ponder.experiments.results import Experiment

    store = open_store(db, readonly=True)
    exp = Experiment.load(store, exp_id)
    rows = exp.to_rows()
    if output is None:
        write_csv(rows, sys.stdout)
        return
    try:
        with output.open("w", encoding="utf-8", newline="") as f:
            write_csv(rows, f)
    except OSError as e:
        raise ConfigError(f"cannot write {output}: {e.strerror or e}") from None
    out.print(Text(f"wrote {output}: {len(rows)} tasks of experiment {exp.id}"))
