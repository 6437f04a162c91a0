"""Queries that list and page runs and experiments (the CLI's `runs`, the TUI's runs list)."""

from __future__ import annotations

from typing import Any

from ponder.errors import StoreError
from ponder.traces._base import StoreBase
from ponder.traces._runs import run_from_row
from ponder.traces.events import RunRecord

# sortable columns of the runs list (name -> SQL expression over `runs`)
RUN_SORTS: dict[str, str] = {
    "started_at": "started_at",
    "agent": "agent",
    "model": "model",
    "status": "status",
    "answer": "answer",
    "correct": "correct",
    "calls": "total_calls",
    "tokens": "(total_prompt_tokens + total_completion_tokens)",
    "cost_usd": "total_cost_usd",
    "wall": "(ended_at - started_at)",
    "task": "json_extract(task_json, '$.input')",
    "experiment_id": "experiment_id",
}


# the longest free-text filter (characters): SQLite refuses LIKE patterns past 50,000 bytes
MAX_FILTER_CHARS = 500
# what a free-text filter searches: the task's text (not its JSON encoding), the answer, the id
_TEXT_MATCH = (
    "(coalesce(case when json_valid(task_json) then json_extract(task_json, '$.input') end, '')"
    " like ? escape '\\' or coalesce(answer, '') like ? escape '\\' or id like ? escape '\\')"
)


def like_literal(text: str) -> str:
    """A LIKE pattern (with `escape '\\'`) that finds `text` literally anywhere: `%`, `_` and `\\` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class BrowseQueries(StoreBase):
    """Paged, filtered and sorted lists of runs and experiments."""

    def list_runs(
        self,
        *,
        limit: int = 50,
        before: tuple[float, str] | None = None,
        top_level: bool = True,
        experiment_id: str | None = None,
        agent: str | None = None,
        status: str | None = None,
        text: str | None = None,
        sort: str = "started_at",
        descending: bool = True,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Newest first, paged by keyset on (started_at, id): pass the last row's pair as `before`.

        sort: one of `RUN_SORTS` (then page with `offset`; `before` only pages the default order).
        text: found literally (case-insensitive for ASCII) in the task's text, the answer or the id;
        longer than `MAX_FILTER_CHARS` is a `StoreError`.
        """
        where: list[str] = []
        params: list[Any] = []
        if top_level:
            where.append("parent_id is null")
        if experiment_id:
            where.append("experiment_id = ?")
            params.append(experiment_id)
        if agent:
            where.append("agent = ?")
            params.append(agent)
        if status:
            where.append("status = ?")
            params.append(status)
        if text:
            if len(text) > MAX_FILTER_CHARS:
                raise StoreError(
                    f"the filter is {len(text):,} characters; give at most {MAX_FILTER_CHARS} (a word or two is enough)"
                )
            where.append(_TEXT_MATCH)
            like = like_literal(text)
            params += [like, like, like]
        if sort not in RUN_SORTS:
            raise StoreError(f"cannot sort runs by {sort!r}; choose one of {', '.join(RUN_SORTS)}")
        keyset = sort == "started_at" and descending
        if before and keyset:
            where.append("(started_at < ? or (started_at = ? and id < ?))")
            params += [before[0], before[0], before[1]]
        sql = "select * from runs"
        if where:
            sql += " where " + " and ".join(where)
        if keyset:
            sql += " order by started_at desc, id desc limit ?"
            params.append(limit)
        else:
            d = "desc" if descending else "asc"
            sql += f" order by {RUN_SORTS[sort]} {d} nulls last, id {d} limit ? offset ?"
            params += [limit, offset]
        return [run_from_row(r) for r in self._c.rows(sql, params)]

    def count_runs(self, *, top_level: bool = False) -> int:
        """How many runs (only top-level ones with `top_level`)."""
        sql = "select count(*) from runs" + (" where parent_id is null" if top_level else "")
        row = self._c.one(sql)
        return int(row[0]) if row else 0

    def change_marker(self) -> tuple[Any, ...]:
        """A cheap value that changes whenever a run is added, grows or finishes (to poll for changes)."""
        row = self._c.one("select count(*), max(started_at), total(last_seq), max(coalesce(ended_at, 0)) from runs")
        return tuple(row or ())

    def list_experiments(self) -> list[dict[str, Any]]:
        """Every experiment, newest first: id, name, created_at, config (decoded), runs (all, child runs
        included), tasks (distinct task ids of its top-level runs), correct (its top-level runs judged correct)."""
        import json

        rows = self._c.rows(
            "select e.id, e.name, e.created_at, e.config_json, coalesce(s.runs, 0) as runs,"
            " coalesce(s.tasks, 0) as tasks, coalesce(s.correct, 0) as correct from experiments e left join ("
            " select experiment_id, count(*) as runs,"
            " count(distinct case when parent_id is null then json_extract(task_json, '$.id') end) as tasks,"
            " total(parent_id is null and correct = 1) as correct"
            " from runs where experiment_id is not null group by experiment_id"
            ") s on s.experiment_id = e.id order by e.created_at desc, e.id desc"
        )
        for row in rows:
            row["config"] = json.loads(row.pop("config_json") or "{}")
            row["correct"] = int(row["correct"])
        return rows


def forks_under_origins(runs: list[RunRecord]) -> list[RunRecord]:
    """`runs` (newest first) with each fork moved right under its origin when the origin is listed."""
    listed = {r.id for r in runs}
    forks: dict[str, list[RunRecord]] = {}
    for r in runs:
        origin = (r.forked_from or {}).get("run_id")
        if isinstance(origin, str) and origin in listed and origin != r.id:
            forks.setdefault(origin, []).append(r)
    placed = {f.id for fs in forks.values() for f in fs}
    out: list[RunRecord] = []

    def put(r: RunRecord, depth: int) -> None:
        out.append(r)
        if depth < 20:  # a fork of a fork of …: bounded, whatever the data says
            for f in sorted(forks.get(r.id, []), key=lambda x: (x.started_at, x.id)):
                put(f, depth + 1)

    for r in runs:
        if r.id not in placed:
            put(r, 0)
    return out
