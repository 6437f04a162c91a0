"""What the registry holds: `ponder agents`, `ponder envs` and `ponder backends`."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ponder.cli._common import handles_errors, out, print_json

if TYPE_CHECKING:
    from ponder.registry import Kind


def _registry_table(kind: Kind) -> None:
    from ponder import registry

    table = Table(box=None, header_style="bold")
    table.add_column("name")
    table.add_column("description")
    table.add_column("from", style="dim")
    for name, where, doc in registry.describe(kind):
        table.add_row(name, Text(doc), Text(where))
    out.print(table)


@handles_errors
def agents() -> None:
    """List the registered agents (strategies)."""
    _registry_table("agents")


@handles_errors
def backends() -> None:
    """List the registered backends and the profiles of the config file."""
    from ponder.backends.config import default_config_path, load_profiles

    _registry_table("backends")
    profiles, default = load_profiles()
    if profiles:
        out.print(Text(f"\nprofiles in {default_config_path()}:", style="bold"))
        for name, p in profiles.items():
            mark = " (default)" if name == default else ""
            out.print(
                Text(f"  {name}{mark}: {p.get('backend', 'openai')} {p.get('model', '')} {p.get('base_url', '')}")
            )


def _env_options(obj: Any) -> dict[str, str]:
    """An env's options and their defaults: a pydantic env's fields, else its constructor's parameters."""
    from pydantic import BaseModel

    if isinstance(obj, type) and issubclass(obj, BaseModel):
        return {
            n: "required" if f.is_required() else repr(f.get_default(call_default_factory=True))
            for n, f in obj.model_fields.items()
        }
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {
        p.name: "required" if p.default is inspect.Parameter.empty else repr(p.default)
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _task_count(name: str) -> tuple[int | None, str | None]:
    """How many tasks the env lists with its defaults, or why it cannot say."""
    from ponder import registry

    try:
        env = registry.build("envs", name, {})
        return sum(1 for _ in env.tasks()), None
    except Exception as e:  # an env whose data or extra is missing: say so, list the others
        return None, str(e).splitlines()[0] if str(e) else type(e).__name__


@handles_errors
def envs(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the registered envs: their options (--env-set KEY=VALUE) and how many tasks each lists by default."""
    from ponder import registry

    rows: list[dict[str, Any]] = []
    for name, where, doc in registry.describe("envs"):
        try:
            options = _env_options(registry.load("envs", name))
        except Exception:  # a broken plugin is listed, not fatal
            options = {}
        count, why = _task_count(name)
        rows.append({"name": name, "description": doc, "options": options, "tasks": count, "note": why, "from": where})
    if json_out:
        print_json(rows)
        return
    table = Table(box=None, header_style="bold")
    for col in ("name", "tasks", "options (--env-set)", "description"):
        table.add_column(col)
    for r in rows:
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items()) or "–"
        tasks = str(r["tasks"]) if r["tasks"] is not None else f"? ({r['note']})"
        table.add_row(r["name"], Text(tasks), Text(opts), Text(r["description"]))
    out.print(table)
