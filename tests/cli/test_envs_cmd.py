"""`ponder envs` lists every registered env with its options and task count."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ponder.cli import app


def test_envs_lists_options_and_task_counts() -> None:
    result = CliRunner().invoke(app, ["envs", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert {"arithmetic", "game24", "sorting", "household"} <= set(rows)
    assert rows["sorting"]["tasks"] == 100 and rows["sorting"]["options"]["size"] == "32"
    assert rows["game24"]["options"]["start"] == "0"
    table = CliRunner().invoke(app, ["envs"])
    assert table.exit_code == 0 and "sorting" in table.output and "size=32" in table.output
