"""The runs list: a DataTable paged from SQL, a filter box, sort by column, live refresh."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from ponder.traces.events import RunRecord
from ponder.tui._data import store_for
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.messages import OpenRun
from ponder.tui.widgets.detail import fmt_duration
from ponder.tui.widgets.safe import one_line
from ponder.tui.widgets.stats_strip import STATUS_STYLE

PAGE_RUNS = 200
MAX_RESIDENT = 2_000
REFRESH_S = 1.0
AUTO_REFRESH_ROWS = 500

# (column key = sort name, title, width)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("started_at", "time", 16),
    ("agent", "agent", 12),
    ("model", "model", 14),
    ("task", "task", 32),
    ("status", "status", 11),
    ("answer", "answer", 14),
    ("correct", "✓", 1),
    ("calls", "calls", 6),
    ("tokens", "tokens", 8),
    ("cost_usd", "cost", 8),
    ("wall", "wall", 8),
    ("experiment_id", "exp", 8),
    ("id", "id", 12),
)


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
    """`agent:tot status:ok exp:ab12 free words` -> a `RunQuery` (free words search task, answer and id)."""
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


def run_cells(r: RunRecord) -> list[Text]:
    """The cells of one row; every value from the record (times are the recorded ones)."""
    started = dt.datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M")
    correct = Text("·", style="dim") if r.correct is None else Text("✓" if r.correct else "✗")
    if r.correct is not None:
        correct.stylize("green" if r.correct else "red")
    return [
        Text(started, style="dim"),
        Text(one_line(r.agent, 12), style="bold"),
        Text(one_line(r.model or r.backend or "", 14)),
        Text(one_line(r.question, 32)),
        Text(r.status, style=STATUS_STYLE.get(r.status, "")),
        Text(one_line(r.answer if r.answer is not None else "", 14)),
        correct,
        Text(f"{r.calls}", justify="right"),
        Text(f"{r.prompt_tokens + r.completion_tokens:,}", justify="right"),
        Text("?" if r.cost_usd is None else f"${r.cost_usd:.4f}", justify="right"),
        Text("…" if r.ended_at is None else fmt_duration(r.wall_s), justify="right"),
        Text((r.experiment_id or "")[:8], style="dim"),
        Text(r.id, style="dim"),
    ]


class RunsScreen(ReportsWorkerErrors, Screen[None]):
    """All top-level runs of the database, newest first; Enter opens one."""

    BINDINGS: ClassVar = [
        Binding("slash", "focus_filter", "Filter", id="runs.filter"),
        Binding("r", "refresh", "Refresh", id="runs.refresh"),
        Binding("s", "cycle_sort", "Sort", id="runs.sort"),
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

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield Input(placeholder="filter: words · agent:NAME · status:ok · exp:ID", id="runs-filter")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-info")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = Path(self.db_path).name
        table = self.query_one(DataTable)
        for key, title, width in COLUMNS:
            table.add_column(title, key=key, width=width)
        table.focus()
        self.reload()
        self.set_interval(REFRESH_S, self._check_changes)

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
        rows = store.list_runs(
            limit=limit + 1,
            before=before,
            offset=offset,
            text=q.text,
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
        selected = None
        if not message.append and [r.id for r in message.rows] == [str(k.value) for k in table.rows]:
            # the same rows in the same order (a run grew or finished): update changed cells in place
            for r in message.rows:
                old = table.get_row(r.id)
                for (key, _, _), new_cell, old_cell in zip(COLUMNS, run_cells(r), old, strict=True):
                    if new_cell != old_cell:
                        table.update_cell(r.id, key, new_cell)
            self._has_more = message.has_more and self._loaded < MAX_RESIDENT
            self._update_info(message.total, message.has_more)
            return
        if not message.append and table.row_count:
            try:
                selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:
                selected = None
            table.clear()
            self._row_keys.clear()
            self._loaded = 0
        for r in message.rows:
            if r.id in table.rows:
                continue
            table.add_row(*run_cells(r), key=r.id)
            self._row_keys[r.id] = (r.started_at, r.id)
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
        keys = [k for k, _, _ in COLUMNS if k != "id"]
        q = self.query_state
        nxt = keys[(keys.index(q.sort) + 1) % len(keys)] if q.sort in keys else keys[0]
        self._set_sort(nxt)

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
