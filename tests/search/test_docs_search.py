"""docs/search.md: the best-first plugin on the page is built from the page's code blocks, installed
(a dist-info with its `ponder.search` entry point on sys.path), registered like the built-ins, run
by a search strategy on Game of 24 (every state recorded), and replayed identical."""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from tests._game24_model import gpt4_like
from tests._plugins import install

PAGE = Path(__file__).resolve().parents[2] / "docs" / "search.md"
_BLOCK = re.compile(r'^```\w+ title="(?P<name>[^"]+)"\n(?P<body>.*?)^```$', re.MULTILINE | re.DOTALL)


def page_files() -> dict[str, str]:
    """The page's titled code blocks, by file name."""
    return {m.group("name"): m.group("body") for m in _BLOCK.finditer(PAGE.read_text())}


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The page's package, installed as pip would: its module and a dist-info with its entry point."""
    files = page_files()
    assert {"pyproject.toml", "best_first.py"} <= set(files)
    site = tmp_path / "site"
    install(site, files["pyproject.toml"], {"best_first.py": files["best_first.py"]})
    monkeypatch.syspath_prepend(str(site))
    registry._entry_points.cache_clear()
    yield site
    registry._entry_points.cache_clear()
    sys.modules.pop("best_first", None)


def test_the_built_ins_are_registered_as_entry_points() -> None:
    project = tomllib.loads((PAGE.parents[1] / "pyproject.toml").read_text())["project"]
    assert set(project["entry-points"]["ponder.search"]) == {"bfs", "dfs", "beam", "mcts"}
    assert {"bfs", "dfs", "beam", "mcts"} <= set(registry.names("search"))


def test_the_plugin_is_registered_and_its_options_checked(installed: Path) -> None:
    assert "best_first" in registry.names("search")
    agent = registry.build("agents", "tot", {"env": "game24", "search": "best_first", "max_expansions": 5})
    assert (agent.search.algorithm, agent.search.max_expansions, agent.search.depth) == ("best_first", 5, 4)
    assert agent.model_dump()["search"] == {"algorithm": "best_first", "max_expansions": 5, "depth": 4}
    with pytest.raises(ConfigError, match="max_expansions"):
        registry.build("agents", "tot", {"search": "best_first", "max_expansions": 0})
    with pytest.raises(ConfigError, match="breadth is a setting of search=bfs, not of search=best_first"):
        registry.build("agents", "tot", {"search": "best_first", "breadth": 2})


def test_without_the_plugin_the_name_is_unknown() -> None:
    with pytest.raises(ConfigError, match="unknown search 'best_first'; known: beam, bfs, dfs, mcts"):
        registry.build("agents", "tot", {"search": "best_first"})


async def test_the_plugin_runs_records_and_replays(installed: Path) -> None:
    store = TraceStore(":memory:")
    agent = registry.build("agents", "tot", {"env": "game24", "search": "best_first", "max_expansions": 8})
    result = await run_agent(agent, "4 9 10 13", backend=ScriptedBackend(gpt4_like), store=store)
    assert result.correct is True, result
    nodes = [e for e in store.iter_events(result.run_id, with_data=True) if e.kind == "node"]
    assert result.metadata["expansions"] <= 8 and len(nodes) == result.metadata["nodes"] + 1
    chosen = [e for e in nodes if e.status == "chosen"]
    assert [e.data["depth"] for e in chosen if e.data] == list(range(len(chosen)))  # the path from the root
    assert "(left: 24)" in chosen[-1].data["y"]  # type: ignore[index]
    run = store.get_run(result.run_id)
    assert run.config["search"] == {"algorithm": "best_first", "max_expansions": 8, "depth": 4}
    report = await areplay(store, result.run_id)
    assert report.identical, report.render()
