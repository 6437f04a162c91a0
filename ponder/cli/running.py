"""Single runs: `ponder run`, `runs`, `show` and `replay`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from ponder._util.columns import Column, fitted_table
from ponder._util.text import escape_json_text, safe_text
from ponder.cli._common import (
    SQLITE_INT_MAX,
    ApiKeyEnvOpt,
    BackendOpt,
    BaseUrlOpt,
    DbOpt,
    EnvSetOpt,
    JsonOpt,
    MaxCallsOpt,
    MaxTokensOpt,
    ModelOpt,
    _cell,
    _id_cell,
    answer_text,
    check_text_arg,
    err,
    handles_errors,
    make_budget,
    open_store,
    out,
    print_json,
)
from ponder.cli.otlp import OtlpOpt, _live_exporter
from ponder.errors import ConfigError

if TYPE_CHECKING:  # the command imports these when it runs
    from ponder.backends.base import Backend
    from ponder.envs.base import Env
    from ponder.runtime.budget import Budget
    from ponder.runtime.context import Agent
    from ponder.traces.store import TraceStore
    from ponder.types import Result, Task


class _ProgressBackend:
    """Passes calls through to a backend, reporting calls and tokens so far (for the spinner)."""

    def __init__(self, inner: Any, report: Callable[[int, int], None]) -> None:
        self.inner, self.report = inner, report
        self.name, self.model, self.capabilities = inner.name, inner.model, inner.capabilities
        self.free: bool = inner.free
        self.calls = self.tokens = 0

    async def complete(self, req: Any) -> Any:
        completion = await self.inner.complete(req)
        self.calls += 1
        self.tokens += completion.usage.total_tokens
        self.report(self.calls, self.tokens)
        return completion


QuestionArg = Annotated[str, typer.Argument(help="The question or task input.")]
RunAgentOpt = Annotated[str, typer.Option("--agent", "-a", help="Strategy to run (see `ponder agents`).")]
RunSetOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="Agent option key=value (repeatable), e.g. k=8.")
]
ExpectedOpt = Annotated[str | None, typer.Option("--expected", help="The right answer, to score the run.")]
RunEnvOpt = Annotated[
    str | None, typer.Option("--env", "-e", help="Run on this environment (registered name): its tools, scoring.")
]
RunSeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed", help="Seed of the run's RNG and sampling (default 0; or --set seed=N).", min=0, max=SQLITE_INT_MAX
    ),
]
RunTimeoutOpt = Annotated[float | None, typer.Option("--timeout", help="Budget: wall seconds.")]


@handles_errors
def run(
    question: QuestionArg,
    agent: RunAgentOpt = "cot",
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    set_: RunSetOpt = None,
    expected: ExpectedOpt = None,
    env: RunEnvOpt = None,
    env_set: EnvSetOpt = None,
    seed: RunSeedOpt = None,
    max_calls: MaxCallsOpt = None,
    max_tokens: MaxTokensOpt = None,
    timeout: RunTimeoutOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    otlp: OtlpOpt = None,
) -> None:
    """Run one question with a strategy and print the answer (every step is recorded)."""
    from ponder.backends.config import make_backend, resolve_backend_config
    from ponder.traces.store import new_id
    from ponder.types import Task

    check_text_arg("the question", question)
    if not question.strip():
        raise ConfigError("the question is empty; give the agent something to think about")
    budget = make_budget(max_calls, max_tokens, timeout)
    the_agent, the_env, seed = _agent_and_env(agent, set_, env, env_set, seed)
    cfg = resolve_backend_config(backend=backend, model=model, base_url=base_url, api_key_env=api_key_env)
    the_backend = make_backend(cfg)
    store = open_store(db)
    exporter = _live_exporter(otlp)
    task = Task.from_question(question, expected=expected)
    rid = new_id()
    try:
        spinner = None if as_json or not err.is_terminal else agent
        result = _run_one(the_agent, task, the_backend, store, seed, budget, rid, the_env, spinner=spinner)
    finally:
        if exporter is not None:
            exporter.run_finished(store, rid)
            exporter.close()
    eval_error = store.get_run(rid).eval_error  # the answer could not be judged (no sandbox, say)
    if as_json:
        print_json(_run_payload(result, eval_error, agent, the_backend))
        return
    _print_run(result, eval_error, agent, the_backend)


def _agent_and_env(
    agent: str, set_: list[str] | None, env: str | None, env_set: list[str] | None, seed: int | None
) -> tuple[Agent, Env | None, int]:
    """The strategy and env the flags name, and the run's seed (--seed, or `seed` in --set)."""
    from ponder import registry
    from ponder.backends.config import parse_settings, pop_seed

    if env_set and not env:
        raise ConfigError("--env-set sets options of an env: give --env NAME too")
    the_env = registry.build("envs", env, parse_settings(env_set or []), "env") if env else None
    settings = parse_settings(set_ or [])
    the_seed = pop_seed(settings, seed, agent) or 0
    if the_env is not None:
        from ponder.experiments.sweeps import build_agent  # as bench does: an env agents work with fills `env`

        return build_agent(agent, settings, env=the_env), the_env, the_seed
    return registry.build("agents", agent, settings), None, the_seed


def _run_one(
    the_agent: Agent,
    task: Task,
    backend: Backend,
    store: TraceStore,
    seed: int,
    budget: Budget | None,
    rid: str,
    env: Env | None,
    *,
    spinner: str | None,
) -> Result:
    """Run the task to its end; with `spinner` (the agent's name), a status line counts calls and tokens."""
    import asyncio

    from ponder.runtime.runner import run_agent

    if spinner is None:
        return asyncio.run(
            run_agent(the_agent, task, backend=backend, store=store, seed=seed, budget=budget, run_id=rid, env=env)
        )
    where = f"{backend.name}:{backend.model}"
    with err.status(Text(f"{spinner} thinking on {where} …")) as status:
        counted = _ProgressBackend(
            backend, lambda n, t: status.update(Text(f"{spinner} on {where}: {n} calls, {t} tokens …"))
        )
        return asyncio.run(
            run_agent(the_agent, task, backend=counted, store=store, seed=seed, budget=budget, run_id=rid, env=env)
        )


def _run_payload(result: Result, eval_error: str | None, agent: str, backend: Backend) -> dict[str, Any]:
    """What `ponder run --json` prints."""
    return {
        "run_id": result.run_id,
        "status": result.status,
        "answer": result.answer,
        "correct": result.correct,
        "eval_error": eval_error,
        "usage": {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "calls": result.calls,
        },
        "cost_usd": result.cost_usd,
        "error": result.error,
        "agent": agent,
        "backend": backend.name,
        "model": backend.model,
    }


def _print_run(result: Result, eval_error: str | None, agent: str, backend: Backend) -> None:
    """The answer, then one dim line: run id, strategy, backend, calls, tokens, cost, whether it was right."""
    out.print(Text.assemble(("answer: ", "bold"), answer_text(result)))
    extra = f" · correct: {result.correct}" if result.correct is not None else ""
    if eval_error is not None:
        extra = f" · not judged: {eval_error}"
    cost = f" · ${result.cost_usd:.6f}" if result.cost_usd else ""
    calls = f"{result.calls} call{'s' * (result.calls != 1)}"
    out.print(
        Text(
            f"run {result.run_id} · {agent} on {backend.name}:{backend.model} · {calls} · "
            f"{result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens{cost}{extra}",
            style="dim",
        )
    )


@handles_errors
def runs(
    db: DbOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="How many runs, newest first.", min=1, max=SQLITE_INT_MAX)
    ] = 20,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's runs.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs with this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded runs, newest first."""
    from ponder.traces.store import forks_under_origins

    store = open_store(db, readonly=True)
    rows = forks_under_origins(store.list_runs(limit=limit, agent=agent, status=status))
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        err.print(f'no runs in {store.path}; try `ponder run "What is 17 * 23?"`')
        return
    import datetime as dt

    def started(t: float) -> str:
        return dt.datetime.fromtimestamp(t).strftime("%m-%d %H:%M")

    # priority columns: at 80 the id, status, answer and question always show
    cols = [
        # a fork is marked and shown under its origin's id prefix
        Column("id", [Text(("↳ " if r.forked_from else "") + _id_cell(r.id, out.width)) for r in rows], priority=0),
        Column("started", [Text(started(r.started_at)) for r in rows], priority=7),
        Column("agent", [_cell(r.agent) for r in rows], priority=4, max_width=18),
        Column("model", [_cell(r.model or "") for r in rows], priority=8, max_width=24),
        Column("status", [Text(r.status) for r in rows], priority=1),
        Column("answer", [_cell(r.answer if r.answer is not None else "") for r in rows], 2, True, 10, 24),
        Column("calls", [Text(str(r.calls)) for r in rows], priority=5, justify="right"),
        Column("tokens", [Text(str(r.prompt_tokens + r.completion_tokens)) for r in rows], 6, justify="right"),
        Column("question", [_cell(r.question) for r in rows], priority=3, flex=True, min_width=24, max_width=80),
    ]
    out.print(fitted_table(cols, out.width))


@handles_errors
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    db: DbOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
    from_seq: Annotated[
        int | None, typer.Option("--from", help="Only the run's own events from this seq on (no child runs).", min=1)
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="At most this many events (no child runs).", min=1)
    ] = None,
) -> None:
    """Show a recorded run: its events, llm calls and tool calls (streamed: any length, constant memory)."""
    from ponder.export.document import iter_json, iter_markdown

    if fmt not in ("md", "json"):
        raise ConfigError(f"--format {fmt!r}: choose md or json")
    store = open_store(db, readonly=True)
    rid = store.resolve_run_id(run_id)
    after = 0 if from_seq is None else min(from_seq, 2**62) - 1
    stream = sys.stdout
    if fmt == "json":
        for chunk in iter_json(store, rid, after_seq=after, limit=limit):
            stream.write(escape_json_text(chunk))
        stream.write("\n")
    else:
        batch: list[str] = []
        for line in iter_markdown(store, rid, after_seq=after, limit=limit):
            batch.append(safe_text(line))
            if len(batch) >= 500:
                stream.write("\n".join(batch) + "\n")
                batch.clear()
        stream.write("\n".join(batch) + ("\n" if batch else ""))
    stream.flush()


@handles_errors
def replay(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    db: Annotated[
        Path | None, typer.Option("--db", help="Trace database, or a .jsonl recording (default: $PONDER_DB).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-execute a recorded run on its recording and compare the events: exit 0 identical, 1 divergence."""
    from ponder.replay.cassette import load_jsonl
    from ponder.replay.rerun import replay as replay_run

    # a .jsonl recording (what `ponder_recording_format = jsonl` writes) is read into memory
    store = load_jsonl(db) if db is not None and db.suffix == ".jsonl" else open_store(db, readonly=True)
    report = replay_run(store, store.resolve_run_id(run_id))
    if as_json:
        print_json(report.to_dict())
    elif report.identical:
        out.print(Text(f"identical ({report.events} events, run {report.run_id})"))
    else:
        out.print(Text(safe_text(report.render())))
    if not report.identical:
        raise typer.Exit(1)
