"""The compare view: two runs' events side by side, aligned by branch and position, differences highlighted.

Alignment is `ponder diff`'s (`ponder.replay.diff`): events are grouped by lane (child run branch,
event branch) and compared position by position, so runs whose concurrent branches
interleaved differently still line up. The header shows the totals of both and their deltas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ponder.tui._data import store_for
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.widgets.safe import one_line

MAX_ROWS = 2_000


@dataclass(frozen=True)
class Row:
    """One aligned line: the lane, the position in it, each side's event text (None: nothing there)."""

    lane: str
    pos: int
    a: str | None
    b: str | None
    same: bool


def _event_text(e: Any) -> str:
    score = f" {e.score:g}" if e.score is not None else ""
    status = {"chosen": " ★", "pruned": " ✗", "error": " !", "invalid": " !"}.get(e.status, "")
    body = e.summary if e.summary and e.summary != e.label else e.label
    return f"#{e.seq} {e.kind}{status}{score} {body}"


def compare_rows(db_path: str, run_a: str, run_b: str) -> tuple[Any, list[Row]]:
    """The diff of two runs (`ponder.replay.diff.RunDiff`) and their first `MAX_ROWS` aligned rows (read in a
    worker thread; both runs are streamed, so a long run costs no more memory than a short one)."""
    from ponder.replay.diff import StepCompare, aligned, diff_runs

    store = store_for(db_path)
    d = diff_runs(store, run_a, store, run_b)
    compare = StepCompare(store, store)
    rows: list[Row] = []
    for lane, pos, x, y in aligned(store, store.get_run(d.a.run_id), store, store.get_run(d.b.run_id)):
        rows.append(
            Row(
                "/".join(p for p in lane if p),
                pos,
                None if x is None else _event_text(x),
                None if y is None else _event_text(y),
                compare.same(x, y),
            )
        )
        if len(rows) >= MAX_ROWS:
            break
    return d, rows


def _delta(a: float | None, b: float | None, fmt: str) -> str:
    if a is None or b is None:
        return ""
    diff = b - a
    return "" if diff == 0 else f" ({'+' if diff > 0 else '−'}{format(abs(diff), fmt)})"


def header_text(d: Any) -> Text:
    """Both runs' totals with the deltas B − A, and where they first differ."""
    a, b = d.a, d.b
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(" A ", style="bold reverse")
    t.append(f" {a.run_id[:8]} {a.agent} {a.status} → {one_line(a.answer or '(none)', 24)}")
    if a.correct is not None:
        t.append(" ✓" if a.correct else " ✗", style="green" if a.correct else "red")
    t.append("\n")
    t.append(" B ", style="bold reverse")
    t.append(f" {b.run_id[:8]} {b.agent} {b.status} → {one_line(b.answer or '(none)', 24)}")
    if b.correct is not None:
        t.append(" ✓" if b.correct else " ✗", style="green" if b.correct else "red")
    t.append("\n")
    t.append(f" calls {a.calls}→{b.calls}{_delta(a.calls, b.calls, 'g')}")
    t.append(f"  tokens {a.tokens:,}→{b.tokens:,}{_delta(a.tokens, b.tokens, ',')}")
    if a.cost_usd is not None and b.cost_usd is not None:
        t.append(f"  cost ${a.cost_usd:.4f}→${b.cost_usd:.4f}")
    if a.wall_s is not None and b.wall_s is not None:
        t.append(f"  wall {a.wall_s:.1f}→{b.wall_s:.1f} s")
    t.append(f"  events {d.events_a}→{d.events_b}")
    t.append("\n")
    if d.first is None:
        t.append(" identical events" if d.identical else " events aligned, none differ", style="green")
    else:
        lane, pos, _, _ = d.first
        where = f"branch {lane!r}" if lane else "the top level"
        t.append(f" first divergence: {where}, step {pos}" + (f" ({d.field})" if d.field else ""), style="yellow")
    return t


class CompareScreen(ReportsWorkerErrors, Screen[None]):
    """Runs `run_a` and `run_b` side by side; `escape` goes back."""

    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding("n", "next_difference", "Next difference", id="compare.next"),
    ]

    def __init__(self, db_path: str, run_a: str, run_b: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.db_path = db_path
        self.run_a = run_a
        self.run_b = run_b
        self.rows: list[Row] = []
        self.diff: Any = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield Static("", id="compare-header")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"compare {self.run_a[:8]} · {self.run_b[:8]}"
        table = self.query_one(DataTable)
        half = max(20, (self.app.size.width - 12) // 2)
        table.add_column("step", key="step", width=6)
        table.add_column("A", key="a", width=half)
        table.add_column("B", key="b", width=half)
        table.focus()
        self._load(self.run_a, self.run_b)

    class _Loaded(Message):
        def __init__(self, diff: Any, rows: list[Row]) -> None:
            super().__init__()
            self.diff = diff
            self.rows = rows

    class _Failed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load(self, run_a: str, run_b: str) -> None:
        from ponder.errors import PonderError

        try:
            diff, rows = compare_rows(self.db_path, run_a, run_b)
        except PonderError as e:
            self.post_message(self._Failed(str(e)))
            return
        self.post_message(self._Loaded(diff, rows))

    @on(_Failed)
    def _failed(self, message: _Failed) -> None:
        self.app.notify(one_line(message.error, 200), title="cannot compare", severity="error", markup=False)
        self.dismiss()

    @on(_Loaded)
    def _loaded(self, message: _Loaded) -> None:
        self.diff, self.rows = message.diff, message.rows
        self.query_one("#compare-header", Static).update(header_text(message.diff))
        table = self.query_one(DataTable)
        width = max(20, (self.app.size.width - 12) // 2)
        lane = None
        for i, r in enumerate(self.rows):
            if r.lane != lane:
                lane = r.lane
                title = Text(f"── {r.lane or 'top level'} ──", style="bold dim")
                table.add_row(Text(""), title, Text(""), key=f"lane{i}")
            style = "" if r.same else "bold yellow"
            a = Text("—" if r.a is None else one_line(r.a, width), style=style if r.a is not None else "dim")
            b = Text("—" if r.b is None else one_line(r.b, width), style=style if r.b is not None else "dim")
            mark = Text(f"{'' if r.same else '≠'}{r.pos:>4}", style="dim" if r.same else "bold yellow")
            table.add_row(mark, a, b, key=f"row{i}")

    def action_next_difference(self) -> None:
        """Move to the next row that differs."""
        table = self.query_one(DataTable)
        start = table.cursor_row + 1
        keys = [str(k.value) for k in table.rows]
        for i in range(start, len(keys)):
            key = keys[i]
            if key.startswith("row") and not self.rows[int(key[3:])].same:
                table.move_cursor(row=i, animate=False)
                return
        self.app.notify("no more differences", timeout=3)

    def action_back(self) -> None:
        self.dismiss()
