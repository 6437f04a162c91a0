"""`StatsStrip`: one line of a run's totals (calls, tokens, cost, wall, status) above the tree."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ponder.experiments.labels import agent_label
from ponder.traces.events import RunRecord
from ponder.tui.widgets.detail import fmt_duration
from ponder.tui.widgets.safe import one_line

STATUS_STYLE = {"ok": "green", "error": "red", "cancelled": "yellow", "interrupted": "yellow", "running": "cyan"}


def run_summary(run: RunRecord) -> Text:
    """The strip's text for `run` (every field from the record; nothing depends on the clock)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f" {agent_label(run.agent, run.config)} ", style="bold reverse")
    t.append(f" {run.status}", style=f"bold {STATUS_STYLE.get(run.status, '')}")
    if run.correct is not None:
        t.append(" ✓ correct" if run.correct else " ✗ wrong", style="green" if run.correct else "red")
    t.append(f"  calls {run.calls}", style="")
    t.append("  wall " + ("running" if run.ended_at is None else fmt_duration(run.wall_s)))
    t.append(f"  tokens {run.prompt_tokens + run.completion_tokens:,}")
    t.append("  cost " + ("unknown" if run.cost_usd is None else f"${run.cost_usd:.4f}"))
    t.append(f"  events {run.last_seq:,}")
    t.append(f" ({run.prompt_tokens:,} in / {run.completion_tokens:,} out)", style="dim")
    t.append(f"  {one_line(run.model or run.backend or '', 30)}", style="dim")
    t.append("\n")
    t.append(f" {run.id[:8]} ", style="dim")
    if run.answer is not None:
        t.append("→ ", style="bold")
        t.append(one_line(run.answer, 40), style="bold")
        t.append("  ")
    t.append(one_line(run.question, 200), style="italic")
    return t


class StatsStrip(Static):
    """Shows `run_summary` of the run it is given."""

    def show(self, run: RunRecord) -> None:
        self.update(run_summary(run))
