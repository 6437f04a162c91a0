"""The runs list's rows: its columns fitted to a width, each run's cells, the filter box's query.

Every cell is made from the run's record alone (model text shown as one safe line); `run_text`
is the whole record as plain text, for a row whose cells were cut.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from rich.cells import cell_len
from rich.text import Text

from ponder.experiments.labels import agent_label
from ponder.traces.events import RunRecord
from ponder.tui.widgets.detail import fmt_duration
from ponder.tui.widgets.safe import one_line
from ponder.tui.widgets.stats_strip import STATUS_STYLE


@dataclass(frozen=True)
class Column:
    """A runs-list column. `key` is also its sort name; `drop`: the order columns leave a narrow
    screen in (highest first; 0 = always shown); `width`: its cells' width (the task column flexes)."""

    key: str
    title: str
    width: int
    drop: int = 0


COLUMNS: tuple[Column, ...] = (
    Column("started_at", "time", 11, drop=5),
    Column("agent", "agent", 10, drop=2),
    Column("model", "model", 14, drop=6),
    Column("task", "task", 32),
    Column("status", "status", 9),
    Column("answer", "answer", 12),
    Column("correct", "✓", 1),
    Column("calls", "calls", 5, drop=3),
    Column("tokens", "tokens", 8, drop=4),
    Column("cost_usd", "cost", 8, drop=7),
    Column("wall", "wall", 7, drop=8),
    Column("experiment_id", "exp", 8, drop=9),
    Column("id", "id", 10),
)
TASK_MIN, TASK_MAX = 16, 80
ID_CHARS = 8  # ids are shown short; every id box and the palette take a unique prefix
FORK_MARK = "↳"  # before the id of a run that is a fork of another (`v` says of which)
# columns that grow to their content when there is room, in this order, up to these widths
# (the widths in COLUMNS are what they get on a narrow screen)
GROWS: tuple[tuple[str, int], ...] = (("agent", 40), ("model", 32), ("task", TASK_MAX), ("answer", 40))
WIDE = 120  # from this width on, an agent's name is shown whole (`self_consistency(react)`), never cut
TASK_WIDE = 32  # the question's share on a wide screen before the columns grow (it takes what is left)


def fit_columns(width: int, natural: dict[str, int] | None = None) -> tuple[Column, ...]:
    """The columns that fit `width` cells (each cell is padded by one on both sides).

    Columns leave in their `drop` order, so status, answer, ✓ and id always stay. On a narrow
    screen the task column gets about a third of the width; from `WIDE` columns on the agent
    column is as wide as its widest name (`natural`), so a name is never cut there. What is left
    goes to the columns of `GROWS`, each up to its natural width.
    """
    natural = natural or {}
    wide = width >= WIDE
    agent_w = max(10, min(dict(GROWS)["agent"], natural.get("agent", 0))) if wide else 10
    shown = [replace(c, width=agent_w) if c.key == "agent" else c for c in COLUMNS]
    usable = width - 2  # the vertical scrollbar

    def fixed() -> int:
        return sum(c.width + 2 for c in shown if c.key != "task")

    # the question deserves about a third of a narrow screen; on a wide one, what the rest leaves
    want = TASK_WIDE if wide else max(TASK_MIN, min(32, usable * 3 // 10))
    while fixed() + want + 2 > usable and any(c.drop for c in shown):
        shown.remove(max(shown, key=lambda c: c.drop))
    widths = {c.key: c.width for c in shown}
    task_w = max(TASK_MIN, min(want, usable - fixed() - 2))
    widths["task"] = task_w
    left = usable - fixed() - task_w - 2
    for key, cap in GROWS:
        if key not in widths or left <= 0:
            continue
        goal = TASK_MAX if key == "task" else min(cap, natural.get(key, 0))
        grow = max(0, min(left, goal - widths[key]))
        widths[key] += grow
        left -= grow
    return tuple(replace(c, width=widths[c.key]) for c in shown)


def agent_text(r: RunRecord) -> str:
    """The agent as the list names it: with its inner agent, `self_consistency(react)`."""
    return agent_label(r.agent, r.config)


def natural_widths(records: Iterable[RunRecord]) -> dict[str, int]:
    """The widest cell of each growing column over `records` (the header's width at least)."""
    widest = {"agent": 5, "model": 5, "answer": 6}
    for r in records:
        widest["agent"] = max(widest["agent"], cell_len(agent_text(r)))
        widest["model"] = max(widest["model"], cell_len(r.model or r.backend or ""))
        widest["answer"] = max(widest["answer"], cell_len(one_line(r.answer or "", 40)))
    return widest


@dataclass(frozen=True)
class RunQuery:
    """What the list shows: filters from the filter box and the sort order."""

    text: str | None = None
    agent: str | None = None
    status: str | None = None
    experiment_id: str | None = None
    sort: str = "started_at"
    descending: bool = True


def parse_filter(raw: str, base: RunQuery) -> RunQuery:
    """`agent:tot status:ok exp:ab12 free words` -> a `RunQuery` (free words search task, answer and id).

    The free words are matched literally (`%`, `_` and `\\` are themselves); the list searches their first
    `MAX_FILTER_CHARS` characters.
    """
    fields: dict[str, Any] = {"text": None, "agent": None, "status": None, "experiment_id": None}
    words = []
    for word in raw.split():
        key, sep, value = word.partition(":")
        if sep and value and key in ("agent", "status", "exp", "experiment"):
            fields["experiment_id" if key.startswith("exp") else key] = value
        else:
            words.append(word)
    fields["text"] = " ".join(words) or None
    return replace(base, **fields)


def run_cells(r: RunRecord, columns: tuple[Column, ...] = COLUMNS) -> list[Text]:
    """The cells of one row for `columns`, cut to their widths; every value from the record."""
    started = dt.datetime.fromtimestamp(r.started_at).strftime("%m-%d %H:%M")  # the year: `v`
    correct = Text("·", style="dim") if r.correct is None else Text("✓" if r.correct else "✗")
    if r.correct is not None:
        correct.stylize("green" if r.correct else "red")
    w = {c.key: c.width for c in columns}
    cells = {
        "started_at": lambda: Text(started, style="dim"),
        "agent": lambda: Text(one_line(agent_text(r), w["agent"]), style="bold"),
        "model": lambda: Text(one_line(r.model or r.backend or "", w["model"])),
        "task": lambda: Text(one_line(r.question, w["task"])),
        "status": lambda: Text(one_line(r.status, w["status"]), style=STATUS_STYLE.get(r.status, "")),
        "answer": lambda: Text(one_line(r.answer if r.answer is not None else "", w["answer"])),
        "correct": lambda: correct,
        "calls": lambda: Text(f"{r.calls}", justify="right"),
        "tokens": lambda: Text(f"{r.prompt_tokens + r.completion_tokens:,}", justify="right"),
        "cost_usd": lambda: Text("?" if r.cost_usd is None else f"${r.cost_usd:.4f}", justify="right"),
        "wall": lambda: Text("…" if r.ended_at is None else fmt_duration(r.wall_s), justify="right"),
        "experiment_id": lambda: Text((r.experiment_id or "")[:8], style="dim"),
        "id": lambda: Text.assemble((f"{FORK_MARK} " if r.forked_from else "  ", "magenta"), (r.id[:ID_CHARS], "dim")),
    }
    return [cells[c.key]() for c in columns]


def run_text(r: RunRecord) -> str:
    """Every field of a run as plain text: what a cut row holds in full (the `v` key shows it)."""
    lines = [
        f"id: {r.id}",
        f"agent: {agent_text(r)}",
        f"status: {r.status}",
        f"answer: {r.answer if r.answer is not None else '(none)'}",
        f"correct: {'(not judged)' if r.correct is None else r.correct}",
        f"backend: {r.backend} · model: {r.model}",
        f"calls: {r.calls} · tokens: {r.prompt_tokens:,} in / {r.completion_tokens:,} out",
        "cost: " + ("unknown" if r.cost_usd is None else f"${r.cost_usd:.6f}"),
        f"started: {dt.datetime.fromtimestamp(r.started_at).strftime('%Y-%m-%d %H:%M:%S')}"
        f" · wall: {'running' if r.ended_at is None else fmt_duration(r.wall_s)}",
        f"experiment: {r.experiment_id or '—'}",
    ]
    if r.forked_from:
        origin = r.forked_from.get("run_id", "?")
        lines.append(f"{FORK_MARK} a fork of run {origin} at event #{r.forked_from.get('seq', '?')}")
    if r.error:
        lines.append(f"error: {r.error}")
    lines += ["", "question:", r.question]
    return "\n".join(lines)
