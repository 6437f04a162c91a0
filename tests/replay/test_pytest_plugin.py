"""The `ponder_replay` fixture and `--ponder-record` modes, driven through pytester."""

from __future__ import annotations

import pytest

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.traces.store import TraceStore

pytest_plugins = ["pytester"]

TEST_FILE = """
import pytest
from ponder.agents.cot import CoT

async def test_cot(ponder_replay):
    rec = ponder_replay("cot_demo")
    result = await rec.run(CoT({args}), "What is 17 * 23?")
    assert result.answer == "391"

@pytest.mark.ponder_replay("cot_marked")
async def test_marked(ponder_replay):
    rec = ponder_replay()
    first = await rec.run(CoT(), "What is 2 + 3?")
    second = await rec.run(CoT(), "What is 17 * 23?")
    assert (first.answer, second.answer) == ("5", "391")
"""

CALLS: list[str] = []


def _model(answer_391: str = "391") -> ScriptedBackend:
    def answer(req):  # type: ignore[no-untyped-def]
        q = req.messages[-1].content
        CALLS.append(q)
        return f"Step by step. The answer is {answer_391 if '17 * 23' in q else '5'}."

    return ScriptedBackend(answer, model="fake-model")


def pytest_run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    # in-process, so the backends registered here are seen; the snapshot plugin does not nest
    return project.runpytest(
        "-p", "no:textual-snapshot", "-p", "no:hypothesispytest", "-p", "no:cacheprovider", "--assert=plain", *args
    )


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    CALLS.clear()
    registry.register("backends", "fake", lambda **kw: _model())
    monkeypatch.setenv("PONDER_BACKEND", "fake")
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_rec=TEST_FILE.format(args=""))
    return pytester


def test_none_without_recording_fails_with_how_to_record(project: pytest.Pytester) -> None:
    res = pytest_run(project)
    res.assert_outcomes(failed=2)
    res.stdout.fnmatch_lines(["*no recording 'cot_demo' at *cot_demo.db; record it once*--ponder-record=once*"])
    assert CALLS == []


def test_once_records_then_none_replays_without_the_model(project: pytest.Pytester) -> None:
    pytest_run(project, "--ponder-record=once").assert_outcomes(passed=2)
    assert len(CALLS) == 3
    db = project.path / "recordings" / "cot_demo.db"
    marked = project.path / "recordings" / "cot_marked.db"
    assert db.exists() and marked.exists()
    assert db.stat().st_size < 64_000  # vacuumed, small pages
    assert not (project.path / "recordings" / "cot_demo.db-wal").exists()
    store = TraceStore(db, create=False)
    run = store.list_runs()[0]
    assert run.model == "fake-model" and run.answer == "391"
    assert store.conn.execute("select count(*) from runs where host is not null").fetchone()[0] == 0
    store.close()
    before = db.read_bytes()

    CALLS.clear()
    registry.register("backends", "fake", lambda **kw: pytest.fail("replay must not build a backend"))
    pytest_run(project).assert_outcomes(passed=2)
    pytest_run(project, "--ponder-record=once").assert_outcomes(passed=2)  # exists: replayed
    assert CALLS == []
    assert db.read_bytes() == before  # replay never writes to the recording


def test_edited_prompt_fails_with_the_diff_not_a_traceback(project: pytest.Pytester) -> None:
    pytest_run(project, "--ponder-record=once").assert_outcomes(passed=2)
    project.makepyfile(test_rec=TEST_FILE.format(args='trigger="Think hard."'))
    res = pytest_run(project)
    res.assert_outcomes(failed=1, passed=1)
    out = res.stdout.str()
    assert "replay of recording 'cot_demo'" in out and "diverged" in out
    assert "-A: Let's think step by step." in out and "+A: Think hard." in out
    assert "ReplayMiss" in out
    assert "ponder/replay/rerun.py" not in out  # a failure message, not a traceback wall


def test_all_records_again_and_keeps_the_old_recording_when_the_test_fails(project: pytest.Pytester) -> None:
    pytest_run(project, "--ponder-record=once").assert_outcomes(passed=2)
    db = project.path / "recordings" / "cot_demo.db"
    before = db.read_bytes()
    registry.register("backends", "fake", lambda **kw: _model("392"))
    res = pytest_run(project, "--ponder-record=all")
    res.assert_outcomes(failed=2)  # re-recorded with the new model, whose answer is wrong: nothing replaced
    assert db.read_bytes() == before
    pytest_run(project).assert_outcomes(passed=2)  # the good recording still replays

    def reworded(**kw):  # type: ignore[no-untyped-def]
        return ScriptedBackend(lambda req: "Another way. The answer is " + ("391." if "17" in str(req) else "5."))

    registry.register("backends", "fake", reworded)
    pytest_run(project, "--ponder-record=all").assert_outcomes(passed=2)
    store = TraceStore(db, create=False)
    (call,) = store.llm_calls(store.list_runs()[0].id)
    assert "Another way." in str(call.response)
    store.close()
    assert not list((project.path / "recordings").glob(".*tmp"))


def test_a_failed_once_recording_leaves_nothing_to_replay(project: pytest.Pytester) -> None:
    registry.register("backends", "fake", lambda **kw: _model("392"))
    res = pytest_run(project, "--ponder-record=once")
    res.assert_outcomes(failed=2)  # both tests assert 391 and get 392
    folder = project.path / "recordings"
    assert not folder.exists() or not list(folder.iterdir())  # nothing half-made left behind
    res = pytest_run(project)  # the next run does not replay a broken recording: it says to record one
    res.assert_outcomes(failed=2)
    res.stdout.fnmatch_lines(["*no recording 'cot_demo'*"])
    registry.register("backends", "fake", lambda **kw: _model())
    pytest_run(project, "--ponder-record=once").assert_outcomes(passed=2)
    assert (project.path / "recordings" / "cot_demo.db").exists()


def test_record_hint_names_the_configured_backend(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    res = pytest_run(project)
    res.stdout.fnmatch_lines(["*record it once with a real backend: PONDER_BACKEND=fake pytest *--ponder-record=once*"])
    assert "PONDER_BACKEND=local" not in res.stdout.str()
    monkeypatch.delenv("PONDER_BACKEND")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    res = pytest_run(project)
    res.stdout.fnmatch_lines(["*real backend: OPENAI_BASE_URL=http://127.0.0.1:8080/v1 pytest *"])
    monkeypatch.delenv("OPENAI_BASE_URL")
    res = pytest_run(project)
    res.stdout.fnmatch_lines(["*real backend: PONDER_BACKEND=local pytest *"])  # nothing configured: the default


SYNC_TEST = """
from ponder.agents.cot import CoT

def test_sync(ponder_replay):
    rec = ponder_replay("cot_sync")
    result = rec.run_sync(CoT(), "What is 17 * 23?")
    assert result.answer == "391"
"""

ASYNC_TEST = """
from ponder.agents.cot import CoT

async def test_async(ponder_replay):
    rec = ponder_replay("cot_async")
    assert (await rec.run(CoT(), "What is 17 * 23?")).answer == "391"
"""


def test_sync_tests_need_no_async_plugin(project: pytest.Pytester) -> None:
    project.makepyfile(test_rec=SYNC_TEST)
    pytest_run(project, "-p", "no:asyncio", "--ponder-record=once").assert_outcomes(passed=1)
    assert (project.path / "recordings" / "cot_sync.db").exists()
    CALLS.clear()
    pytest_run(project, "-p", "no:asyncio").assert_outcomes(passed=1)
    assert CALLS == []


def test_async_test_without_pytest_asyncio_says_what_it_needs(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\n")
    project.makepyfile(test_rec=ASYNC_TEST)
    res = pytest_run(project, "-p", "no:asyncio", "--ponder-record=once")
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(
        ["*async def* test, but no async test plugin is active: install pytest-asyncio*rec.run_sync*"]
    )
    assert not (project.path / "recordings" / "cot_async.db").exists()


def test_more_runs_than_recorded_is_a_clear_failure(project: pytest.Pytester) -> None:
    pytest_run(project, "--ponder-record=once").assert_outcomes(passed=2)
    project.makepyfile(
        test_rec="""
async def test_cot(ponder_replay):
    from ponder.agents.cot import CoT
    rec = ponder_replay("cot_demo")
    await rec.run(CoT(), "What is 17 * 23?")
    await rec.run(CoT(), "What is 17 * 23?")
"""
    )
    res = pytest_run(project)
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*recording 'cot_demo' holds 1 run(s) and this test makes more*"])


def test_jsonl_recordings(project: pytest.Pytester) -> None:
    project.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "ponder_recording_format = jsonl\n"
    )
    pytest_run(project, "--ponder-record=once").assert_outcomes(passed=2)
    path = project.path / "recordings" / "cot_demo.jsonl"
    assert path.exists() and not (project.path / "recordings" / "cot_demo.db").exists()
    lines = path.read_text().splitlines()
    assert '"format": "ponder-recording"' in lines[0]
    assert any('"table": "llm_calls"' in line for line in lines)
    CALLS.clear()
    pytest_run(project).assert_outcomes(passed=2)
    assert CALLS == []
    project.makepyfile(test_rec=TEST_FILE.format(args='trigger="Think hard."'))
    res = pytest_run(project)
    res.assert_outcomes(failed=1, passed=1)
    assert "+A: Think hard." in res.stdout.str()


def test_recording_builds_the_backend_with_the_settings_pytest_started_with(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conftest that points ponder's model cache elsewhere (ponder's own does) does not hide the
    developer's models from the backend that records: `PONDER_MODEL=qwen2.5-coder-0.5b` resolves in theirs."""
    seen: list[str | None] = []

    def factory(**kw: object) -> ScriptedBackend:
        import os

        seen.append(os.environ.get("PONDER_MODELS_DIR"))
        return _model()

    registry.register("backends", "fake", factory)
    monkeypatch.setenv("PONDER_MODELS_DIR", "/the/developers/models")
    project.makeconftest(
        "import pytest\n\n@pytest.fixture(autouse=True)\n"
        "def isolated(monkeypatch):\n    monkeypatch.setenv('PONDER_MODELS_DIR', '/nowhere')\n"
    )
    pytest_run(project, "--ponder-record=all").assert_outcomes(passed=2)
    assert seen == ["/the/developers/models"] * 2
