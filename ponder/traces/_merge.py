"""Merging trace stores (the shards of a sweep) into one: ids kept, idempotent, conflicts refused."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, ConfigDict

from ponder.errors import StoreError
from ponder.traces._admin import AdminOps
from ponder.traces.migrations import known_migrations

# columns that say where or how a row was written, not what it holds
_VOLATILE_RUN_COLUMNS = frozenset({"pid", "host"})
# columns that change while a run goes on: a run's progress, not which run it is
_PROGRESS_RUN_COLUMNS = frozenset(
    {
        "status",
        "answer",
        "correct",
        "score",
        "error",
        "ended_at",
        "last_seq",
        "prompt_tokens",
        "completion_tokens",
        "calls",
        "cost_usd",
        "total_prompt_tokens",
        "total_completion_tokens",
        "total_calls",
        "total_cost_usd",
    }
)
# experiment config keys that may differ between the shards of one sweep
_VOLATILE_EXPERIMENT_KEYS = frozenset({"concurrency", "shard"})
_CHILD_TABLES = ("events", "llm_calls", "tool_calls")
_CONFLICT_HINT = (
    "two recordings of one run (a store copied and run on in two places?); nothing was merged — "
    "merge the stores you trust into a new file (ponder merge A.db B.db -o NEW.db), leaving the other out"
)


class MergeReport(BaseModel):
    """What a merge added (rows of runs already present are skipped, not counted).

    replaced_runs: runs that were unfinished here (merged while they ran) and finished, or further
    along, in the other store: their rows were replaced by the other store's.
    """

    model_config = ConfigDict(defer_build=True)  # built on first use, not on import

    experiments: int = 0
    runs: int = 0
    events: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    memory: int = 0
    skipped_runs: int = 0
    replaced_runs: int = 0

    def __add__(self, other: MergeReport) -> MergeReport:
        mine, theirs = self.model_dump(), other.model_dump()
        return MergeReport(**{k: v + theirs[k] for k, v in mine.items()})


def _same_experiment(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ca, cb = json.loads(a["config_json"] or "{}"), json.loads(b["config_json"] or "{}")
    strip = lambda c: {k: v for k, v in c.items() if k not in _VOLATILE_EXPERIMENT_KEYS}  # noqa: E731
    return bool(a["name"] == b["name"] and strip(ca) == strip(cb))


def _progress(r: dict[str, Any]) -> tuple[bool, int, int]:
    return r.get("status") != "running", r.get("last_seq") or 0, r.get("total_calls") or r.get("calls") or 0


def _compare_runs(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """`same`, `replace` (ours is an earlier state of theirs), `keep` (theirs is an earlier state of ours),
    or why the two cannot be one run's rows."""
    keys = (set(ours) | set(theirs)) - _VOLATILE_RUN_COLUMNS
    differ = sorted(k for k in keys if ours.get(k) != theirs.get(k))
    if not differ:
        return "same"
    identity = [k for k in differ if k not in _PROGRESS_RUN_COLUMNS]
    if identity:
        return f"with another {', '.join(identity[:3])} on each side"
    a, b = _progress(ours), _progress(theirs)
    if a[0] and b[0]:
        return "finished on both sides with other results (" + ", ".join(differ[:3]) + ")"
    # an unfinished run gives way to a finished one, or to one further along: never the other way
    return "replace" if b > a else "keep"


class MergeOps(AdminOps):
    """`merge_from`: copy every row of another store into this one."""

    def merge_from(self, other: AdminOps, *, runs: Collection[str] | None = None) -> MergeReport:
        """Add every experiment, run (with its events, llm and tool calls) and memory row of `other`.

        runs: only these runs of `other`, with their child runs, their rows and their experiments.
        Ids are kept. A run or experiment already here with the same content is skipped, so
        merging the same store twice changes nothing. A run that was unfinished here (a shard merged
        while it ran) is replaced whole by the other store's rows when those are finished or further
        along; a finished run is never replaced by an unfinished one. A run with other content
        otherwise, or an experiment with another config, is refused (`StoreError`, saying what to
        do) before anything is written. The whole merge is one transaction.
        """
        newer = set(other.applied_migrations()) - set(known_migrations())
        if newer:
            raise StoreError(f"{other.path} was written by a newer ponder (schema {sorted(newer)[-1]}); upgrade ponder")
        report = MergeReport()
        chosen = None if runs is None else other.with_descendants(runs)
        theirs_exps = list(other.table_rows("experiments", runs=chosen))
        ours_exps = {r["id"]: r for r in self._c.rows("select * from experiments")}
        for e in theirs_exps:
            have = ours_exps.get(e["id"])
            if have is not None and not _same_experiment(have, e):
                raise StoreError(
                    f"experiment {e['id']} has another name or config in {other.path} than in {self.path}: two "
                    f"sweeps under one id; nothing was merged — merge each sweep's stores into a file of its own"
                )
        new_runs: list[dict[str, Any]] = []
        replaced: list[str] = []
        for r in other.table_rows("runs", runs=chosen):
            have_rows = self._c.rows("select * from runs where id = ?", (r["id"],))
            verdict = _compare_runs(have_rows[0], r) if have_rows else "new"
            if verdict in ("same", "keep"):
                report.skipped_runs += 1
            elif verdict in ("new", "replace"):
                new_runs.append(r)
                if verdict == "replace":
                    replaced.append(r["id"])
            else:
                raise StoreError(f"run {r['id']} is in {other.path} and in {self.path} {verdict}: {_CONFLICT_HINT}")
        new_ids = {r["id"] for r in new_runs}
        with self._c.atomic():
            self._drop_runs(replaced)
            report.replaced_runs = len(replaced)
            report.experiments = self.insert_rows("experiments", (e for e in theirs_exps if e["id"] not in ours_exps))
            report.runs = self.insert_rows("runs", new_runs)
            for table in _CHILD_TABLES:
                rows = (
                    {k: v for k, v in row.items() if k != "id"}  # row ids are this store's; (run, seq) is the key
                    for row in other.table_rows(table, runs=chosen)
                    if row["run_id"] in new_ids
                )
                setattr(report, table, self.insert_rows(table, rows))
            seen = {
                (m["namespace"], m["kind"], m["content"], m["run_id"], m["created_at"])
                for m in self._c.rows("select namespace, kind, content, run_id, created_at from memory")
            }
            memory = [
                {k: v for k, v in m.items() if k != "id"}
                for m in other.table_rows("memory", runs=chosen)
                if (m["namespace"], m["kind"], m["content"], m["run_id"], m["created_at"]) not in seen
            ]
            report.memory = self.insert_rows("memory", memory)
        return report

    def _drop_runs(self, run_ids: Collection[str]) -> None:
        """Delete these runs' rows and their events, llm and tool calls (to be replaced within one merge)."""
        if not run_ids:
            return
        ids = json.dumps(list(run_ids))
        with self._c.write() as conn:
            for table in _CHILD_TABLES:
                conn.execute(f"delete from {table} where run_id in (select value from json_each(?))", (ids,))
            conn.execute("delete from runs where id in (select value from json_each(?))", (ids,))
