"""`ponder tui`: the thin CLI command (lazy import, bad databases, --serve)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import ponder.tui
from ponder.cli import app
from ponder.traces.store import TraceStore

runner = CliRunner()


def test_cli_does_not_import_textual() -> None:
    code = "import sys, ponder.cli; sys.exit(1 if 'textual' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_tui_runs_the_app_on_the_given_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.db"
    TraceStore(path).close()
    seen: list[Any] = []
    monkeypatch.setattr(ponder.tui, "run_tui", lambda p, **kw: seen.append(p) or 0)
    result = runner.invoke(app, ["tui", str(path)])
    assert result.exit_code == 0, result.output
    assert seen == [path]
    result = runner.invoke(app, ["tui", "--db", str(path)])
    assert result.exit_code == 0 and seen[-1] == path


def test_tui_on_a_corrupt_db_says_so_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database, just some bytes that are long enough")
    monkeypatch.setattr(ponder.tui, "run_tui", lambda p, **kw: pytest.fail("the app must not start"))
    result = runner.invoke(app, ["tui", str(bad)])
    assert result.exit_code == 2
    assert "not a SQLite database" in result.output


def test_serve_without_textual_serve_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    result = runner.invoke(app, ["tui", str(tmp_path / "t.db"), "--serve"])
    assert result.exit_code == 2
    assert 'pip install -e ".[serve]"' in result.output


def test_serve_serves_the_same_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("textual_serve")
    import textual_serve.server

    served: list[tuple[str, int]] = []

    class FakeServer:
        def __init__(self, command: str, host: str, port: int, title: str) -> None:
            served.append((command, port))

        def serve(self) -> None:
            pass

    monkeypatch.setattr(textual_serve.server, "Server", FakeServer)
    path = tmp_path / "t.db"
    result = runner.invoke(app, ["tui", str(path), "--serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    ((command, port),) = served
    assert port == 8123 and command.endswith(f"-m ponder.tui {path}")
