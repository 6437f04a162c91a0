"""`ponder tui`: the thin CLI command (lazy import, bad databases, --serve)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
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
    monkeypatch.setitem(sys.modules, "ponder.tui.serve", None)
    result = runner.invoke(app, ["tui", str(tmp_path / "t.db"), "--serve"])
    assert result.exit_code == 2
    assert 'pip install -e ".[serve]"' in result.output


def test_serve_serves_the_same_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("textual_serve")
    from ponder.tui import serve

    served: list[serve.TuiServer] = []
    monkeypatch.setattr(serve.TuiServer, "serve", lambda self: served.append(self) or self.sock.close())
    path = tmp_path / "t.db"
    result = runner.invoke(app, ["tui", str(path), "--serve", "--port", "0"])
    assert result.exit_code == 0, result.output
    (server,) = served
    assert server.command.endswith(f"-m ponder.tui {path}")
    assert result.stdout == f"serving the ponder TUI on http://127.0.0.1:{server.port} (ctrl+c stops)\n"
    assert server.port != 0 and server.templates_path == serve.TEMPLATES


def test_serve_on_a_busy_port_is_one_line_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("textual_serve")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["tui", str(tmp_path / "t.db"), "--serve", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert (
        result.stderr
        == f"ponder: port {port} on 127.0.0.1 is in use; choose another with --port N (--port 0 picks a free one)\n"
    )
    assert result.stdout == ""  # nothing claims to be serving


def test_serve_default_port_is_not_8000() -> None:
    pytest.importorskip("textual_serve")
    from ponder.tui import serve

    assert serve.DEFAULT_PORT == 8842
    (opt,) = [p for p in typer.main.get_command(app).commands["tui"].params if p.name == "port"]  # type: ignore[attr-defined]
    assert opt.default == serve.DEFAULT_PORT


async def test_served_page_requests_nothing_from_outside() -> None:
    pytest.importorskip("textual_serve")
    from aiohttp.test_utils import TestClient, TestServer

    from ponder.tui.serve import TuiServer, bind

    server = TuiServer("true", bind(0))
    server.sock.close()
    async with TestClient(TestServer(await server._make_app())) as client:
        page = await (await client.get("/")).text()
        assert "fonts.googleapis" not in page
        urls = set(re.findall(r"""(?:href|src)=["']([^"']+)|url\(["']?([^"')]+)""", page))
        urls_flat = {u for pair in urls for u in pair if u}
        outside = {u for u in urls_flat if "://" in u and not u.startswith(server.public_url)}
        assert not outside, f"the page requests {outside}"
        assert any(u.endswith(".ttf") for u in urls_flat), "the terminal's font is served locally"
        for u in sorted(urls_flat):
            res = await client.get(u.removeprefix(server.public_url))
            assert res.status == 200, u


@pytest.mark.slow  # a real server process, a real browser-side request and a real SIGINT
def test_serve_for_real_then_ctrl_c(tmp_path: Path) -> None:
    pytest.importorskip("textual_serve")
    import select
    import signal
    import urllib.request

    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ponder.cli import main; main()",
            "tui",
            str(tmp_path / "t.db"),
            "--serve",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the server said nothing in 60 s"
        line = proc.stdout.readline()
        url = re.search(r"on (http://127\.0\.0\.1:\d+) ", line)
        assert url, line
        with urllib.request.urlopen(url.group(1) + "/", timeout=10) as res:  # the server answers at once
            assert res.status == 200 and "Roboto Mono" in res.read().decode()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
