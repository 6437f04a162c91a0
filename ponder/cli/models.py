"""`ponder models`: the models the local backend knows — list them, pull one, verify what is present."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ponder.cli._common import JsonOpt, handles_errors, out, print_json

models_app = typer.Typer(
    help="The models ponder knows (name, source, size, license, present, path): list, pull, verify.",
    invoke_without_command=True,
)
NameArg = Annotated[str, typer.Argument(help="A model name, as `ponder models` lists it.")]


@models_app.callback(invoke_without_command=True)
@handles_errors
def models_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the models ponder knows, and whether each is present (in the model cache or a package)."""
    if ctx.invoked_subcommand is not None:
        return
    from ponder.models import list_models, models_dir

    rows = list_models()
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table(box=None, header_style="bold")
    for col in ("name", "source", "size", "license", "present", "path"):
        table.add_column(col, justify="right" if col == "size" else "left", overflow="fold")
    for r in rows:
        table.add_row(
            Text(r.name),
            Text(r.source),
            f"{r.size / 1e6:,.0f} MB",
            r.license,
            "yes" if r.present else "no",
            Text(str(r.path) if r.present else "-"),
        )
    out.print(table)
    default = next(r.name for r in rows if r.role == "default")
    fallbacks = ", ".join(r.name for r in rows if r.role == "offline fallback")
    out.print(Text(f"default: {default}; offline fallbacks, in order: {fallbacks}", style="dim"))
    out.print(Text(f"cache: {models_dir()} ($PONDER_MODELS_DIR)", style="dim"))
    out.print(Text("pull: ponder models pull NAME; license text: ponder models license NAME", style="dim"))


@models_app.command("pull")
@handles_errors
def models_pull(name: NameArg) -> None:
    """Download a model (its wheels as data, never installed), join, check size and SHA-256, cache it."""
    from ponder.models import pull

    path = pull(name)
    out.print(Text(f"{name}: {path}"))


@models_app.command("verify")
@handles_errors
def models_verify(
    name: Annotated[str | None, typer.Argument(help="One model (default: every known model).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-hash the present model files: a cached file that is not the official one is removed (pull it
    again); a wrong file inside an installed package is flagged. Exit code 1 when any was not official."""
    from ponder.models import verify
    from ponder.models.progress import RichReporter

    results = verify(name, reporter=RichReporter())
    if as_json:
        print_json([r.model_dump(mode="json") for r in results])
    else:
        for r in results:
            where = f" {r.path}" if r.path is not None else ""
            out.print(Text(f"{r.name}: {r.status}{where} ({r.detail})"))
    if any(r.status in ("removed", "flagged") for r in results):
        raise typer.Exit(1)


@models_app.command("license")
@handles_errors
def models_license(name: NameArg) -> None:
    """Print the license text of a model ponder names."""
    from ponder.models import get_spec

    spec = get_spec(name)
    out.print(Text(f"{spec.name}: {spec.title}, {spec.license}\n"))
    out.print(Text(spec.license_path.read_text(encoding="utf-8")))
