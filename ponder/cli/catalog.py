"""What the registry holds: `ponder agents` and `ponder backends`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ponder.cli._common import handles_errors, out

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
