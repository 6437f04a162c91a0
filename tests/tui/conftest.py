"""TUI test setup: no animation, UTC wall clock (times shown are the recorded ones), a fixture database."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["TEXTUAL_ANIMATIONS"] = "none"

from tests.tui.fixtures import build_fixture_db


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def _tui_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the live screen remembers its fields here, never in the developer's data dir
    monkeypatch.setenv("PONDER_TUI_STATE", str(tmp_path / "tui-state.json"))


@pytest.fixture
def fixture_db(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A trace database with a ToT, SC, ReAct, Reflexion, a hostile and a few plain runs."""
    path = tmp_path / "fixture.db"
    return path, build_fixture_db(path)
