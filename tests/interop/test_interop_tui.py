"""The runs `ponder serve` and `ponder proxy` record open in the TUI like any other: a served
self-consistency run shows its paths and vote, a proxied agent its calls, tool call and result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from rich.text import Text

from ponder.backends.scripted import ScriptedBackend
from ponder.interop._http import ThreadedServer
from ponder.interop.proxy import RecordingProxy
from ponder.interop.serve import StrategyServer
from ponder.traces.store import TraceStore
from ponder.tui.app import PonderApp
from ponder.tui.screens.run import RunScreen
from ponder.tui.widgets.event_tree import EventTree
from tests.interop.test_proxy import agent_turns, run_agent_loop
from tests.tui import waiting


def tree_lines(app: PonderApp) -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        out.append(node.label.plain if isinstance(node.label, Text) else str(node.label))
        for child in node.children:
            walk(child)

    walk(app.screen.query_one(EventTree).root)
    return out


async def open_run(path: Path, run_id: str) -> list[str]:
    app = PonderApp(path, run_id=run_id)
    async with app.run_test(size=(140, 40)) as pilot:
        await waiting.settle(pilot)
        assert isinstance(app.screen, RunScreen)
        tree = app.screen.query_one(EventTree)
        for node in list(tree.root.children):
            node.expand()
        await waiting.settle(pilot)
        return tree_lines(app)


async def test_served_and_proxied_runs_open_in_the_tui(
    tmp_path: Path, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    db = tmp_path / "t.db"
    store = TraceStore(db)
    backend = ScriptedBackend(lambda req: ["The answer is 391.", "The answer is 390.", "The answer is 391."][: req.n])
    served = serve_app(StrategyServer(store, lambda up: backend).app)
    proxied = serve_app(RecordingProxy(store, upstream=upstream(agent_turns).url).app)
    c = openai.OpenAI(base_url=f"{served.url}/v1", api_key="x", max_retries=0)
    sc = c.chat.completions.create(model="self_consistency#k=3", messages=[{"role": "user", "content": "17 * 23?"}])
    run_agent_loop(
        openai.OpenAI(
            base_url=f"{proxied.url}/v1", api_key="x", max_retries=0, default_headers={"X-Ponder-Session": "tui"}
        )
    )
    store.flush()
    proxy_run = next(r.id for r in store.list_runs() if r.agent == "proxy")

    lines = await open_run(db, sc.model_extra["ponder"]["run_id"])  # type: ignore[index]
    assert sum("path" in line for line in lines) >= 3 and any("391" in line and "vote" in line for line in lines), lines
    lines = await open_run(db, proxy_run)
    joined = "\n".join(lines)
    assert joined.count("loopback-model") >= 2 and "multiply" in joined and "391" in joined, lines
