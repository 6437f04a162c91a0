import json

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.config import parse_settings
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.errors import ConfigError
from ponder.traces.store import TraceStore

runner = CliRunner()


@pytest.fixture
def fake_backend(monkeypatch):
    def factory(model: str = "fake-model"):
        return ScriptedBackend(["340 + 51 = 391. The answer is 391."], model=model)

    monkeypatch.setitem(registry._extra["backends"], "fake", factory)
    return factory


def test_run_json_then_runs_and_show(tmp_path, fake_backend):
    db = str(tmp_path / "t.db")
    res = runner.invoke(app, ["run", "What is 17 * 23?", "--backend", "fake", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["answer"] == "391" and payload["status"] == "ok"
    assert payload["usage"]["calls"] == 1 and payload["backend"] == "scripted" and payload["model"] == "fake-model"
    assert set(payload) >= {"run_id", "status", "answer", "usage", "agent", "backend", "model"}

    listed = runner.invoke(app, ["runs", "--db", db, "--json"])
    assert json.loads(listed.stdout)[0]["id"] == payload["run_id"]

    shown = runner.invoke(app, ["show", payload["run_id"][:6], "--db", db, "--format", "json"])
    data = json.loads(shown.stdout)
    assert [e["kind"] for e in data["events"]] == ["llm_call", "thought", "answer"]
    assert data["llm_calls"][0]["response"]["choices"][0]["text"].endswith("The answer is 391.")

    md = runner.invoke(app, ["show", payload["run_id"], "--db", db])
    assert "**thought**" in md.stdout and "answer: 391" in md.stdout


def test_run_plain_output(tmp_path, fake_backend):
    res = runner.invoke(app, ["run", "What is 17 * 23?", "--backend", "fake", "--db", str(tmp_path / "t.db")])
    assert res.exit_code == 0 and "answer: 391" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "  "], "question is empty"),
        (["run", "q", "--agent", "nope"], "unknown agent 'nope'; known agents: "),
        (["run", "q", "--backend", "nope"], "unknown backend 'nope'"),
        (["run", "q", "--set", "nope=1", "--backend", "fake"], "has no option 'nope'"),
        (["run", "q", "--set", "temperature=hot", "--backend", "fake"], "option temperature: Input should be"),
        (["run", "q", "--set", "novalue", "--backend", "fake"], "expected key=value"),
        (["show", "nosuchrun"], "no run 'nosuchrun'"),
        (["show", "x", "--format", "xml"], "choose md or json"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, fake_backend, args, message):
    db = tmp_path / "t.db"
    TraceStore(db).close()
    res = runner.invoke(app, [*args, "--db", str(db)])
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert "Traceback" not in res.output + res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_db_that_is_a_directory_or_not_sqlite(tmp_path):
    res = runner.invoke(app, ["runs", "--db", str(tmp_path)])
    assert res.exit_code == 2 and "is a directory" in res.stderr
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite at all")
    res = runner.invoke(app, ["runs", "--db", str(junk)])
    assert res.exit_code == 2 and "not a SQLite database" in res.stderr


def test_agents_and_backends_list_registry():
    res = runner.invoke(app, ["agents"])
    assert res.exit_code == 0 and "cot" in res.stdout
    res = runner.invoke(app, ["backends"])
    assert res.exit_code == 0 and "local" in res.stdout and "openai" in res.stdout


def test_parse_settings_nested_and_typed():
    assert parse_settings(["k=8", "inner.temperature=0.5", "env=game24", "adaptive=true"]) == {
        "k": 8,
        "inner": {"temperature": 0.5},
        "env": "game24",
        "adaptive": True,
    }
    with pytest.raises(ConfigError):
        parse_settings(["=3"])
