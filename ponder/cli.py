"""`ponder` command line (Typer): parse, call the API, print. Logic lives in the library."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ponder import registry
from ponder._text import safe_text
from ponder.errors import ConfigError, PonderError
from ponder.traces.store import TraceStore, default_db_path

app = typer.Typer(
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

DbOpt = Annotated[
    Path | None, typer.Option("--db", help="Trace database (default: $PONDER_DB or ~/.local/share/ponder/traces.db).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


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


def open_store(db: Path | None, *, create: bool = True) -> TraceStore:
    return TraceStore(db or default_db_path(), create=create)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """`["k=8", "inner.temperature=0.5", "env=game24"]` -> nested dict; values parsed as JSON where they can be."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected key=value")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = settings
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {pair!r}: {part} is not a group of options")
        node[parts[-1]] = value
    return settings


def build_agent(name: str, settings: dict[str, Any]) -> Any:
    """The registered agent `name` configured by `settings` (pydantic validates; errors say which option)."""
    cls = registry.load("agents", name)
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        return cls(**settings)
    try:
        return cls.model_validate(settings)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            fields = ", ".join(sorted(cls.model_fields))
            raise ConfigError(f"--set {loc}: agent {name!r} has no option {loc!r}; its options: {fields}") from None
        raise ConfigError(f"--set {loc}: {first['msg']} (got {first.get('input')!r})") from None


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
    seed: Annotated[int, typer.Option("--seed", help="Seed for the run's RNG and sampling.")] = 0,
    max_calls: Annotated[int | None, typer.Option("--max-calls", help="Budget: most backend calls.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Budget: most tokens.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Budget: wall seconds.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one question with a strategy and print the answer (every step is recorded)."""
    from ponder.agents.base import Budget, run_agent
    from ponder.config import make_backend, resolve_backend_config
    from ponder.types import Task

    if not question.strip():
        raise ConfigError("the question is empty; give the agent something to think about")
    the_agent = build_agent(agent, parse_settings(set_ or []))
    cfg = resolve_backend_config(backend=backend, model=model, base_url=base_url, api_key_env=api_key_env)
    the_backend = make_backend(cfg)
    store = open_store(db)
    task = Task.from_question(question, expected=expected)
    budget = Budget(max_calls=max_calls, max_tokens=max_tokens, timeout_s=timeout)
    coro = run_agent(the_agent, task, backend=the_backend, store=store, seed=seed, budget=budget)
    if as_json or not err.is_terminal:
        result = asyncio.run(coro)
    else:
        with err.status(f"[bold]{agent}[/] thinking on {the_backend.name}:{the_backend.model} …"):
            result = asyncio.run(coro)
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
            "agent": agent,
            "backend": the_backend.name,
            "model": the_backend.model,
        }
        print(json.dumps(payload, ensure_ascii=False))
        return
    answer = safe_text(result.answer) if result.answer is not None else "(no answer)"
    out.print(Text.assemble(("answer: ", "bold"), answer))
    extra = f" · correct: {result.correct}" if result.correct is not None else ""
    cost = f" · ${result.cost_usd:.6f}" if result.cost_usd else ""
    out.print(
        Text(
            f"run {result.run_id} · {agent} on {the_backend.name}:{the_backend.model} · {result.calls} calls · "
            f"{result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens{cost}{extra}",
            style="dim",
        )
    )


@app.command()
@handles_errors
def runs(
    db: DbOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs, newest first.", min=1)] = 20,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's runs.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs with this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded runs, newest first."""
    store = open_store(db, create=False)
    rows = store.list_runs(limit=limit, agent=agent, status=status)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False))
        return
    if not rows:
        err.print(f'no runs in {store.path}; try `ponder run "What is 17 * 23?"`')
        return
    import datetime as dt

    table = Table(box=None, header_style="bold")
    for col in ("id", "started", "agent", "model", "status", "answer", "calls", "tokens", "question"):
        table.add_column(col, no_wrap=True, overflow="ellipsis", min_width=8 if col == "question" else None)
    for r in rows:
        started = dt.datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            r.id,
            started,
            r.agent,
            Text(safe_text(r.model or "")),
            r.status,
            Text(safe_text(r.answer if r.answer is not None else "")[:40]),
            str(r.calls),
            str(r.prompt_tokens + r.completion_tokens),
            Text(safe_text(r.question)[:60]),
        )
    out.print(table)


@app.command()
@handles_errors
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    db: DbOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
) -> None:
    """Show a recorded run: its events, llm calls and tool calls."""
    from ponder.traces.export import export_json_text, export_markdown

    if fmt not in ("md", "json"):
        raise ConfigError(f"--format {fmt!r}: choose md or json")
    store = open_store(db, create=False)
    rid = store.resolve_run_id(run_id)
    if fmt == "json":
        print(export_json_text(store, rid))
    else:
        out.print(Text(safe_text(export_markdown(store, rid))))


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


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
