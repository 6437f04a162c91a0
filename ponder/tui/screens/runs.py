"""The runs list: a DataTable paged from SQL, a filter box, sort by column, live refresh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from ponder.experiments.labels import agent_label
from ponder.traces.events import RunRecord
from ponder.traces.store import MAX_FILTER_CHARS
from ponder.tui._data import store_for
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.messages import OpenCompare, OpenExperiments, OpenRun
from ponder.tui.screens.text import FullTextScreen
from ponder.tui.widgets.detail import fmt_duration
from ponder.tui.widgets.safe import one_line
from ponder.tui.widgets.stats_strip import STATUS_STYLE

PAGE_RUNS = 200
MAX_RESIDENT = 2_000
REFRESH_S = 1.0
AUTO_REFRESH_ROWS = 500


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


class RunsScreen(ReportsWorkerErrors, Screen[None]):
    """All top-level runs of the database, newest first; Enter opens one."""

    BINDINGS: ClassVar = [
        Binding("slash", "focus_filter", "Filter", id="runs.filter"),
        Binding("r", "refresh", "Refresh", id="runs.refresh"),
        Binding("s", "cycle_sort", "Sort", id="runs.sort"),
        Binding("v", "view_run", "Full row", id="runs.view"),
        Binding("e", "experiments", "Experiments", id="runs.experiments"),
        Binding("m", "mark", "Mark", id="runs.mark"),
        Binding("c", "compare", "Compare", id="runs.compare"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="runs.clear"),
    ]

    def __init__(self, db_path: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.db_path = db_path
        self.query_state = RunQuery()
        self._loaded = 0
        self._has_more = False
        self._loading_more = False
        self._marker: tuple[Any, ...] | None = None
        self._row_keys: dict[str, tuple[float, str]] = {}
        self._records: dict[str, RunRecord] = {}  # the rows shown, in order (a resize re-lays them out)
        self._columns: tuple[Column, ...] = ()
        self.marked: str | None = None
        self._filter_cut = False  # the filter box holds more than the store searches (said once)
        self._natural: dict[str, int] = {}  # the widest cell seen in each growing column

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield Input(placeholder="filter: words · agent:NAME · status:ok · exp:ID", id="runs-filter")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-info")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = Path(self.db_path).name
        table = self.query_one(DataTable)
        self._set_columns(fit_columns(self.app.size.width, self._natural))
        table.focus()
        self.reload()
        self.set_interval(REFRESH_S, self._check_changes)

    # -- layout ------------------------------------------------------------------------

    def _set_columns(self, columns: tuple[Column, ...]) -> None:
        table = self.query_one(DataTable)
        selected = self._selected_id()
        table.clear(columns=True)
        self._columns = columns
        for c in columns:
            table.add_column(c.title, key=c.key, width=c.width)
        for r in self._records.values():
            table.add_row(*run_cells(r, columns), key=r.id)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def on_resize(self) -> None:
        self._relayout()

    def _relayout(self) -> None:
        columns = fit_columns(self.size.width or self.app.size.width, self._natural)
        if columns != self._columns:
            self._set_columns(columns)

    def _grow_to(self, rows: list[RunRecord]) -> bool:
        """Widen the growing columns' natural widths to fit `rows`; True if one grew (the layout may change)."""
        wider = natural_widths(rows)
        grew = any(v > self._natural.get(k, 0) for k, v in wider.items())
        for k, v in wider.items():
            self._natural[k] = max(v, self._natural.get(k, 0))
        return grew

    def _selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    # -- querying ----------------------------------------------------------------------

    class _Rows(Message):
        def __init__(self, rows: list[RunRecord], append: bool, has_more: bool, total: int, marker: Any) -> None:
            super().__init__()
            self.rows = rows
            self.append = append
            self.has_more = has_more
            self.total = total
            self.marker = marker

    def reload(self, keep: int = PAGE_RUNS) -> None:
        """Re-query the first `keep` rows for the current filter and sort."""
        self._fetch(self.query_state, min(max(keep, PAGE_RUNS), MAX_RESIDENT), None, 0, False)

    @work(thread=True, exclusive=True, group="runs-query", exit_on_error=False)
    def _fetch(self, q: RunQuery, limit: int, before: tuple[float, str] | None, offset: int, append: bool) -> None:
        store = store_for(self.db_path)
        marker = store.change_marker()
        if q.experiment_id:  # an id prefix or a name, as the CLI takes
            found = [e["id"] for e in store.list_experiments() if str(e["id"]).startswith(q.experiment_id)]
            found = found or [e["id"] for e in store.list_experiments() if e["name"] == q.experiment_id]
            if len(found) == 1:
                q = replace(q, experiment_id=found[0])
        rows = store.list_runs(
            limit=limit + 1,
            before=before,
            offset=offset,
            text=None if q.text is None else q.text[:MAX_FILTER_CHARS],  # longer is said once, when typed
            agent=q.agent,
            status=q.status,
            experiment_id=q.experiment_id,
            sort=q.sort,
            descending=q.descending,
        )
        has_more = len(rows) > limit
        total = store.count_runs(top_level=True)
        self.post_message(self._Rows(rows[:limit], append, has_more, total, marker))

    @on(_Rows)
    def _show_rows(self, message: _Rows) -> None:
        table = self.query_one(DataTable)
        self._marker = message.marker
        if self._grow_to(message.rows):
            self._relayout()  # a wider agent name (or model, answer): lay the columns out for it
        selected = None
        if not message.append and [r.id for r in message.rows] == [str(k.value) for k in table.rows]:
            # the same rows in the same order (a run grew or finished): update changed cells in place
            for r in message.rows:
                self._records[r.id] = r
                old = table.get_row(r.id)
                for c, new_cell, old_cell in zip(self._columns, run_cells(r, self._columns), old, strict=True):
                    if new_cell != old_cell:
                        table.update_cell(r.id, c.key, new_cell)
            self._has_more = message.has_more and self._loaded < MAX_RESIDENT
            self._update_info(message.total, message.has_more)
            return
        if not message.append and table.row_count:
            selected = self._selected_id()
            table.clear()
            self._row_keys.clear()
            self._records.clear()
            self._loaded = 0
        for r in message.rows:
            if r.id in table.rows:
                continue
            table.add_row(*run_cells(r, self._columns), key=r.id)
            self._row_keys[r.id] = (r.started_at, r.id)
            self._records[r.id] = r
        self._loaded = table.row_count
        self._has_more = message.has_more and self._loaded < MAX_RESIDENT
        self._loading_more = False
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._update_info(message.total, message.has_more)

    def _update_info(self, total: int, has_more: bool) -> None:
        q = self.query_state
        info = Text()
        if total == 0:
            info.append(f" no runs in {self.db_path} yet — press ctrl+n to ask a question live", style="yellow")
        else:
            more = "+" if has_more else ""
            info.append(f" {self._loaded:,}{more} shown · {total:,} runs", style="dim")
            if self._loaded >= MAX_RESIDENT and has_more:
                info.append(f" · first {MAX_RESIDENT:,} only: narrow the filter", style="yellow")
            arrow = "↓" if q.descending else "↑"
            info.append(f" · sorted by {q.sort} {arrow}", style="dim")
        self.query_one("#runs-info", Static).update(info)

    def _load_more(self) -> None:
        if not self._has_more or self._loading_more:
            return
        table = self.query_one(DataTable)
        q = self.query_state
        self._loading_more = True
        if q.sort == "started_at" and q.descending:
            last_key = table.coordinate_to_cell_key(Coordinate(table.row_count - 1, 0)).row_key.value or ""
            self._fetch(q, PAGE_RUNS, self._row_keys.get(last_key), 0, True)
        else:
            self._fetch(q, PAGE_RUNS, None, table.row_count, True)

    # -- events ------------------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= event.data_table.row_count - 20:
            self._load_more()

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(OpenRun(event.row_key.value))

    @on(DataTable.HeaderSelected)
    def _sort(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key == "id":
            return
        self._set_sort(key)

    def _set_sort(self, key: str) -> None:
        q = self.query_state
        descending = not q.descending if q.sort == key else key in ("started_at", "calls", "tokens", "cost_usd", "wall")
        self.query_state = replace(q, sort=key, descending=descending)
        self.reload()

    @on(Input.Changed, "#runs-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.query_state = parse_filter(event.value, self.query_state)
        words = len(self.query_state.text or "")
        too_long = words > MAX_FILTER_CHARS
        if too_long and not self._filter_cut:
            self.app.notify(
                f"the filter is {words:,} characters: only its first {MAX_FILTER_CHARS} are searched",
                severity="warning",
                timeout=6,
            )
        self._filter_cut = too_long
        self.reload()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        if box.value:
            box.value = ""
        self.query_one(DataTable).focus()

    def action_refresh(self) -> None:
        self.reload(self._loaded)

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in self._columns if c.key != "id"]
        q = self.query_state
        nxt = keys[(keys.index(q.sort) + 1) % len(keys)] if q.sort in keys else keys[0]
        self._set_sort(nxt)

    def action_mark(self) -> None:
        """Mark the selected run (the one `c` compares others with)."""
        self.marked = self._selected_id()
        if self.marked:
            self.app.notify(f"marked {self.marked[:8]}: select another run and press c to compare", timeout=4)

    def action_compare(self) -> None:
        """Compare the marked run with the selected one, side by side."""
        other = self._selected_id()
        if not self.marked or not other or other == self.marked:
            self.app.notify("mark a run with m, then select another and press c", timeout=4)
            return
        self.post_message(OpenCompare(self.marked, other))

    def action_experiments(self) -> None:
        self.post_message(OpenExperiments())

    def action_view_run(self) -> None:
        """Every field of the selected run in full (the row cuts long text to fit)."""
        rid = self._selected_id()
        r = self._records.get(rid) if rid else None
        if r is not None:
            self.app.push_screen(FullTextScreen(f"run {r.id}", run_text(r)))

    def filter_experiment(self, experiment_id: str) -> None:
        """Show only the runs of one experiment (the command palette calls this)."""
        box = self.query_one("#runs-filter", Input)
        box.value = f"exp:{experiment_id}"

    # -- live refresh ------------------------------------------------------------------

    def _check_changes(self) -> None:
        if self.is_current:
            self._poll_marker(self._marker)

    class _Stale(Message):
        pass

    @work(thread=True, exclusive=True, group="runs-poll", exit_on_error=False)
    def _poll_marker(self, seen: Any) -> None:
        if store_for(self.db_path).change_marker() != seen:
            self.post_message(self._Stale())

    @on(_Stale)
    def _stale(self) -> None:
        # a writer is busy: re-read what is shown, but at most AUTO_REFRESH_ROWS (a rebuild costs per row)
        self.reload(min(self._loaded, AUTO_REFRESH_ROWS))
