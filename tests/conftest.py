"""Shared fixtures: a scripted backend factory and a temporary trace store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder.backends.scripted import ScriptedBackend
from ponder.traces.kinds import validate_data
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
    # nor its model cache, nor the package index: a pull a test did not arrange finds nothing listening
    monkeypatch.setenv("PONDER_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("PONDER_MODELS_INDEX_URL", "http://127.0.0.1:9/simple")


@pytest.fixture(autouse=True)
def _events_match_their_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event the suite writes has a declared kind and the data that kind declares (ponder.traces.kinds)."""
    add, update = TraceStore.add_event, TraceStore.update_event

    def checked_add(self: TraceStore, run_id: str, seq: int, *, kind: str, **kw: Any) -> None:
        validate_data(kind, kw.get("data"))
        add(self, run_id, seq, kind=kind, **kw)

    def checked_update(self: TraceStore, run_id: str, seq: int, **kw: Any) -> None:
        if kw.get("data") is not None:
            validate_data(self.event(run_id, seq).kind, kw["data"])
        update(self, run_id, seq, **kw)

    monkeypatch.setattr(TraceStore, "add_event", checked_add)
    monkeypatch.setattr(TraceStore, "update_event", checked_update)


@pytest.fixture(autouse=True)
def _sandbox_where_bwrap_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests of code envs and agents run their programs in bubblewrap where it is installed (CI
    # installs it); elsewhere in the rlimits-only sandbox, so the suite passes anywhere. The
    # sandbox's own escape tests ask for bwrap by name and skip, saying why, without it.
    import shutil

    if shutil.which("bwrap") is None:
        monkeypatch.setenv("PONDER_SANDBOX", "rlimits")


def pytest_report_header() -> str:
    """Say which python sandbox the tests' programs run in."""
    import shutil

    return "python sandbox: " + ("bwrap" if shutil.which("bwrap") else "rlimits (bwrap not installed)")


def local_model_missing() -> str | None:
    """Why the local backend cannot run here (None when xllamacpp is installed)."""
    import importlib.util

    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp is not installed (pip install -e '.[local]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # every test marked `local` is skipped, with the reason, where the local model is missing
    reason = local_model_missing()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("local") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
