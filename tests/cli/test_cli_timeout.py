"""`ponder run --timeout` holds against a server that accepts the connection and never answers (issue 9 §2)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from typer.testing import CliRunner

from ponder.cli import app
from ponder.traces.store import TraceStore


def test_timeout_holds_while_the_request_is_in_flight(tmp_path: Path) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog), never answers
    port = silent.getsockname()[1]
    db = tmp_path / "t.db"
    outcome: dict[str, object] = {}

    def run() -> None:
        args = ["run", "What is 2 + 2?", "--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1",
                "--model", "m", "--timeout", "0.5", "--db", str(db)]  # fmt: skip
        outcome["result"] = CliRunner().invoke(app, args, env={"OPENAI_API_KEY": "k"})

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)  # the guard: before the fix the run waited on the server for minutes
    silent.close()
    assert not worker.is_alive(), "ponder run --timeout 0.5 did not return"
    result = outcome["result"]
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "0.5 s wall timeout" in result.stderr  # type: ignore[attr-defined]
    store = TraceStore(db, readonly=True)
    run_rec = store.list_runs(limit=1)[0]
    assert run_rec.status == "timeout" and run_rec.calls == 1
    assert [c.error for c in store.llm_calls([run_rec.id])] != []  # the cancelled request is recorded
    store.close()
