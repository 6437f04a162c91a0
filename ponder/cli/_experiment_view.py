"""How an experiment prints: its per-task table and its summary rows."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from ponder._util.columns import Column, fitted_table
from ponder._util.text import safe_text
from ponder.cli._common import _cell, _id_cell, out


def _print_experiment(exp: Any, max_rows: int = 30) -> None:
    from ponder.experiments.labels import summary_rows
    from ponder.experiments.task_results import error_reason

    shown = exp.results[:max_rows]

    def ok(r: Any) -> Text:
        return Text("✓" if r.correct else ("✗" if r.correct is False or r.status != "ok" else ""))

    def answer(r: Any) -> Text:
        if r.status != "ok":
            return Text(safe_text(error_reason(r.error, 60)), style="red")
        return _cell("" if r.answer is None else r.answer)

    cols = [
        Column("task", [_cell(r.task_id) for r in shown], priority=1, flex=True, min_width=8, max_width=24),
        Column("run", [Text(_id_cell(r.run_id, out.width)) for r in shown], priority=6),
        Column("status", [Text(r.status) for r in shown], priority=2),
        Column("answer", [answer(r) for r in shown], priority=3, flex=True, min_width=8, max_width=40),
        Column("expected", [_cell("" if r.expected is None else r.expected) for r in shown], 4, True, 8, 24),
        Column("ok", [ok(r) for r in shown], priority=0),
        Column("calls", [Text(str(r.calls)) for r in shown], priority=7, justify="right"),
        Column("tokens", [Text(str(r.prompt_tokens + r.completion_tokens)) for r in shown], 5, justify="right"),
        Column("s", [Text("" if r.latency_s is None else f"{r.latency_s:.2f}") for r in shown], 8, justify="right"),
    ]
    tasks = fitted_table(cols, out.width, title=safe_text(f"experiment {exp.id} — {exp.name}"))
    out.print(tasks)
    if len(exp.results) > max_rows:
        out.print(Text(f"… {len(exp.results) - max_rows} more tasks (--json for all)", style="dim"))
    summary = Table(box=None, show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    for row in summary_rows(exp):
        summary.add_row(row.label, Text(safe_text(row.text)))
    out.print(summary)
    if exp.summary.cut_tasks:
        n = exp.summary.cut_tasks
        out.print(
            Text(
                f"{n} task{'s' if n > 1 else ''} had a completion cut at max_tokens (judged as it stands): "
                "`--set max_tokens=N` gives the agent more; `ponder show RUN` shows where it stopped",
                style="yellow",
            )
        )
