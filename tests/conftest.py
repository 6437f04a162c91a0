"""Shared fixtures: a scripted backend factory and a temporary trace store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.backends.scripted import ScriptedBackend
from ponder.traces.store import TraceStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TraceStore]:
    s = TraceStore(tmp_path / "traces.db")
    yield s
    s.close()


@pytest.fixture
def scripted():
    """`scripted(["answer 1", "answer 2"])` or `scripted(fn)`: a ScriptedBackend."""
    return ScriptedBackend


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no test reads the developer's config, key or default trace db
    monkeypatch.setenv("PONDER_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("PONDER_DB", str(tmp_path / "default.db"))
    for var in ("PONDER_BACKEND", "PONDER_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
