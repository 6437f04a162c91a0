"""docs/interop.md: its `openai` SDK example runs as printed against a `ponder serve` the test starts
(the page's URL swapped for the test server's), and the run it prints is in the store."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ponder.backends.scripted import ScriptedBackend
from ponder.interop._http import ThreadedServer
from ponder.interop.serve import StrategyServer
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "interop.md"
URL = "http://127.0.0.1:8400/v1"


def sdk_example() -> str:
    section = PAGE.read_text().split("## The `openai` SDK in ten lines", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the page lost its openai SDK example"
    return found.group(1)


def test_the_sdk_example_is_ten_lines_at_most() -> None:
    lines = [ln for ln in sdk_example().splitlines() if ln.strip()]
    assert len(lines) <= 10, lines


def test_the_sdk_example_runs_and_its_run_is_recorded(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    def paths(req: CompletionRequest) -> list[str]:
        return ["17 * 23 = 391. The answer is 391."] * req.n

    s = serve_app(StrategyServer(store, lambda up: ScriptedBackend(paths)).app)
    code = sdk_example()
    assert URL in code
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace(URL, f"{s.url}/v1"), str(PAGE), "exec"), {})
    answer, usage = printed.getvalue().splitlines()
    tokens, run_id = usage.split()
    run = store.get_run(run_id)
    assert answer == "391" == run.answer
    assert int(tokens) == run.prompt_tokens + run.completion_tokens
    assert (run.agent, run.config["k"], run.config["temperature"]) == ("self_consistency", 5, 0.8)
