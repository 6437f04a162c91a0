"""`ponder` command line (Typer): parse, call the API, print. Logic lives in the library."""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ponder import registry
from ponder._columns import Column, fitted_table
from ponder._text import escape_json_text, first_undecodable, json_text, safe_text
from ponder.config import parse_settings
from ponder.errors import ConfigError, PonderError
from ponder.traces.store import TraceStore, default_db_path


def _click_exceptions() -> Any:
    """click's exception classes as Typer raises them (Typer ≥ 0.2x vendors click as `typer._click`)."""
    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:
        return importlib.import_module("click.exceptions")


_CLICK = _click_exceptions()


class _OneLineErrors(typer.core.TyperGroup):
    """The `ponder` group: a usage error (missing argument, unknown option, bad value…) is one
    line on stderr and exit code 2, like ponder's own errors, not Typer's boxed panel."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except _CLICK.NoArgsIsHelpError as e:
            code = e.exit_code  # the help is already printed
        except _CLICK.ClickException as e:
            ctx = getattr(e, "ctx", None)
            where = f"{ctx.command_path}: " if ctx is not None else "ponder: "
            hint = f" (see {ctx.command_path} --help)" if isinstance(e, _CLICK.UsageError) and ctx is not None else ""
            err.print(Text(f"{where}{_one_line(e.format_message())}{hint}"))
            code = 2
        except typer.Abort:
            err.print("interrupted")
            code = 130
        else:
            if not standalone_mode:
                return rv
            code = rv if isinstance(rv, int) else 0
        if not standalone_mode:
            raise SystemExit(code)
        sys.exit(code)


def _one_line(message: str) -> str:
    return " ".join(safe_text(message).split())


app = typer.Typer(
    cls=_OneLineErrors,
    name="ponder",
    help="Run reasoning strategies (CoT, self-consistency, ToT, ReAct, Reflexion) against LLM backends; "
    "every step is recorded in SQLite and can be replayed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])
SQLITE_INT_MAX = 2**63 - 1  # seeds, limits and budgets are stored as SQLite integers

MaxCallsOpt = Annotated[
    int | None, typer.Option("--max-calls", help="Budget: most backend calls.", min=0, max=SQLITE_INT_MAX)
]
MaxTokensOpt = Annotated[
    int | None, typer.Option("--max-tokens", help="Budget: most tokens.", min=0, max=SQLITE_INT_MAX)
]
DbOpt = Annotated[
    Path | None, typer.Option("--db", help="Trace database (default: $PONDER_DB or ~/.local/share/ponder/traces.db).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
OtlpOpt = Annotated[
    str | None,
    typer.Option("--otlp", help="Also send the run as OpenTelemetry spans to this OTLP/HTTP endpoint (otel extra)."),
]


def _live_exporter(endpoint: str | None) -> Any:
    """The live OTLP exporter (`--otlp`, else $PONDER_OTLP_ENDPOINT with $PONDER_OTLP_HEADERS), or None.

    Each run is sent as soon as it finishes; a failure is one line on stderr, once (the runs are stored).
    """
    import os

    if not (endpoint or os.environ.get("PONDER_OTLP_ENDPOINT")):
        return None
    from ponder.export.otel import target_from
    from ponder.export.otel_live import LiveExporter

    headers = [h for h in os.environ.get("PONDER_OTLP_HEADERS", "").split(",") if h.strip()]
    target = target_from(endpoint, headers, content=True, env=os.environ)
    return (
        None
        if target is None
        else LiveExporter(target, report=lambda line: err.print(Text(f"ponder: {safe_text(line)}")))
    )


def handles_errors(fn: F) -> F:
    """Turn a `PonderError` into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PonderError as e:
            err.print(Text(f"ponder: {safe_text(e)}"))
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def open_store(db: Path | None, *, create: bool = True, readonly: bool = False) -> TraceStore:
    """The trace store at `db` (default path if None); `readonly` for commands that only read."""
    return TraceStore(db or default_db_path(), create=create and not readonly, readonly=readonly)


SHORT_ID = 8  # ids in narrow tables: a unique prefix is enough for every command that takes one


def _id_cell(run_id: str, width: int) -> str:
    """A run id for a table `width` cells wide: whole where there is room, a short prefix below 120."""
    return run_id if width >= 120 else run_id[:SHORT_ID]


def _cell(value: object) -> Text:
    """Untrusted text for one table cell: control sequences removed, on one line."""
    return Text(" ".join(safe_text(value).split()))


def print_json(payload: Any) -> None:
    """Every `--json` output goes through here: one line, control characters escaped (`json_text`).

    payload: a JSON-able value, or JSON text already made (e.g. an export).
    """
    print(escape_json_text(payload) if isinstance(payload, str) else json_text(payload))


def check_text_arg(name: str, value: str) -> str:
    """`value` (a command-line argument) if it is valid UTF-8, else a `ConfigError` saying where it is not."""
    bad = first_undecodable(value)
    if bad is not None:
        raise ConfigError(
            f"{name} is not valid UTF-8 text (byte {bad[1]} at character {bad[0]}); re-encode it as UTF-8"
        )
    return value


_BUDGET_KEYS = {"max_calls": "max_calls", "max_tokens": "max_tokens", "timeout": "timeout_s"}


def make_budget(max_calls: int | None, max_tokens: int | None, timeout: float | None) -> Any:
    """The run budget the flags describe; a `ConfigError` for a negative, NaN or infinite one."""
    from ponder.agents.budget import Budget

    try:
        return Budget(max_calls=max_calls, max_tokens=max_tokens, timeout_s=timeout)
    except ValidationError as e:
        first = e.errors()[0]
        flag = {"max_calls": "--max-calls", "max_tokens": "--max-tokens", "timeout_s": "--timeout"}[
            str(first["loc"][0])
        ]
        raise ConfigError(f"{flag} {first['input']}: {first['msg'].lower()}") from None


def _answer_text(result: Any) -> str:
    """A run's answer as printed, or why it has none ("(no answer: ReAct stopped after ...)")."""
    if result.answer is not None:
        return safe_text(result.answer)
    return f"({safe_text(result.error or 'no answer')})"


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


@app.command()
@handles_errors
def run(
    question: Annotated[str, typer.Argument(help="The question or task input.")],
    agent: Annotated[str, typer.Option("--agent", "-a", help="Strategy to run (see `ponder agents`).")] = "cot",
    backend: Annotated[
        str | None, typer.Option("--backend", "-b", help="local, openai, or a config profile name.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model name (or a .gguf path for local).")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (…/v1).")] = None,
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Env var holding the API key (default OPENAI_API_KEY).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Agent option key=value (repeatable), e.g. k=8.")
    ] = None,
    expected: Annotated[str | None, typer.Option("--expected", help="The right answer, to score the run.")] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed for the run's RNG and sampling.", min=0, max=SQLITE_INT_MAX)
    ] = 0,
    max_calls: MaxCallsOpt = None,
    max_tokens: MaxTokensOpt = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Budget: wall seconds.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    otlp: OtlpOpt = None,
) -> None:
    """Run one question with a strategy and print the answer (every step is recorded)."""
    from ponder.agents.runner import run_agent
    from ponder.config import make_backend, resolve_backend_config
    from ponder.traces.store import new_id
    from ponder.types import Task

    check_text_arg("the question", question)
    if not question.strip():
        raise ConfigError("the question is empty; give the agent something to think about")
    budget = make_budget(max_calls, max_tokens, timeout)
    the_agent = registry.build("agents", agent, parse_settings(set_ or []))
    cfg = resolve_backend_config(backend=backend, model=model, base_url=base_url, api_key_env=api_key_env)
    the_backend = make_backend(cfg)
    store = open_store(db)
    exporter = _live_exporter(otlp)
    task = Task.from_question(question, expected=expected)
    rid = new_id()
    try:
        if as_json or not err.is_terminal:
            result = asyncio.run(
                run_agent(the_agent, task, backend=the_backend, store=store, seed=seed, budget=budget, run_id=rid)
            )
        else:
            where = f"{the_backend.name}:{the_backend.model}"
            with err.status(Text(f"{agent} thinking on {where} …")) as status:
                counted = _ProgressBackend(
                    the_backend, lambda n, t: status.update(Text(f"{agent} on {where}: {n} calls, {t} tokens …"))
                )
                result = asyncio.run(
                    run_agent(the_agent, task, backend=counted, store=store, seed=seed, budget=budget, run_id=rid)
                )
    finally:
        if exporter is not None:
            exporter.run_finished(store, rid)
            exporter.close()
    if as_json:
        payload = {
            "run_id": result.run_id,
            "status": result.status,
            "answer": result.answer,
            "correct": result.correct,
            "usage": {
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
                "calls": result.calls,
            },
            "cost_usd": result.cost_usd,
            "error": result.error,
            "agent": agent,
            "backend": the_backend.name,
            "model": the_backend.model,
        }
        print_json(payload)
        return
    answer = _answer_text(result)
    out.print(Text.assemble(("answer: ", "bold"), answer))
    extra = f" · correct: {result.correct}" if result.correct is not None else ""
    cost = f" · ${result.cost_usd:.6f}" if result.cost_usd else ""
    calls = f"{result.calls} call{'s' * (result.calls != 1)}"
    out.print(
        Text(
            f"run {result.run_id} · {agent} on {the_backend.name}:{the_backend.model} · {calls} · "
            f"{result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens{cost}{extra}",
            style="dim",
        )
    )


@app.command()
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
    from ponder.forks import forks_under_origins

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


@app.command()
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
    from ponder.traces.export import iter_json, iter_markdown

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


def _registry_table(kind: registry.Kind) -> None:
    table = Table(box=None, header_style="bold")
    table.add_column("name")
    table.add_column("description")
    table.add_column("from", style="dim")
    for name, where, doc in registry.describe(kind):
        table.add_row(name, Text(doc), Text(where))
    out.print(table)


@app.command()
@handles_errors
def agents() -> None:
    """List the registered agents (strategies)."""
    _registry_table("agents")


@app.command()
@handles_errors
def backends() -> None:
    """List the registered backends and the profiles of the config file."""
    from ponder.config import default_config_path, load_profiles

    _registry_table("backends")
    profiles, default = load_profiles()
    if profiles:
        out.print(Text(f"\nprofiles in {default_config_path()}:", style="bold"))
        for name, p in profiles.items():
            mark = " (default)" if name == default else ""
            out.print(
                Text(f"  {name}{mark}: {p.get('backend', 'openai')} {p.get('model', '')} {p.get('base_url', '')}")
            )


BackendOpt = Annotated[str | None, typer.Option("--backend", "-b", help="local, openai, or a config profile name.")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name (or a .gguf path for local).")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (…/v1).")]
ApiKeyEnvOpt = Annotated[
    str | None, typer.Option("--api-key-env", help="Env var holding the API key (default OPENAI_API_KEY).")
]


def _summary_rows(exp: Any) -> list[tuple[str, str]]:
    s = exp.summary
    cost = "unknown" if s.cost_usd is None else f"${s.cost_usd:.6f}"

    def num(v: float | None, fmt: str = ".3f") -> str:
        return "–" if v is None else format(v, fmt)

    return [
        ("agent", str(exp.config.get("agent"))),
        ("env", str(exp.config.get("env"))),
        ("model", f"{exp.config.get('backend')}:{exp.config.get('model')}"),
        ("tasks", str(s.n)),
        (s.metric if s.oracle_kind is None else f"{s.metric} (top-1 / majority)", num(s.value)),
        *([(f"{s.oracle_kind} (oracle)", num(s.oracle_accuracy))] if s.oracle_kind else []),
        ("correct", str(s.correct)),
        ("errors", s.errors_text()),
        ("calls", str(s.calls)),
        ("tokens", f"{s.prompt_tokens} + {s.completion_tokens}"),
        (f"{s.metric} / 1k tokens", num(s.per_1k_tokens, ".4f")),
        ("budget / task", _budget_text(exp.config.get("budget"))),
        ("cost", cost),
        ("wall", f"{s.wall_s:.2f} s"),
        ("latency p50 / p95", f"{num(s.p50_s, '.2f')} / {num(s.p95_s, '.2f')} s"),
        *((k, num(v)) for k, v in s.pass_at_k.items()),
    ]


def _budget_text(budget: dict[str, Any] | None) -> str:
    parts = [
        f"{v} {label}"
        for key, label in (("max_calls", "calls"), ("max_tokens", "tokens"), ("timeout_s", "s"))
        if (v := (budget or {}).get(key)) is not None
    ]
    return ", ".join(parts) or "none"


def _print_experiment(exp: Any, max_rows: int = 30) -> None:
    from ponder.experiments import error_reason

    shown = exp.results[:max_rows]

    def ok(r: Any) -> Text:
        return Text("✓" if r.correct else ("✗" if r.correct is False or r.status != "ok" else ""))

    def answer(r: Any) -> Text:
        if r.status != "ok":
            return Text(safe_text(error_reason(r.error, 60)), style="red")
        return _cell("" if r.answer is None else r.answer)

    cols = [
        Column("task", [_cell(r.task_id) for r in shown], priority=1, flex=True, min_width=8, max_width=24),
        Column("run", [Text(_id_cell(r.run_id, out.width)) for r in shown], priority=6),
        Column("status", [Text(r.status) for r in shown], priority=2),
        Column("answer", [answer(r) for r in shown], priority=3, flex=True, min_width=8, max_width=40),
        Column("expected", [_cell("" if r.expected is None else r.expected) for r in shown], 4, True, 8, 24),
        Column("ok", [ok(r) for r in shown], priority=0),
        Column("calls", [Text(str(r.calls)) for r in shown], priority=7, justify="right"),
        Column("tokens", [Text(str(r.prompt_tokens + r.completion_tokens)) for r in shown], 5, justify="right"),
        Column("s", [Text("" if r.latency_s is None else f"{r.latency_s:.2f}") for r in shown], 8, justify="right"),
    ]
    tasks = fitted_table(cols, out.width, title=safe_text(f"experiment {exp.id} — {exp.name}"))
    out.print(tasks)
    if len(exp.results) > max_rows:
        out.print(Text(f"… {len(exp.results) - max_rows} more tasks (--json for all)", style="dim"))
    summary = Table(box=None, show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    for k, v in _summary_rows(exp):
        summary.add_row(k, Text(safe_text(v)))
    out.print(summary)


@app.command()
@handles_errors
def bench(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Environment (registered name).")] = None,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Strategy (see `ponder agents`).")] = None,
    n: Annotated[
        int | None, typer.Option("--n", "-n", help="Run the first N tasks (default: all).", max=SQLITE_INT_MAX)
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="Tasks run at once.", min=1, max=10_000)] = 8,
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Agent option key=value (repeatable).")] = None,
    env_set: Annotated[list[str] | None, typer.Option("--env-set", help="Env option key=value (repeatable).")] = None,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of every run (default 0).", min=0, max=SQLITE_INT_MAX)
    ] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Experiment id: rerun only its tasks that did not finish.")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="I/N: run only the I-th of N fixed slices of the tasks (then `ponder merge`)."),
    ] = None,
    max_calls: Annotated[
        int | None, typer.Option("--max-calls", help="Budget per task: most backend calls.", min=0, max=SQLITE_INT_MAX)
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="Budget per task: most tokens.", min=0, max=SQLITE_INT_MAX)
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Budget per task: wall seconds.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    otlp: OtlpOpt = None,
) -> None:
    """Run a strategy over an environment's tasks and summarize accuracy, tokens, cost and latency.

    --max-calls/--max-tokens give every task the same budget, so strategies compare at matched
    compute (a task that runs out is an error, counted); `ponder compare` and `ponder plot` then
    set accuracy against tokens.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ponder.config import make_backend, resolve_backend_config
    from ponder.experiments import abench, parse_shard

    the_shard = None if shard is None else parse_shard(shard)

    if n is not None and n <= 0:
        raise ConfigError(f"--n must be at least 1 (got {n}); leave it out to run every task")
    budget = make_budget(max_calls, max_tokens, timeout)
    store = open_store(db)
    agent_config = parse_settings(set_ or [])
    env_config = parse_settings(env_set or [])
    if resume is not None:
        prev = store.get_experiment(resume)["config"]
        if prev.get("budget") and max_calls is None and max_tokens is None and timeout is None:
            budget = make_budget(**{k: prev["budget"].get(v) for k, v in _BUDGET_KEYS.items()})
        agent = agent or prev.get("agent")
        env = env or prev.get("env")
        agent_config = {**(prev.get("agent_config") or {}), **agent_config}
        env_config = {**(prev.get("env_config") or {}), **env_config}
        seed = prev.get("seed", 0) if seed is None else seed
        if not (backend or model or base_url):
            backend, model = prev.get("backend"), prev.get("model")
    if not env or not agent:
        raise ConfigError("give --env NAME and --agent NAME (see `ponder agents`), or --resume EXP_ID")
    cfg = resolve_backend_config(backend=backend, model=model, base_url=base_url, api_key_env=api_key_env)
    the_backend = make_backend(cfg)
    exporter = _live_exporter(otlp)
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=10),
        MofNCompleteColumn(),
        TextColumn("acc {task.fields[acc]} {task.fields[tokens]} tok {task.fields[errors]} err"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, disable=as_json or not err.is_terminal, transient=False) as bar:
        tid = bar.add_task(agent, total=None, acc="–", tokens=0, errors=0)

        started: list[str] = []

        def on_progress(p: Any) -> None:
            if not started:
                started.append(p.experiment_id)
                bar.console.print(Text(f"experiment {p.experiment_id}: {agent} on {env}", style="dim"))
            acc = "–" if p.accuracy is None else f"{p.accuracy:.2f}"
            bar.update(tid, total=p.total, completed=p.done, acc=acc, tokens=p.tokens, errors=p.errors)
            if exporter is not None and p.last is not None:
                exporter.run_finished(store, p.last.run_id)  # sent now, in the background: not after the sweep

        coro = abench(
            agent,
            env,
            backend=the_backend,
            n=n,
            concurrency=concurrency,
            store=store,
            seed=seed or 0,
            config=agent_config,
            env_config=env_config,
            resume=resume,
            progress=on_progress,
            shard=the_shard,
            budget=None if budget == make_budget(None, None, None) else budget,
        )
        try:
            exp = asyncio.run(coro)
        except KeyboardInterrupt:
            bar.stop()
            hint = f"; finish it with: ponder bench --resume {started[0]}" if started else ""
            err.print(f"interrupted{hint}")
            raise typer.Exit(130) from None
        finally:
            if exporter is not None:
                exporter.close()
    if as_json:
        print_json(exp.to_dict())
        return
    _print_experiment(exp)


@app.command()
@handles_errors
def merge(
    shards: Annotated[list[Path], typer.Argument(help="Trace databases to merge (the shards of a sweep).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The database to merge into (created if missing).")],
    as_json: JsonOpt = False,
) -> None:
    """Merge trace databases into one (every run, event, call and memory row, ids kept); merging again adds nothing."""
    from ponder.traces.store import MergeReport

    out_path = output.expanduser().resolve()
    for s in shards:
        if s.expanduser().resolve() == out_path:
            raise ConfigError(f"{s} is also the output; merge into another file")
    sources = [TraceStore(s, readonly=True) for s in shards]
    total = MergeReport()
    with TraceStore(output) as target, target.atomic():  # all the sources or none
        for src in sources:
            total = total + target.merge_from(src)
            src.close()
    if as_json:
        print_json(total.model_dump())
        return
    out.print(
        Text(
            f"merged {len(shards)} store{'s' * (len(shards) != 1)} into {output}: {total.runs} runs, "
            f"{total.events} events, {total.llm_calls} llm calls, {total.tool_calls} tool calls, "
            f"{total.memory} memory rows, {total.experiments} experiments added; "
            f"{total.skipped_runs} runs were already there"
        )
    )


@app.command()
@handles_errors
def export(
    run_id: Annotated[str | None, typer.Argument(help="The run to export (with its child runs).")] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Export every run of this experiment instead.")
    ] = None,
    otlp: Annotated[str | None, typer.Option("--otlp", help="OTLP/HTTP endpoint, e.g. http://127.0.0.1:6006.")] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="Header NAME=VALUE sent to the endpoint (repeatable).")
    ] = None,
    no_content: Annotated[
        bool, typer.Option("--no-content", help="Leave out prompts, replies, tool arguments and results.")
    ] = False,
    project: Annotated[str, typer.Option("--project", help="Project name the trace tool files the runs under.")] = (
        "ponder"
    ),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send recorded runs as OpenTelemetry spans (GenAI + OpenInference attributes) to an OTLP/HTTP endpoint."""
    from ponder.export.otel import OTLPTarget, experiment_run_ids, export_runs, parse_headers

    if otlp is None:
        raise ConfigError("give --otlp URL (e.g. http://127.0.0.1:6006 for Phoenix)")
    if (run_id is None) == (experiment is None):
        raise ConfigError("give a RUN_ID or --experiment EXP_ID (one of them)")
    target = OTLPTarget(endpoint=otlp, headers=parse_headers(header or []), content=not no_content, project=project)
    target.traces_url()
    store = open_store(db, create=False)
    if experiment is not None:
        ids = experiment_run_ids(store, store.get_experiment(experiment)["id"])
    else:
        ids = [store.get_run(store.resolve_run_id(run_id or "")).id]
    report = export_runs(store, ids, target)
    if as_json:
        print_json(report.model_dump())
        return
    runs = f"{report.runs} run{'s' * (report.runs != 1)}"
    out.print(Text(f"exported {runs} as {report.spans} spans to {report.endpoint}"))


@app.command()
@handles_errors
def compare(
    exp_ids: Annotated[list[str], typer.Argument(help="Two or more experiment ids.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show experiments side by side, and the tasks one solved and another did not."""
    from ponder.experiments import Experiment
    from ponder.experiments import compare as compare_experiments

    if len(exp_ids) < 2:
        raise ConfigError("give at least two experiment ids to compare")
    store = open_store(db, readonly=True)
    exps = [Experiment.load(store, e) for e in exp_ids]
    pairs = compare_experiments(exps)
    if as_json:
        payload = {
            "experiments": [
                {"id": e.id, "name": e.name, "config": e.config, "summary": e.summary.model_dump()} for e in exps
            ],
            "solved_by_one_only": pairs,
        }
        print_json(payload)
        return
    table = Table(box=None, header_style="bold")
    table.add_column("", no_wrap=True)
    for e in exps:
        table.add_column(e.id)
    rows = [_summary_rows(e) for e in exps]
    for i, (label, _) in enumerate(rows[0]):
        table.add_row(label, *(Text(safe_text(r[i][1])) for r in rows))
    # the options that tell the experiments apart
    for part in ("agent_config", "env_config"):
        configs = [e.config.get(part) or {} for e in exps]
        keys = sorted(
            {k for c in configs for k in c if len({json.dumps(x.get(k), sort_keys=True) for x in configs}) > 1}
        )
        for k in keys:
            label = f"{part.split('_')[0]}.{k}"
            table.add_row(label, *(Text(safe_text(json.dumps(c.get(k)))[:40]) for c in configs))
    out.print(table)
    for p in pairs:
        tasks = ", ".join(p["tasks"][:20]) + (f" … (+{len(p['tasks']) - 20})" if len(p["tasks"]) > 20 else "")
        out.print(Text(f"solved by {p['solved_by']}, not by {p['not_by']} ({len(p['tasks'])}): {tasks or '—'}"))


@app.command()
@handles_errors
def plot(
    exp_ids: Annotated[list[str], typer.Argument(help="Experiment ids (one point each).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The chart file: .png or .svg.")],
    title: Annotated[str | None, typer.Option("--title", help="Chart title.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Chart accuracy against tokens per task, one point per experiment, the Pareto front marked."""
    from ponder.experiments import Experiment
    from ponder.plot import pareto_front, plot_experiments

    store = open_store(db, create=False)
    exps = [Experiment.load(store, e) for e in dict.fromkeys(exp_ids)]
    points = plot_experiments(exps, output, title=title)
    front = {points[i].experiment_id for i in pareto_front(points)}
    if as_json:
        rows = [{**vars(p), "pareto": p.experiment_id in front} for p in points]
        print_json({"output": str(output), "points": rows})
        return
    out.print(Text(f"wrote {output}: {len(points)} experiments, Pareto front: {', '.join(sorted(front))}"))


@app.command()
@handles_errors
def replay(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    db: Annotated[
        Path | None, typer.Option("--db", help="Trace database, or a .jsonl recording (default: $PONDER_DB).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-execute a recorded run on its recording and compare the events: exit 0 identical, 1 divergence."""
    from ponder.replay import replay as replay_run
    from ponder.traces.cassette import load_jsonl

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


corpus_app = typer.Typer(help="Build and query search corpora (ReAct's search/lookup tools).", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
CorpusDbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Corpus database (default: corpus.db beside the trace db, where ReAct looks)."),
]


def _corpus_db(db: Path | None) -> Path:
    return db or default_db_path().parent / "corpus.db"


@corpus_app.command("build")
@handles_errors
def corpus_build(
    file: Annotated[Path, typer.Argument(help='JSONL file, one {"title": ..., "text": ...} per line.')],
    db: CorpusDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build (or add to) a corpus from JSONL; bad lines are skipped, counted and reported."""
    from ponder.tools.search import build_corpus

    report = build_corpus(file, _corpus_db(db))
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        out.print(Text(safe_text(report.summary())))
    if report.added + report.replaced == 0:
        raise ConfigError(f"no usable lines in {file}; each line must be a JSON object with 'title' and 'text'")


@corpus_app.command("search")
@handles_errors
def corpus_search(
    entity: Annotated[str, typer.Argument(help="What to search for, as ReAct's search[entity].")],
    db: CorpusDbOpt = None,
) -> None:
    """Show what search[entity] answers from a corpus (the shipped example one if none is built)."""
    from ponder.tools.search import SearchTool, open_corpus

    path = _corpus_db(db)
    corpus = open_corpus(path if db is not None or path.is_file() else None)
    out.print(Text(safe_text(asyncio.run(SearchTool(corpus).acall(entity)))))


@app.command()
@handles_errors
def tui(
    db_arg: Annotated[Path | None, typer.Argument(metavar="[DB]", help="Trace database (same as --db).")] = None,
    db: DbOpt = None,
    serve: Annotated[bool, typer.Option("--serve", help="Serve the TUI to a browser on localhost.")] = False,
    port: Annotated[int, typer.Option("--port", help="Port for --serve.")] = 8000,
) -> None:
    """Browse runs, replay a trace step by step, or ask a question live (Textual TUI)."""
    if db_arg is not None and db is not None and db_arg.expanduser().resolve() != db.expanduser().resolve():
        raise ConfigError(f"two trace databases given ({db_arg} and --db {db}); give one")
    path = (db_arg or db or default_db_path()).expanduser()
    if path.exists():
        TraceStore(path, readonly=True).close()  # a corrupt or foreign file: one clear line, exit 2
    if serve:
        try:
            from textual_serve.server import Server
        except ImportError:
            raise ConfigError('--serve needs textual-serve: pip install -e ".[serve]"') from None
        command = f"{shlex.quote(sys.executable)} -m ponder.tui {shlex.quote(str(path))}"
        out.print(Text(f"serving the ponder TUI on http://localhost:{port} (ctrl+c stops)"))
        Server(command, host="localhost", port=port, title="ponder").serve()
        return
    from ponder.tui import run_tui  # only `ponder tui` imports textual

    code = run_tui(path)
    if code:
        raise typer.Exit(code)


@app.command("fork")
@handles_errors
def fork_cmd(
    run_id: Annotated[str, typer.Argument(help="The run to fork (a unique prefix is enough).")],
    at: Annotated[int, typer.Option("--at", help="Event seq of the model call or tool result to change.", min=1)],
    edit: Annotated[str | None, typer.Option("--edit", help="What that call returns instead.")] = None,
    edit_file: Annotated[Path | None, typer.Option("--edit-file", help="Read the edit from this file.")] = None,
    backend: Annotated[str | None, typer.Option("--backend", "-b", help="Live backend (default: the run's).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for the live calls.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (…/v1).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Agent option key=value for the fork (repeatable).")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-run a recorded run from one step with a change: the prefix is served from the recording, live after it."""
    from ponder.config import make_backend, resolve_backend_config
    from ponder.forks import afork

    if edit is not None and edit_file is not None:
        raise ConfigError("give the edit with --edit or --edit-file, not both")
    if edit_file is not None:
        try:
            edit = edit_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read --edit-file {str(edit_file)!r}: {e}") from None
    if edit is not None:
        check_text_arg("the edit", edit)
    store = open_store(db, create=False)
    rid = store.resolve_run_id(run_id)
    live = None
    if backend or model or base_url:
        origin = store.get_run(rid)
        cfg = resolve_backend_config(backend=backend or origin.backend, model=model, base_url=base_url)
        live = make_backend(cfg)
    result = asyncio.run(afork(store, rid, at=at, edit=edit, backend=live, settings=parse_settings(set_ or [])))
    info = result.metadata["fork"]
    if as_json:
        print_json(
            {
                "run_id": result.run_id,
                "forked_from": {"run_id": info["of"], "seq": at, "edit": edit},
                "status": result.status,
                "answer": result.answer,
                "correct": result.correct,
                "calls": result.calls,
                "live_calls": info["live_calls"],
                "served_calls": info["served"],
            }
        )
        return
    answer = _answer_text(result)
    out.print(Text.assemble(("answer: ", "bold"), answer))
    out.print(
        Text(
            f"fork {result.run_id} of {info['of']} at event {at} · {info['served']} calls served from the "
            f"recording · {info['live_calls']} live · compare: ponder diff {info['of']} {result.run_id}",
            style="dim",
        )
    )


@app.command("diff")
@handles_errors
def diff_cmd(
    run_a: Annotated[str, typer.Argument(help="A run id (a unique prefix is enough).")],
    run_b: Annotated[str, typer.Argument(help="Another run id.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare two runs step by step (aligned by branch): exit 0 identical, 1 when they differ."""
    from ponder.diff import diff_runs

    store = open_store(db, readonly=True)
    d = diff_runs(store, store.resolve_run_id(run_a), store, store.resolve_run_id(run_b))
    if as_json:
        print_json(d.to_dict())
    else:
        out.print(Text(safe_text(d.render())))
    if not d.identical:
        raise typer.Exit(1)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
