"""Changing and comparing recorded runs: `ponder fork` and `ponder diff`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ponder._util.text import safe_text
from ponder.cli._common import (
    DbOpt,
    JsonOpt,
    answer_text,
    check_text_arg,
    handles_errors,
    open_store,
    out,
    print_json,
)
from ponder.errors import ConfigError


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
    import asyncio

    from ponder.backends.config import make_backend, parse_settings, resolve_backend_config
    from ponder.replay.fork import afork

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
    answer = answer_text(result)
    out.print(Text.assemble(("answer: ", "bold"), answer))
    out.print(
        Text(
            f"fork {result.run_id} of {info['of']} at event {at} · {info['served']} calls served from the "
            f"recording · {info['live_calls']} live · compare: ponder diff {info['of']} {result.run_id}",
            style="dim",
        )
    )


@handles_errors
def diff_cmd(
    run_a: Annotated[str, typer.Argument(help="A run id (a unique prefix is enough).")],
    run_b: Annotated[str, typer.Argument(help="Another run id.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare two runs step by step (aligned by branch): exit 0 identical, 1 when they differ."""
    from ponder.replay.diff import diff_runs

    store = open_store(db, readonly=True)
    d = diff_runs(store, store.resolve_run_id(run_a), store, store.resolve_run_id(run_b))
    if as_json:
        print_json(d.to_dict())
    else:
        out.print(Text(safe_text(d.render())))
    if not d.identical:
        raise typer.Exit(1)
