"""The `runs` and `experiments` tables: create, finish and count runs; resolve ids."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from pydantic import BaseModel, ConfigDict

from ponder._util.secrets import redact_opt
from ponder.errors import StoreError
from ponder.traces._base import StoreBase, dumps, new_id, now
from ponder.traces.events import RunRecord


@functools.cache
def _host() -> str:
    """This machine's name, as runs record it (socket is imported only when a run is written or checked)."""
    import socket

    return socket.gethostname()


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# the calls of a run and its descendants whose completion stopped at max_tokens (`instr` first: a reply
# without the word is not parsed as JSON)
_CUT_CALLS = """
with recursive tree(id) as (select ? union all select r.id from runs r join tree t on r.parent_id = t.id)
select count(*) from llm_calls l
where l.run_id in (select id from tree)
  and instr(l.response_json, '"length"') > 0 and json_valid(l.response_json)
  and exists (select 1 from json_each(l.response_json, '$.choices') c
              where json_extract(c.value, '$.finish_reason') = 'length')
"""


class RunTotals(BaseModel):
    """Calls, tokens and cost (None: no known price) of a run."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use, not on import

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None

    @classmethod
    def of(cls, run: RunRecord) -> RunTotals:
        """The totals a `RunRecord` carries (its own and its child runs')."""
        return cls(
            calls=run.calls,
            prompt_tokens=run.prompt_tokens,
            completion_tokens=run.completion_tokens,
            cost_usd=run.cost_usd,
        )


def run_from_row(row: dict[str, Any]) -> RunRecord:
    """A `RunRecord` from a `runs` row; a `running` run whose process on this host is gone is `interrupted`.

    Its calls, tokens and cost are the run's totals with its child runs' (Reflexion's trials).
    """
    if row.get("total_calls") is not None:
        row = {
            **row,
            "calls": row["total_calls"],
            "prompt_tokens": row["total_prompt_tokens"],
            "completion_tokens": row["total_completion_tokens"],
            "cost_usd": row["total_cost_usd"],
        }
    if row["status"] == "running" and row.get("host") == _host() and not _pid_alive(row.get("pid")):
        row = {**row, "status": "interrupted"}
    return RunRecord.from_row(row)


class RunsTable(StoreBase):
    """Runs (one row per run, totals kept on it) and experiments."""

    def create_run(
        self,
        *,
        agent: str,
        config: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
        seed: int | None = None,
        backend: str | None = None,
        model: str | None = None,
        parent_id: str | None = None,
        experiment_id: str | None = None,
        branch: str = "",
        run_id: str | None = None,
        budget: dict[str, Any] | None = None,
        forked_from: dict[str, Any] | None = None,
        env: dict[str, Any] | None = None,
    ) -> str:
        """Write a new `running` run row now (committed); returns its id.

        parent_id: the run this one is a child of (a Reflexion trial, say). branch: the
        concurrent branch of the parent it was started from. run_id: a chosen id (else random).
        budget: the limits it was given, so that its replay applies the same.
        forked_from: for a fork, its origin run, the event it changed and the edit (`ponder.fork`).
        env: the env it was given (`{"name": ..., "config": ...}`), so that its replay rebuilds it.
        """
        rid = run_id or new_id()
        with self._c.write() as conn:
            conn.execute(
                "insert into runs (id, parent_id, experiment_id, agent, config_json, seed, backend, model,"
                " task_json, status, started_at, branch, pid, host, budget_json, forked_from_json,"
                " env_json) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rid,
                    parent_id,
                    experiment_id,
                    agent,
                    dumps(config or {}),
                    seed,
                    backend,
                    model,
                    dumps(task or {}),
                    "running",
                    now(),
                    branch,
                    os.getpid(),
                    _host(),
                    None if budget is None else dumps(budget),
                    None if forked_from is None else dumps(forked_from),
                    None if env is None else dumps(env),
                ),
            )
        return rid

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        answer: str | None = None,
        correct: bool | None = None,
        score: float | None = None,
        error: str | None = None,
        metrics: dict[str, float] | None = None,
        eval_error: str | None = None,
    ) -> None:
        """Close a run with its outcome (committed with every event written before it).

        eval_error: why the answer could not be judged (the env's check failed to run), apart from `error`.
        """
        with self._c.write() as conn:
            conn.execute(
                "update runs set status=?, answer=?, correct=?, score=?, error=?, ended_at=?, metrics_json=?,"
                " eval_error=? where id=?",
                (
                    status,
                    redact_opt(answer),
                    None if correct is None else int(correct),
                    score,
                    redact_opt(error),
                    now(),
                    json.dumps(metrics, sort_keys=True) if metrics else None,
                    redact_opt(eval_error),
                    run_id,
                ),
            )

    def reopen_run(self, run_id: str) -> None:
        """Mark a finished run `running` again, in this process (a `ponder proxy` session's next call);
        its outcome is written anew by `finish_run`."""
        with self._c.write() as conn:
            conn.execute(
                "update runs set status='running', ended_at=null, pid=?, host=? where id=?",
                (os.getpid(), _host(), run_id),
            )

    def add_usage(
        self,
        run_id: str,
        prompt_tokens: int,
        completion_tokens: int,
        calls: int,
        cost_usd: float | None,
    ) -> None:
        """Add to a run's own usage and to the totals of it and every run above it (calls, tokens, cost).

        A None cost (an unknown price) leaves the costs as they are.
        """
        # one statement: the run's own usage, and the totals of it and every run above it
        with self._c.write() as conn:
            conn.execute(
                "update runs set"
                " prompt_tokens = prompt_tokens + case when id = :rid then :p else 0 end,"
                " completion_tokens = completion_tokens + case when id = :rid then :c else 0 end,"
                " calls = calls + case when id = :rid then :n else 0 end,"
                " cost_usd = case when :cost is null or id != :rid then cost_usd"
                " else coalesce(cost_usd, 0) + :cost end,"
                " total_prompt_tokens = total_prompt_tokens + :p,"
                " total_completion_tokens = total_completion_tokens + :c, total_calls = total_calls + :n,"
                " total_cost_usd = case when :cost is null then total_cost_usd"
                " else coalesce(total_cost_usd, 0) + :cost end"
                " where id in (with recursive up(id) as (select :rid union select r.parent_id from runs r"
                " join up on r.id = up.id where r.parent_id is not null) select id from up)",
                {"rid": run_id, "p": prompt_tokens, "c": completion_tokens, "n": calls, "cost": cost_usd},
            )

    def run_totals(self, run_id: str) -> RunTotals:
        """A run's calls, tokens and cost with every run below it (what `get_run` and `list_runs` show)."""
        row = self._c.one(
            "select total_calls, total_prompt_tokens, total_completion_tokens, total_cost_usd,"
            " calls, prompt_tokens, completion_tokens, cost_usd from runs where id = ?",
            (run_id,),
        )
        if row is None:  # a prefix of an id, or no such run (said by get_run)
            return RunTotals.of(self.get_run(run_id))
        calls, prompt, completion, cost = row[:4] if row[0] is not None else row[4:]
        return RunTotals(calls=calls, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)

    def cut_calls(self, run_id: str) -> int:
        """How many calls of a run and of every run below it stopped at their token limit (a choice whose
        `finish_reason` is "length"): a completion cut off, which a judge then scores as it stands."""
        row = self._c.one(_CUT_CALLS, (run_id,))
        return int(row[0]) if row else 0

    def own_usage(self, run_id: str) -> RunTotals:
        """A run's own calls, tokens and cost, without its child runs'."""
        row = self._c.rows(
            "select calls, prompt_tokens, completion_tokens, cost_usd from runs where id = ?",
            (self.resolve_run_id(run_id),),
        )[0]
        return RunTotals(**row)

    def resolve_run_id(self, run_id: str) -> str:
        """The full id of the run that `run_id` names (a unique prefix is enough)."""
        run_id = run_id.strip()
        if not run_id:
            raise StoreError("no run id given; `ponder runs` lists them")
        ids = self._c.column(
            "select id from runs where id >= ? and id < ? order by id limit 2", (run_id, run_id + "\uffff")
        )
        if not ids:
            raise StoreError(f"no run {run_id!r} in {self.path}; `ponder runs` lists them")
        if len(ids) > 1 and ids[0] != run_id:
            raise StoreError(f"run id {run_id!r} is ambiguous; give more characters")
        return str(ids[0])

    def get_run(self, run_id: str) -> RunRecord:
        """One run (its own totals; `run_totals` adds its child runs')."""
        rid = self.resolve_run_id(run_id)
        return run_from_row(self._c.rows("select * from runs where id = ?", (rid,))[0])

    def child_runs(self, run_id: str) -> list[RunRecord]:
        """The runs started inside a run (Reflexion's trials), oldest first."""
        rows = self._c.rows("select * from runs where parent_id = ? order by started_at, id", (run_id,))
        return [run_from_row(r) for r in rows]

    def descendant_run_ids(self, run_id: str) -> list[str]:
        """The run and every run below it, parents first."""
        return [
            str(x)
            for x in self._c.column(
                "with recursive t(id) as (select ? union all select r.id from runs r join t on r.parent_id = t.id)"
                " select id from t",
                (run_id,),
            )
        ]

    # -- experiments -------------------------------------------------------------------

    def create_experiment(self, name: str, config: dict[str, Any] | None = None, exp_id: str | None = None) -> str:
        """Write a new experiment (a sweep's config); returns its id."""
        eid = exp_id or new_id()
        with self._c.write() as conn:
            conn.execute(
                "insert into experiments (id, name, config_json, created_at) values (?,?,?,?)",
                (eid, name, dumps(config or {}), now()),
            )
        return eid

    def get_experiment(self, exp_id: str) -> dict[str, Any]:
        """One experiment row with its `config` decoded (a unique id prefix is enough)."""
        import json

        rows = self._c.rows(
            "select * from experiments where id >= ? and id < ? order by id limit 2", (exp_id, exp_id + "\uffff")
        )
        if not rows:
            raise StoreError(f"no experiment {exp_id!r} in {self.path}")
        if len(rows) > 1 and rows[0]["id"] != exp_id:
            raise StoreError(f"experiment id {exp_id!r} is ambiguous; give more characters")
        row = rows[0]
        return {**row, "config": json.loads(row["config_json"])}
