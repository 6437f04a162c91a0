"""Experiments: run a strategy over an environment's tasks, summarize accuracy and cost, compare.

`bench(agent, env, ...)` runs every task (or the first `n`) concurrently, each as a recorded
run carrying the experiment's id, and returns an `Experiment` rebuilt from the trace store,
so what `bench` returns and what `Experiment.load` reads back later are the same thing.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, computed_field

from ponder import registry
from ponder.agents.budget import Budget
from ponder.agents.context import Agent
from ponder.agents.runner import ended_without_answer, env_evaluator, env_tools, run_agent
from ponder.backends.base import Backend
from ponder.envs.base import Env
from ponder.errors import ConfigError, PonderError
from ponder.metrics import pass_at_k_table
from ponder.oracle import oracle
from ponder.traces.events import RunRecord
from ponder.traces.store import TraceStore, default_db_path, new_id
from ponder.types import Task


class TaskResult(BaseModel):
    """How one task of an experiment went (its last run: the finished one if there is one)."""

    task_id: str
    input: str = ""
    expected: str | None = None
    run_id: str
    status: str
    answer: str | None = None
    correct: bool | None = None
    score: float | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float | None = None
    error: str | None = None
    oracle: bool | None = None
    oracle_kind: str | None = None
    started_at: float = 0.0
    ended_at: float | None = None
    problem: str | None = None  # the problem this task samples (env `samples` > 1), for pass@k


class Summary(BaseModel):
    """The figures of an experiment. Errored tasks count as failures in `accuracy` and `mean_score`.

    metric: "accuracy" when the env judges right/wrong, else "mean_score" (reward, F1, pass@1).
    cost_usd: None when some run's price is unknown (never invented).
    wall_s: time covered by the runs (the union of their intervals, so the pause between
        an interrupted experiment and its resumption is not counted).
    p50_s / p95_s: per-task latency (nearest-rank percentiles).
    pass_at_k: {"pass@1": …, "pass@k": …} over the problems, when the tasks are samples of problems
        (an env's `samples`; unbiased estimator, errored samples count as failed).
    error_reasons: why tasks failed: the first line of each error, with how many tasks it stopped.
    """

    n: int = 0
    ok: int = 0
    errors: int = 0
    correct: int = 0
    metric: str = "accuracy"
    accuracy: float | None = None
    mean_score: float | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    wall_s: float = 0.0
    p50_s: float | None = None
    p95_s: float | None = None
    pass_at_k: dict[str, float] = Field(default_factory=dict)
    oracle_kind: str | None = None
    oracle_correct: int | None = None
    oracle_accuracy: float | None = None
    error_reasons: dict[str, int] = Field(default_factory=dict)

    def errors_text(self) -> str:
        """The error count with its reasons, most common first: `2 (BackendError: 500 ×2)`."""
        if not self.error_reasons:
            return str(self.errors)
        reasons = sorted(self.error_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = "; ".join(f"{r} ×{n}" if n > 1 else r for r, n in reasons[:3])
        more = f"; {len(reasons) - 3} more reasons" if len(reasons) > 3 else ""
        return f"{self.errors} ({shown}{more})"

    @property
    def value(self) -> float | None:
        """The headline figure: accuracy, or mean score where there is no right/wrong."""
        return self.accuracy if self.metric == "accuracy" else self.mean_score

    @computed_field  # type: ignore[prop-decorator]
    @property
    def per_1k_tokens(self) -> float | None:
        """The headline figure per 1,000 tokens per task: for accuracy, correct answers per 1k tokens spent."""
        tokens = self.prompt_tokens + self.completion_tokens
        if self.value is None or tokens == 0:
            return None
        return self.value * self.n * 1000 / tokens


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _union_length(intervals: Iterable[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def error_reason(error: str | None, limit: int = 100) -> str:
    """One short line saying why a task failed (its error's first line)."""
    line = (error or "").strip().splitlines()[0] if (error or "").strip() else "no reason recorded"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def summarize_results(results: list[TaskResult]) -> Summary:
    """The summary figures of a list of task results."""
    n = len(results)
    ok = [r for r in results if r.status == "ok"]
    correct = sum(1 for r in results if r.correct)
    judged = any(r.correct is not None for r in results)
    scored = any(r.score is not None for r in results)
    known_costs = [r.cost_usd for r in results if r.cost_usd is not None]
    cost_known = bool(known_costs) and all(r.cost_usd is not None for r in ok if r.calls)
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    spans = [(r.started_at, r.ended_at) for r in results if r.ended_at is not None]
    # "any of b" (tree search) or "best of k" (sampling), where every judged run has one
    kinds = {r.oracle_kind for r in results if r.oracle_kind is not None}
    oracle_kind = kinds.pop() if len(kinds) == 1 else None
    oracle_correct = sum(1 for r in results if r.oracle) if oracle_kind is not None else None
    return Summary(
        oracle_kind=oracle_kind,
        oracle_correct=oracle_correct,
        oracle_accuracy=oracle_correct / n if oracle_correct is not None and n else None,
        n=n,
        ok=len(ok),
        errors=n - len(ok),
        correct=correct,
        metric="accuracy" if judged or not scored else "mean_score",
        accuracy=correct / n if n and judged else None,
        mean_score=sum(r.score or 0.0 for r in results) / n if n and scored else None,
        calls=sum(r.calls for r in results),
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        cost_usd=sum(known_costs) if cost_known else None,
        wall_s=_union_length(spans),
        p50_s=_percentile(latencies, 0.50),
        p95_s=_percentile(latencies, 0.95),
        pass_at_k=_pass_at_k(results),
        error_reasons=dict(Counter(error_reason(r.error) for r in results if r.status != "ok")),
    )


def _pass_at_k(results: list[TaskResult]) -> dict[str, float]:
    if not any(r.problem for r in results):
        return {}
    counts: dict[str, tuple[int, int]] = {}
    for r in results:
        n, c = counts.get(r.problem or r.task_id, (0, 0))
        counts[r.problem or r.task_id] = (n + 1, c + bool(r.correct))
    return pass_at_k_table(counts)


def _totals(store: TraceStore, run: RunRecord) -> tuple[int, int, int, float | None]:
    """Calls, prompt and completion tokens and cost of a run with its child runs (Reflexion trials)."""
    t = store.run_totals(run.id)
    return t.calls, t.prompt_tokens, t.completion_tokens, t.cost_usd


def _oracle_of(run: RunRecord, store: TraceStore, env: Any) -> tuple[bool | None, str | None]:
    # a run that failed has no final candidates to judge; one that found no answer has them all wrong
    if env is None or (run.status != "ok" and not ended_without_answer(run.status, run.answer, run.error)):
        return None, None
    try:
        return oracle(store, run.id, Task.model_validate(run.task), env)
    except (PonderError, ValueError):  # a task or event the env cannot read: no oracle figure
        return None, None


def _result_of(run: RunRecord, store: TraceStore, error: str | None = None, env: Any = None) -> TaskResult:
    task = run.task
    calls, prompt_tokens, completion_tokens, cost = _totals(store, run)
    hit, kind = _oracle_of(run, store, env)
    return TaskResult(
        oracle=hit,
        oracle_kind=kind,
        task_id=str(task.get("id", run.id)),
        input=str(task.get("input", "")),
        expected=task.get("expected"),
        run_id=run.id,
        status=run.status,
        answer=run.answer,
        correct=run.correct,
        score=run.score,
        calls=calls,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost,
        latency_s=run.wall_s,
        error=error or run.error,
        started_at=run.started_at,
        ended_at=run.ended_at,
        problem=_problem_of(task),
    )


def result_of_run(store: TraceStore, run_id: str, *, env: Any = None, error: str | None = None) -> TaskResult:
    """How the task that run `run_id` ran went (`error`: why, where the run row does not say)."""
    return _result_of(store.get_run(run_id), store, error, env=env)


def _problem_of(task: dict[str, Any]) -> str | None:
    md = task.get("metadata")
    problem = md.get("problem") if isinstance(md, dict) else None
    return str(problem) if problem is not None else None


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _md_cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def _env_of(config: Mapping[str, Any]) -> Any:
    """The experiment's env rebuilt from its config (None where it cannot be: an oracle is then not shown)."""
    name = config.get("env")
    if not isinstance(name, str):
        return None
    try:
        return registry.build("envs", name, config.get("env_config") or {}, "env")
    except PonderError:
        return None


class Experiment:
    """An experiment: its id, name and config, the per-task results and their summary.

    Build one with `bench`/`abench`, or read one back with `Experiment.load(store, exp_id)`.
    """

    def __init__(
        self,
        id: str,
        name: str,
        config: dict[str, Any],
        results: list[TaskResult],
        store: TraceStore | None = None,
        created_at: float | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.config = config
        self.results = results
        self.store = store
        self.created_at = created_at
        self.summary = summarize_results(results)

    def __repr__(self) -> str:
        s = self.summary
        return f"Experiment({self.id!r}, {self.name!r}, n={s.n}, {s.metric}={_fmt(s.value)}, errors={s.errors})"

    @classmethod
    def load(cls, store: TraceStore, exp_id: str) -> Experiment:
        """Rebuild an experiment from the store: for each task, its finished run (else its last run)."""
        row = store.get_experiment(exp_id)
        runs = store.list_runs(experiment_id=row["id"], limit=1_000_000, top_level=True)
        runs.sort(key=lambda r: (r.started_at, r.id))
        by_task: dict[str, RunRecord] = {}
        for r in runs:
            tid = str(r.task.get("id", r.id))
            prev = by_task.get(tid)
            if prev is None or prev.status != "ok" or r.status == "ok":
                by_task[tid] = r
        first_seen: dict[str, tuple[float, str]] = {}
        for r in runs:
            first_seen.setdefault(str(r.task.get("id", r.id)), (r.started_at, r.id))
        order = sorted(by_task, key=lambda t: first_seen[t])
        env = _env_of(row["config"])
        return cls(
            row["id"],
            row["name"],
            row["config"],
            [_result_of(by_task[t], store, env=env) for t in order],
            store=store,
            created_at=row.get("created_at"),
        )

    def to_rows(self) -> list[dict[str, Any]]:
        """One plain dict per task (for pandas, CSV or JSON)."""
        return [
            {"experiment_id": self.id, **r.model_dump(mode="json", exclude={"started_at", "ended_at"})}
            for r in self.results
        ]

    def to_dict(self) -> dict[str, Any]:
        """The whole experiment as plain data: id, name, config, summary and per-task rows."""
        return {
            "id": self.id,
            "name": self.name,
            "config": self.config,
            "summary": self.summary.model_dump(mode="json"),
            "results": self.to_rows(),
        }

    def solved(self) -> set[str]:
        """The ids of the tasks this experiment got right (correct, or full score where unjudged)."""
        return {
            r.task_id
            for r in self.results
            if r.correct or (r.correct is None and r.score is not None and r.score >= 1.0)
        }

    def to_markdown(self) -> str:
        """A Markdown report: the configuration and summary, then one row per task."""
        s, c = self.summary, self.config
        lines = [
            f"# Experiment {self.id} — {self.name}",
            "",
            f"- agent: {c.get('agent')} {c.get('agent_config') or ''}".rstrip(),
            f"- env: {c.get('env')} {c.get('env_config') or ''}".rstrip(),
            f"- backend: {c.get('backend')} · model: {c.get('model')} · seed: {c.get('seed')}",
            "",
            "| metric | value |",
            "|---|---|",
            f"| tasks | {s.n} |",
            f"| {s.metric} | {_fmt(s.value)} |",
            *([f"| {s.oracle_kind} (oracle) | {_fmt(s.oracle_accuracy)} |"] if s.oracle_kind else []),
            f"| errors | {_md_cell(s.errors_text())} |",
            f"| calls | {s.calls} |",
            f"| prompt tokens | {s.prompt_tokens} |",
            f"| completion tokens | {s.completion_tokens} |",
            f"| cost (USD) | {_fmt(s.cost_usd, 6)} |",
            f"| wall (s) | {_fmt(s.wall_s, 2)} |",
            f"| latency p50 / p95 (s) | {_fmt(s.p50_s, 2)} / {_fmt(s.p95_s, 2)} |",
            *(f"| {k} | {_fmt(v)} |" for k, v in s.pass_at_k.items()),
            "",
            "| task | run | status | answer | expected | correct | score | calls | tokens | latency (s) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.results:
            cells = [
                r.task_id,
                r.run_id,
                r.status,
                r.answer,
                r.expected,
                r.correct,
                r.score,
                r.calls,
                r.prompt_tokens + r.completion_tokens,
                None if r.latency_s is None else round(r.latency_s, 2),
            ]
            lines.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
        return "\n".join(lines)


@dataclass(frozen=True)
class Progress:
    """What a `progress` callback of `bench` is told after each task finishes."""

    done: int
    total: int
    correct: int
    errors: int
    tokens: int
    last: TaskResult | None = None
    experiment_id: str = ""

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.done if self.done else None


ProgressCallback = Callable[[Progress], None]


def _agent_wants_env(env: Env | None) -> bool:
    # an env that an agent works *with* (Tree-of-Thoughts takes Game of 24's prompts, ReAct
    # acts in household) rather than one that only hands out questions and scores answers
    return env is not None and (env.searchable or env.interactive or env.answer_format)


def build_agent(name: str, config: Mapping[str, Any] | None = None, *, env: Env | None = None) -> Agent:
    """The registered agent `name` configured by `config`, through `registry.build`.

    env: the env instance the agent will run on; an agent with an `env` option not set in
        `config` gets the env's name (and its options, as `env_config`, where the agent
        has that option) when the env is one agents work with: one with a Tree-of-Thoughts
        problem (`thought_problem`) or an interactive one.
    """
    config = dict(config or {})
    options = registry.options("agents", name)
    agent: Agent
    if env is not None and "env" in options and "env" not in config and _agent_wants_env(env):
        filled = {**config, "env": env.name}
        if "env_config" in options and "env_config" not in config and _config_dict(env):
            filled["env_config"] = _config_dict(env)
        try:
            agent = registry.build("agents", name, filled, "agent")
            return agent
        except ConfigError:
            pass
    agent = registry.build("agents", name, config, "agent")
    return agent


def _config_dict(obj: Any) -> dict[str, Any]:
    return obj.model_dump(mode="json") if isinstance(obj, BaseModel) else {}


def _first_problems(tasks: Iterable[Task], n: int) -> Iterator[Task]:
    """The tasks of the first `n` problems (the samples of one problem, `metadata["problem"]`, count once)."""
    seen: set[str] = set()
    for t in tasks:
        key = str(t.metadata.get("problem", t.id))
        if key not in seen and len(seen) == n:
            return
        seen.add(key)
        yield t


def check_shard(shard: tuple[int, int]) -> None:
    """Refuse a shard that does not name one of n slices (`ConfigError`)."""
    i, n = shard
    if n < 1:
        raise ConfigError(f"--shard {i}/{n}: the number of shards must be at least 1")
    if not 1 <= i <= n:
        raise ConfigError(f"--shard {i}/{n}: the shard must be between 1 and {n}")


def parse_shard(text: str) -> tuple[int, int]:
    """`"I/N"` as (i, n), checked."""
    try:
        i, n = (int(p) for p in text.strip().split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: write it as I/N, e.g. 2/4") from None
    check_shard((i, n))
    return i, n


def shard_slice(tasks: list[Task], shard: tuple[int, int]) -> list[Task]:
    """The i-th of n fixed slices of `tasks` (1-based): every n-th task, starting at the i-th."""
    i, n = shard
    return tasks[i - 1 :: n]


def sweep_id(config: Mapping[str, Any]) -> str:
    """The experiment id every shard of one sweep shares: a hash of what defines the sweep."""
    import hashlib
    import json

    keep = {k: v for k, v in config.items() if k not in ("concurrency",)}
    digest = hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()
    return "s" + digest[:11]


def _take(env: Env, n: int | None) -> list[Task]:
    if n is not None and n <= 0:
        raise ConfigError(f"n must be at least 1 (got {n}); leave it out to run every task")
    tasks = env.tasks()
    chosen = list(tasks if n is None else _first_problems(tasks, n))
    if not chosen:
        raise ConfigError(f"env {env.name!r} has no tasks")
    ids = [t.id for t in chosen]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ConfigError(f"env gives two tasks with the id {dup!r}; task ids must be unique to resume and compare")
    return chosen


def _check_resumable(previous: dict[str, Any], agent: str, env: str, agent_config: dict[str, Any], seed: int) -> None:
    """Refuse to resume an experiment with another agent, env, agent options or seed."""
    eid = previous["id"]
    for what, have in (("agent", agent), ("env", env)):
        if previous.get(what) not in (None, have):
            raise ConfigError(
                f"experiment {eid} ran {what} {previous.get(what)!r}, not {have!r}; resume it with the same {what}"
            )
    old = previous.get("agent_config")
    if old is not None and old != agent_config:
        keys = sorted(k for k in set(old) | set(agent_config) if old.get(k) != agent_config.get(k))
        raise ConfigError(
            f"experiment {eid} ran its agent with other options ({', '.join(keys)}); resume it with the same"
        )
    if previous.get("seed") not in (None, seed):
        raise ConfigError(f"experiment {eid} ran with seed {previous['seed']}; resume it with seed {previous['seed']}")


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep runs: its built agent and env, its tasks (this shard's) and its experiment config."""

    agent: Agent
    env: Env
    tasks: list[Task]
    config: dict[str, Any]

    @property
    def sweep_id(self) -> str:
        """The experiment id every shard of this sweep shares."""
        return sweep_id(self.config)

    @property
    def default_name(self) -> str:
        """The experiment's name when none is given: `AGENT on ENV`."""
        return f"{self.config['agent']} on {self.config['env']}"


def plan_sweep(
    agent: Any,
    env: Any,
    backend: Backend,
    *,
    n: int | None = None,
    seed: int = 0,
    concurrency: int = 8,
    config: Mapping[str, Any] | None = None,
    env_config: Mapping[str, Any] | None = None,
    budget: Budget | None = None,
    shard: tuple[int, int] | None = None,
    previous: Mapping[str, Any] | None = None,
) -> SweepPlan:
    """Build the agent and env of a sweep, take its tasks (the shard's slice) and make its config.

    The same arguments give the same plan on every machine (the Ray executor's driver and
    workers both plan). previous: the config of an experiment being resumed (checked to match).
    """
    agent_name = agent if isinstance(agent, str) else agent.name
    env_name = env if isinstance(env, str) else env.name
    the_env = registry.build("envs", env, env_config, "env") if isinstance(env, str) else env
    the_agent = build_agent(agent, config, env=the_env) if isinstance(agent, str) else agent
    if previous is not None:
        _check_resumable(dict(previous), agent_name, env_name, _config_dict(the_agent), seed)
    tasks = _take(the_env, n)
    exp_config: dict[str, Any] = {
        "agent": agent_name,
        "agent_config": _config_dict(the_agent),
        "env": env_name,
        "env_config": _config_dict(the_env) or dict(env_config or {}),
        "backend": backend.name,
        "model": backend.model,
        "n": n,
        "tasks": len(tasks),
        "seed": seed,
        "concurrency": concurrency,
        "budget": None if budget is None else budget.model_dump(mode="json"),
    }
    if shard is not None:
        exp_config["shards"] = shard[1]
        tasks = shard_slice(tasks, shard)
    return SweepPlan(agent=the_agent, env=the_env, tasks=tasks, config=exp_config)


async def abench(
    agent: Any,
    env: Any,
    backend: Backend | None = None,
    n: int | None = None,
    concurrency: int = 8,
    store: TraceStore | None = None,
    seed: int = 0,
    config: Mapping[str, Any] | None = None,
    resume: str | None = None,
    progress: ProgressCallback | None = None,
    *,
    env_config: Mapping[str, Any] | None = None,
    budget: Budget | None = None,
    name: str | None = None,
    shard: tuple[int, int] | None = None,
    skip: Collection[str] = (),
) -> Experiment:
    """Run `agent` over the first `n` tasks of `env` (all if None), `concurrency` at a time.

    agent: an agent instance, or a registered name configured by `config`.
    env: an env instance, or a registered name configured by `env_config`.
    backend: None means the one flags/env/config select (`resolve_backend()`).
    store: where runs go (None: the default trace database).
    resume: an experiment id; its tasks that finished ok are skipped, the rest run again
        under the same id (same agent, options, env and seed; `n` defaults to the experiment's).
    progress: called after each task with a `Progress`.
    shard: (i, n): run only the i-th of n fixed slices of the task list (1-based; task k goes to
        slice k mod n, the same on every machine). The shards of one sweep share one experiment
        id (made from its config), so `ponder merge` unifies them.
    skip: ids of tasks not to run (finished elsewhere: the Ray executor's driver passes the
        tasks its store already has).
    A task that fails (a backend error, a budget, an agent bug) is an errored run, counted, not fatal.
    """
    if shard is not None:
        check_shard(shard)
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1 (got {concurrency})")
    if n is not None and n <= 0:
        raise ConfigError(f"n must be at least 1 (got {n}); leave it out to run every task")
    if store is None:
        store = TraceStore(default_db_path())
    previous: dict[str, Any] | None = None
    if resume is not None:
        row = store.get_experiment(resume)
        previous = {**row["config"], "id": row["id"]}
        if n is None:
            n = previous.get("n")
    if backend is None:
        from ponder.config import resolve_backend

        backend = resolve_backend()
    plan = plan_sweep(
        agent,
        env,
        backend,
        n=n,
        seed=seed,
        concurrency=concurrency,
        config=config,
        env_config=env_config,
        budget=budget,
        shard=shard,
        previous=previous,
    )
    the_agent, the_env, tasks, exp_config = plan.agent, plan.env, plan.tasks, plan.config
    if previous is not None or shard is not None:
        exp_id = previous["id"] if previous is not None else plan.sweep_id
        if previous is None:
            try:
                store.get_experiment(exp_id)
            except PonderError:
                store.create_experiment(name or plan.default_name, exp_config, exp_id=exp_id)
        finished = {str(r.task.get("id")) for r in store.list_runs(experiment_id=exp_id, limit=1_000_000, status="ok")}
        todo = [t for t in tasks if t.id not in finished and t.id not in skip]
    else:
        exp_id = store.create_experiment(name or plan.default_name, exp_config)
        todo = [t for t in tasks if t.id not in skip]

    problems: dict[str, str] = {}
    evaluator = env_evaluator(the_env, problems)
    queue: asyncio.Queue[Task] = asyncio.Queue()
    for t in todo:
        queue.put_nowait(t)
    done = correct = errors = tokens = 0
    total = len(todo)

    async def one(task: Task) -> None:
        nonlocal done, correct, errors, tokens
        run_id = new_id()
        failure = "never started"
        try:
            await run_agent(
                the_agent,
                task,
                backend=backend,
                store=store,
                tools=env_tools(the_env, task),
                seed=seed,
                budget=budget,
                experiment_id=exp_id,
                evaluator=evaluator,
                run_id=run_id,
                env=the_env,
            )
        except Exception as e:  # recorded as an errored run by run_agent (or it never started)
            failure = f"{type(e).__name__}: {e}"
        try:
            run = store.get_run(run_id)
        except PonderError:
            run = None
        result = (
            _result_of(run, store, problems.get(task.id), env=the_env)
            if run is not None
            else TaskResult(task_id=task.id, input=task.input, run_id=run_id, status="error", error=failure)
        )
        done += 1
        correct += bool(result.correct)
        errors += result.status != "ok"
        tokens += result.prompt_tokens + result.completion_tokens
        if progress is not None:
            progress(
                Progress(
                    done=done,
                    total=total,
                    correct=correct,
                    errors=errors,
                    tokens=tokens,
                    last=result,
                    experiment_id=exp_id,
                )
            )

    if progress is not None:
        progress(Progress(done=0, total=total, correct=0, errors=0, tokens=0, experiment_id=exp_id))

    async def worker() -> None:
        while True:
            try:
                task = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await one(task)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(total, 1)))))
    return Experiment.load(store, exp_id)


def bench(
    agent: Any,
    env: Any,
    backend: Backend | None = None,
    n: int | None = None,
    concurrency: int = 8,
    store: TraceStore | None = None,
    seed: int = 0,
    config: Mapping[str, Any] | None = None,
    resume: str | None = None,
    progress: ProgressCallback | None = None,
    **kw: Any,
) -> Experiment:
    """Sync wrapper of `abench` (for scripts and notebooks without a running event loop)."""
    return asyncio.run(
        abench(
            agent,
            env,
            backend=backend,
            n=n,
            concurrency=concurrency,
            store=store,
            seed=seed,
            config=config,
            resume=resume,
            progress=progress,
            **kw,
        )
    )


def compare(experiments: list[Experiment]) -> list[dict[str, Any]]:
    """For each ordered pair (a, b): the tasks a solved and b did not (by task id, both attempted)."""
    out = []
    for a, b in itertools.permutations(experiments, 2):
        common = {r.task_id for r in a.results} & {r.task_id for r in b.results}
        only = sorted((a.solved() - b.solved()) & common)
        out.append({"solved_by": a.id, "not_by": b.id, "tasks": only})
    return out
