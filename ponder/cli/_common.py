"""What every `ponder` command shares: the Typer app and its one-line errors, the consoles, the
common options, JSON output, error handling, the trace store and the budget flags."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from ponder._util.text import escape_json_text, first_undecodable, json_text, safe_text
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
        follow_columns(out, err)
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


def follow_columns(*consoles: Console) -> None:
    """Size `consoles` by `$COLUMNS` as it is now, or by the terminal without it: rich reads
    `$COLUMNS` once, when a console is made, and ponder's are made at import (a process that runs
    the CLI more than once, a test worker, would keep the first width it saw)."""
    columns = os.environ.get("COLUMNS", "")
    for console in consoles:
        console._width = int(columns) if columns.isdigit() and int(columns) > 0 else None


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
# no emoji codes: text like ":smile:" is printed as written (and rich's emoji table is never loaded)
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

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
BackendOpt = Annotated[str | None, typer.Option("--backend", "-b", help="local, openai, or a config profile name.")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name (or a .gguf path for local).")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (…/v1).")]
EnvSetOpt = Annotated[list[str] | None, typer.Option("--env-set", help="Env option key=value (repeatable).")]
ApiKeyEnvOpt = Annotated[
    str | None, typer.Option("--api-key-env", help="Env var holding the API key (default OPENAI_API_KEY).")
]


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


def answer_text(result: Any) -> str:
    """A run's answer as printed, or why it has none ("(no answer: ReAct stopped after ...)")."""
    if result.answer is not None:
        return safe_text(result.answer)
    return f"({safe_text(result.error or 'no answer')})"


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
    from ponder.runtime.budget import Budget

    try:
        return Budget(max_calls=max_calls, max_tokens=max_tokens, timeout_s=timeout)
    except ValidationError as e:
        first = e.errors()[0]
        flag = {"max_calls": "--max-calls", "max_tokens": "--max-tokens", "timeout_s": "--timeout"}[
            str(first["loc"][0])
        ]
        raise ConfigError(f"{flag} {first['input']}: {first['msg'].lower()}") from None
