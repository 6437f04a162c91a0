"""pytest plugin: recorded-trace replay tests (registered as the `pytest11` entry point `ponder`).

A test gets a `Recording` from the `ponder_replay` fixture and runs its agent through it:

    async def test_cot(ponder_replay):
        rec = ponder_replay("cot_17x23")
        result = await rec.run(CoT(), "What is 17 * 23?")
        assert result.answer == "391"

A plain `def` test calls `rec.run_sync(...)` instead (an `async def` test needs pytest-asyncio,
which ponder's `test` extra installs). `--ponder-record` chooses what `rec.run` does, as VCR's
record modes do:
- `none` (default, CI): replay `tests/recordings/cot_17x23.db` (or `.jsonl`); any difference from the
  recording — a request never recorded, another event, another answer — fails the test
  with the first divergence and the diff of the request that missed.
- `once`: record the recording if it does not exist, else replay it.
- `all`: record every recording again.
Recording calls the backend that the usual settings select (`PONDER_BACKEND`,
`PONDER_MODEL`, `OPENAI_BASE_URL`, the config file), read when pytest starts; then the
new recording is replayed at once to prove the agent is deterministic on it. A recording is
made in a scratch file and moved into place only when its test passes.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import shlex
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ponder.runtime.budget import Budget
    from ponder.runtime.runner import Evaluator
    from ponder.tools.base import Tool
    from ponder.traces.store import TraceStore
    from ponder.types import Result, Task

MODES = ("none", "once", "all")
_ENV_KEY = pytest.StashKey[dict[str, str]]()
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ponder", "ponder recorded-trace replay")
    group.addoption(
        "--ponder-record",
        choices=MODES,
        default=None,
        help="none: replay recordings, fail on any difference (default); once: record missing recordings; "
        "all: record every recording again (needs a real backend: PONDER_BACKEND=local, or OPENAI_BASE_URL…)",
    )
    parser.addini("ponder_record", "default --ponder-record mode", default="none")
    parser.addini(
        "ponder_recording_format",
        "format of new recordings: db (SQLite, the default) or jsonl (text that diffs in review)",
        default="db",
    )
    parser.addini(
        "ponder_recordings",
        "folder of recordings, relative to the rootdir (default: the test file's folder if it is named "
        "'recordings', else a 'recordings' folder beside the test file)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ponder_replay(name): the recording that the ponder_replay fixture uses when given no name"
    )
    # fixtures (ponder's own conftest among them) may scrub the environment; recording
    # uses the backend settings the developer started pytest with
    # (ponder itself is imported only when a test uses the fixture: pytest starts fast elsewhere)
    config.stash[_ENV_KEY] = {k: v for k, v in os.environ.items() if k.startswith(("PONDER_", "OPENAI_"))}


@contextlib.contextmanager
def _as_started(env: dict[str, str]) -> Iterator[None]:
    """ponder's settings in the environment as they were when pytest started (`PONDER_*`, `OPENAI_*`):
    fixtures may have changed them since (ponder's own conftest points the model cache elsewhere)."""
    from unittest import mock

    with mock.patch.dict(os.environ, clear=False):
        for k in [k for k in os.environ if k.startswith(("PONDER_", "OPENAI_"))]:
            del os.environ[k]
        os.environ.update(env)
        yield


def _config_path(env: dict[str, str]) -> Path:
    """The config file path as it was when pytest started (fixtures may have changed the env since)."""
    from ponder.backends.config import default_config_path

    with _as_started(env):
        return default_config_path()


def _mode(config: pytest.Config) -> str:
    mode = config.getoption("--ponder-record") or config.getini("ponder_record") or "none"
    if mode not in MODES:
        raise pytest.UsageError(f"ponder_record = {mode!r}: choose one of {', '.join(MODES)}")
    return str(mode)


def _recordings_dir(request: pytest.FixtureRequest) -> Path:
    configured = request.config.getini("ponder_recordings")
    if configured:
        return Path(request.config.rootpath) / str(configured)
    here = Path(str(request.node.path)).parent
    return here if here.name == "recordings" else here / "recordings"


class Recording:
    """One recording file, in replay or record mode; `run` is the whole API most tests need.

    backend / store: what `run` uses — in replay mode a `ReplayBackend` over the whole
        recording and a scratch in-memory store; in record mode the real backend and the
        recording itself.
    source: the recording (a migrated copy of it, in replay mode).
    """

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        mode: str,
        scratch_dir: Path,
        env: dict[str, str],
        config_path: Path,
        nodeid: str = "",
    ) -> None:
        from ponder.backends.config import make_backend, resolve_backend_config
        from ponder.backends.replay import ReplayBackend
        from ponder.errors import PonderError
        from ponder.replay.cassette import copy_database, load_jsonl, remove_database
        from ponder.traces.store import TraceStore

        self.name = name
        self.path = path
        self.recording = mode == "all" or (mode == "once" and not path.exists())
        self.hint = record_hint(env, config_path)
        self._next = 0
        if self.recording:
            try:
                with _as_started(env):  # a model name resolves in the model cache the developer uses
                    config = resolve_backend_config(env=env, config_path=config_path)
                    self.backend: Any = make_backend(config, env=env)
            except PonderError as e:
                pytest.fail(f"cannot record {name!r}: no usable backend ({e})", pytrace=False)
            # recorded into a scratch database and moved into place only when the test passes
            # (`close`): a failed or interrupted recording never leaves a broken one to replay
            self._scratch = scratch_dir / f"{name}.recording.db"
            remove_database(self._scratch)
            self.source: TraceStore = TraceStore(self._scratch)
            self.store: TraceStore = self.source
        else:
            if not path.exists():
                pytest.fail(
                    f"no recording {name!r} at {path}; record it once with a real backend: "
                    f"{self.hint}pytest {nodeid} --ponder-record=once",
                    pytrace=False,
                )
            try:
                if path.suffix == ".jsonl":
                    self.source = load_jsonl(path)
                else:
                    self.source = TraceStore(copy_database(path, scratch_dir / path.name), create=False)
            except PonderError as e:
                pytest.fail(f"recording {name!r} ({path}) cannot be read: {e}", pytrace=False)
            self.store = TraceStore(":memory:")
            self.backend = ReplayBackend(self.source)

    def recorded_runs(self) -> list[Any]:
        """The recording's top-level runs, in the order they were recorded."""
        runs = self.source.list_runs(limit=1_000_000)
        return sorted(runs, key=lambda r: (r.started_at, r.id))

    async def run(
        self,
        agent: Any,
        task: Task | str,
        *,
        seed: int = 0,
        tools: dict[str, Tool] | None = None,
        evaluator: Evaluator | None = None,
        budget: Budget | None = None,
        env: Any = None,
    ) -> Result:
        """Run `agent` on `task`: record it, or replay the recording's next run and fail on any difference.

        env: the env the run is on (`ctx.env`), given to the recording run and to every replay.
        """
        from ponder.replay.rerun import areplay
        from ponder.runtime.runner import exact_match, run_agent
        from ponder.types import Task

        the_task = Task.from_question(task) if isinstance(task, str) else task
        evaluator = evaluator or exact_match
        same = {"seed": seed, "tools": tools, "evaluator": evaluator, "budget": budget, "env": env}
        if self.recording:
            result = await run_agent(agent, the_task, backend=self.backend, store=self.store, **same)
            check = await areplay(self.store, result.run_id, agent=agent, task=the_task, **same)
            if not check.identical:
                pytest.fail(
                    f"recorded {self.name!r}, but its replay is not identical: the agent does not make the same "
                    f"requests from the same completions (order concurrent work by a stable key, give each "
                    f"concurrent branch its own ctx.branch(i)):\n{check.render()}",
                    pytrace=False,
                )
            return result
        runs = self.recorded_runs()
        if self._next >= len(runs):
            pytest.fail(
                f"recording {self.name!r} holds {len(runs)} run(s) and this test makes more; "
                "re-record it with --ponder-record=all",
                pytrace=False,
            )
        recorded = runs[self._next]
        self._next += 1
        name = getattr(agent, "name", type(agent).__name__)
        if name != recorded.agent:
            pytest.fail(
                f"recording {self.name!r} run {self._next} was made by agent {recorded.agent!r}, not {name!r}",
                pytrace=False,
            )
        # each replay gets its own scratch store: memory written by earlier runs of the
        # recording is copied from the recording itself, never twice
        report = await areplay(self.source, recorded.id, agent=agent, task=the_task, **same)
        if report.store is not None:
            self.store.close()
            self.store = report.store
        if not report.identical:
            pytest.fail(
                f"replay of recording {self.name!r} ({self.path}) diverged:\n{report.render()}\n"
                f"If the change is intended, re-record: {self.hint}pytest --ponder-record=all",
                pytrace=False,
            )
        assert report.result is not None
        return report.result

    def run_sync(
        self,
        agent: Any,
        task: Task | str,
        *,
        seed: int = 0,
        tools: dict[str, Tool] | None = None,
        evaluator: Evaluator | None = None,
        budget: Budget | None = None,
        env: Any = None,
    ) -> Result:
        """`run` for a plain (sync) test function: no async test plugin needed."""
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("rec.run_sync is for sync tests; in an async test write `await rec.run(...)`")
        return asyncio.run(self.run(agent, task, seed=seed, tools=tools, evaluator=evaluator, budget=budget, env=env))

    def close(self, *, passed: bool = True) -> None:
        """Release the recording; a new one is moved into place only if it was made and `passed`."""
        from ponder.replay.cassette import dump_jsonl, finalize_recording, remove_database

        if not self.recording:
            self.source.close()
            self.store.close()
            return
        made = self.source.count_runs()
        keep = passed and made > 0
        if keep and self.path.suffix == ".jsonl":
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            dump_jsonl(self.source, tmp)
            os.replace(tmp, self.path)
        finalize_recording(self.source)
        if keep and self.path.suffix == ".db":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            shutil.copyfile(self._scratch, tmp)  # the scratch may be on another filesystem
            remove_database(self.path)  # no stale -wal/-shm of an older recording beside the new file
            os.replace(tmp, self.path)
        remove_database(self._scratch)


def record_hint(env: dict[str, str], config_path: Path) -> str:
    """The environment prefix of a re-record command for the backend this session is configured with.

    `PONDER_BACKEND=…`/`OPENAI_BASE_URL=…` as they were set when pytest started; nothing when the
    config file's default profile selects the backend; `PONDER_BACKEND=local` (the embedded
    model) when nothing is configured.
    """
    from ponder.backends.config import load_profiles
    from ponder.errors import PonderError

    shown = [f"{k}={shlex.quote(env[k])}" for k in ("PONDER_BACKEND", "PONDER_MODEL", "OPENAI_BASE_URL") if env.get(k)]
    if shown:
        return " ".join(shown) + " "
    try:
        _, default_profile = load_profiles(config_path)
    except PonderError:
        default_profile = None
    if default_profile:
        return ""  # the config file's default profile records
    return "PONDER_BACKEND=local "


def _default_name(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("ponder_replay")
    if marker is not None and marker.args:
        return str(marker.args[0])
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)


@pytest.fixture
def ponder_replay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Recording]]:
    """`ponder_replay("NAME")` -> a `Recording` of `recordings/NAME.db` (name from the
    `ponder_replay` marker, else the test's name, when none is given)."""
    made: list[Recording] = []
    mode = _mode(request.config)

    def open_recording(name: str | None = None) -> Recording:
        name = name or _default_name(request)
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise pytest.UsageError(f"recording name {name!r}: use letters, digits, '_', '-', '.'")
        folder = _recordings_dir(request)
        found = [folder / f"{name}{ext}" for ext in (".db", ".jsonl") if (folder / f"{name}{ext}").exists()]
        if len(found) > 1:
            raise pytest.UsageError(f"recording {name!r} exists as both {found[0]} and {found[1]}; delete one")
        fmt = str(request.config.getini("ponder_recording_format") or "db").lstrip(".")
        if fmt not in ("db", "jsonl"):
            raise pytest.UsageError(f"ponder_recording_format = {fmt!r}: choose db or jsonl")
        path = found[0] if found else folder / f"{name}.{fmt}"
        rec = Recording(
            name,
            path,
            mode=mode,
            scratch_dir=tmp_path / "ponder-recordings",
            env=request.config.stash[_ENV_KEY],
            config_path=_config_path(request.config.stash[_ENV_KEY]),
            nodeid=request.node.nodeid.split("::")[0],
        )
        made.append(rec)
        return rec

    if inspect.iscoroutinefunction(getattr(request, "function", None)) and not _async_tests_supported(request):
        pytest.fail(
            f"{request.node.name} is an `async def` test, but no async test plugin is active: install "
            'pytest-asyncio (pip install -e ".[test]") with asyncio_mode = auto or @pytest.mark.asyncio, '
            "or make it a plain `def` test and call rec.run_sync(...)",
            pytrace=False,
        )
    yield open_recording
    reports = request.node.stash.get(_REPORTS, {})
    passed = all(r.passed for r in reports.values()) and "call" in reports
    for rec in made:
        rec.close(passed=passed)


def _async_tests_supported(request: pytest.FixtureRequest) -> bool:
    """Whether something will run this `async def` test (pytest itself does not)."""
    plugins = request.config.pluginmanager
    if request.node.get_closest_marker("anyio") is not None and plugins.hasplugin("anyio"):
        return True
    return plugins.hasplugin("asyncio")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # keep each phase's report on the item, so the fixture's teardown knows whether the test passed
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report
