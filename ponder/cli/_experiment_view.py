"""How an experiment prints: its per-task table and its summary rows."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from ponder._columns import Column, fitted_table
from ponder._text import safe_text
from ponder.cli._common import _cell, _id_cell, out


def _summary_rows(exp: Any) -> list[tuple[str, str]]:
    s = exp.summary
    cost = "unknown" if s.cost_usd is None else f"${s.cost_usd:.6f}"

    def num(v: float | None, fmt: str = ".3f") -> str:
        return "–" if v is None else format(v, fmt)

    return [
        ("agent", str(exp.config.get("agent"))),
        ("env", str(exp.config.get("env"))),
        ("model", f"{exp.config.get('backend')}:{exp.config.get('model')}"),
        ("tasks", str(s.n)),
        (s.metric if s.oracle_kind is None else f"{s.metric} (top-1 / majority)", num(s.value)),
        *([(f"{s.oracle_kind} (oracle)", num(s.oracle_accuracy))] if s.oracle_kind else []),
        ("correct", str(s.correct)),
        ("errors", s.errors_text()),
        ("calls", str(s.calls)),
        ("tokens", f"{s.prompt_tokens} + {s.completion_tokens}"),
        (f"{s.metric} / 1k tokens", num(s.per_1k_tokens, ".4f")),
        ("budget / task", _budget_text(exp.config.get("budget"))),
        ("cost", cost),
        ("wall", f"{s.wall_s:.2f} s"),
        ("latency p50 / p95", f"{num(s.p50_s, '.2f')} / {num(s.p95_s, '.2f')} s"),
        *((k, num(v)) for k, v in s.pass_at_k.items()),
        *((f"{k} mean / median", f"{num(v['mean'])} / {num(v['median'])}") for k, v in s.metrics.items()),
    ]


def _budget_text(budget: dict[str, Any] | None) -> str:
    parts = [
        f"{v} {label}"
        for key, label in (("max_calls", "calls"), ("max_tokens", "tokens"), ("timeout_s", "s"))
        if (v := (budget or {}).get(key)) is not None
    ]
    return ", ".join(parts) or "none"


def _print_experiment(exp: Any, max_rows: int = 30) -> None:
    from ponder.experiments import error_reason

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
    for k, v in _summary_rows(exp):
        summary.add_row(k, Text(safe_text(v)))
    out.print(summary)
