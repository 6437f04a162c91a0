"""`ponder bench`'s executor flags: misuse is one line and exit code 2, before anything runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app

runner = CliRunner()
BASE = ["bench", "--env", "arithmetic", "--agent", "cot"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--executor", "dask"], "choose one of local, ray"),
        (["--executor", "ray", "--shard", "1/2"], "give --shards N instead"),
        (["--shards", "2"], "go with --executor ray"),
        (["--ray-address", "127.0.0.1:6379"], "go with --executor ray"),
        (["--executor", "ray", "--shards", "0"], "--shards"),
    ],
)
def test_executor_misuse_is_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    db = tmp_path / "t.db"
    res = runner.invoke(app, [*BASE, "--db", str(db), *extra])
    assert res.exit_code == 2 and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not db.exists()


def test_ray_executor_without_ray_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    db = tmp_path / "t.db"
    res = runner.invoke(app, [*BASE, "--db", str(db), "--executor", "ray"])
    assert res.exit_code == 2, res.output
    assert res.output.strip() == "ponder: --executor ray needs Ray: pip install 'ponder[ray]'"
    assert not db.exists()
