"""Merging trace stores (the shards of a sweep) into one: ids kept, idempotent, conflicts refused."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel

from ponder.errors import StoreError
from ponder.traces._admin import AdminOps
from ponder.traces.migrations import known_migrations

# columns that say where or how a row was written, not what it holds
_VOLATILE_RUN_COLUMNS = frozenset({"pid", "host"})
# experiment config keys that may differ between the shards of one sweep
_VOLATILE_EXPERIMENT_KEYS = frozenset({"concurrency", "shard"})
_CHILD_TABLES = ("events", "llm_calls", "tool_calls")


class MergeReport(BaseModel):
    """What a merge added (rows of runs already present are skipped, not counted)."""

    experiments: int = 0
    runs: int = 0
    events: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    memory: int = 0
    skipped_runs: int = 0

    def __add__(self, other: MergeReport) -> MergeReport:
        mine, theirs = self.model_dump(), other.model_dump()
        return MergeReport(**{k: v + theirs[k] for k, v in mine.items()})


def _same_experiment(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ca, cb = json.loads(a["config_json"] or "{}"), json.loads(b["config_json"] or "{}")
    strip = lambda c: {k: v for k, v in c.items() if k not in _VOLATILE_EXPERIMENT_KEYS}  # noqa: E731
    return bool(a["name"] == b["name"] and strip(ca) == strip(cb))


def _same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = (set(a) | set(b)) - _VOLATILE_RUN_COLUMNS
    return all(a.get(k) == b.get(k) for k in keys)


class MergeOps(AdminOps):
    """`merge_from`: copy every row of another store into this one."""

    def merge_from(self, other: AdminOps, *, runs: Collection[str] | None = None) -> MergeReport:
        """Add every experiment, run (with its events, llm and tool calls) and memory row of `other`.

        runs: only these runs of `other`, with their child runs, their rows and their experiments.
        Ids are kept. A run or experiment already here with the same content is skipped, so
        merging the same store twice changes nothing; one with other content is refused
        (`StoreError`) before anything is written. The whole merge is one transaction.
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
                    f"experiment {e['id']} differs between {other.path} and {self.path} (name or config); not merged"
                )
        new_runs: list[dict[str, Any]] = []
        for r in other.table_rows("runs", runs=chosen):
            have_rows = self._c.rows("select * from runs where id = ?", (r["id"],))
            if have_rows:
                if not _same_run(have_rows[0], r):
                    raise StoreError(
                        f"run {r['id']} differs between {other.path} and {self.path}; not merged (the same sweep?)"
                    )
                report.skipped_runs += 1
            else:
                new_runs.append(r)
        new_ids = {r["id"] for r in new_runs}
        with self._c.atomic():
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
