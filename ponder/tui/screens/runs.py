"""The runs list: a DataTable paged from SQL, a filter box, sort by column, live refresh."""

from __future__ import annotations

from dataclasses import replace
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
from ponder.traces.store import MAX_FILTER_CHARS
from ponder.tui._data import store_for
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.messages import OpenCompare, OpenExperiments, OpenRun
from ponder.tui.screens.text import FullTextScreen
from ponder.tui.widgets.run_rows import Column, RunQuery, fit_columns, natural_widths, parse_filter, run_cells, run_text

PAGE_RUNS = 200
MAX_RESIDENT = 2_000
REFRESH_S = 1.0
AUTO_REFRESH_ROWS = 500


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
