"""Experiment data out: `ponder experiments`, `ponder export EXP --csv`, `Experiment.to_rows/to_pandas`,
its notebook view and a summary read like a dict."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.errors import ConfigError
from ponder.experiments.bench import bench
from ponder.experiments.results import Experiment
from ponder.traces.store import TraceStore
from tests._toys import ToyEnv, adder

runner = CliRunner()


@pytest.fixture(autouse=True)
def _registered() -> None:
    registry.register("envs", "toy", ToyEnv)
    registry.register("backends", "adder", lambda **kw: adder(wrong={1}))


def _bench(db: Path, *args: str) -> dict[str, Any]:
    res = runner.invoke(app, ["bench", "--env", "toy", "--backend", "adder", "--db", str(db), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    _bench(path, "--agent", "cot", "--n", "2")
    _bench(path, "--agent", "self_consistency", "--set", "k=3", "--set", "inner=react", "--n", "3")
    _bench(path, "--agent", "self_consistency", "--set", "k=3")
    return path


def _listed(db: Path, *args: str) -> list[dict[str, Any]]:
    res = runner.invoke(app, ["experiments", "--db", str(db), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_experiments_lists_newest_first_with_agent_env_model_and_counts(db: Path) -> None:
    rows = _listed(db)
    assert [r["agent_label"] for r in rows] == ["self_consistency(cot)", "self_consistency(react)", "cot"]
    assert [(r["env"], r["backend"], r["model"]) for r in rows] == [("toy", "scripted", "scripted")] * 3
    assert [r["tasks"] for r in rows] == [4, 3, 2]
    assert rows[-1]["correct"] == 1  # t1 is answered wrong
    assert rows[0]["config"]["agent_config"]["k"] == 3


@pytest.mark.parametrize(
    ("args", "agents"),
    [
        (["--agent", "cot"], ["self_consistency(cot)", "cot"]),  # an inner agent counts
        (["--agent", "react"], ["self_consistency(react)"]),
        (["--agent", "self_consistency", "--limit", "1"], ["self_consistency(cot)"]),
        (["--agent", "tot"], []),
        (["--env", "toy", "--name", "COT ON"], ["cot"]),
        (["--env", "game24"], []),
    ],
)
def test_experiments_filters(db: Path, args: list[str], agents: list[str]) -> None:
    assert [r["agent_label"] for r in _listed(db, *args)] == agents


def test_experiments_table(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    res = runner.invoke(app, ["experiments", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "self_consistency(react)" in res.stdout and "scripted:scripted" in res.stdout
    none = runner.invoke(app, ["experiments", "--db", str(db), "--agent", "tot"])
    assert none.exit_code == 0 and "no experiments match" in none.stderr


def test_rows_carry_agent_config_model_and_env(db: Path) -> None:
    with TraceStore(db, readonly=True) as store:
        exp = Experiment.load(store, _listed(db, "--agent", "react")[0]["id"])
    rows = exp.to_rows()
    assert len(rows) == 3
    for row in rows:
        assert (row["agent"], row["model"], row["backend"], row["env"]) == (
            "self_consistency",
            "scripted",
            "scripted",
            "toy",
        )
        assert json.loads(row["config"])["inner"] == "react" and json.loads(row["env_config"]) == {"count": 4}
        assert row["experiment_id"] == exp.id and row["task_id"].startswith("t")
    assert "config" not in exp.to_dict()["results"][0]  # the JSON keeps the config once, at the top


def test_to_pandas(store: TraceStore) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is not installed (pip install -e '.[pandas]')")
    exp = bench("cot", ToyEnv(), backend=adder(wrong={1}), store=store)
    df = exp.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    assert {"agent", "config", "model", "env", "task_id", "correct"} <= set(df.columns)
    assert df.groupby("agent")["correct"].mean().to_dict() == {"cot": 0.75}


def test_to_pandas_without_pandas_says_how_to_get_it(store: TraceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    exp = bench("cot", ToyEnv(count=1), backend=adder(), store=store)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ConfigError, match=r"needs pandas: pip install 'ponder\[pandas\]'"):
        exp.to_pandas()


def test_notebook_view_and_summary_as_a_dict(store: TraceStore) -> None:
    exp = bench("cot", ToyEnv(), backend=ScriptedBackend(lambda r: "The answer is <b>x</b>."), store=store)
    page = exp._repr_html_()
    assert page.startswith(f"<h4>Experiment {exp.id}") and "<td>t3</td>" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page  # model text is escaped
    s = exp.summary
    assert s["accuracy"] == 0.0 and s["n"] == 4 and "per_1k_tokens" in s
    assert dict(s)["calls"] == 4 and json.loads(json.dumps(s.to_dict()))["n"] == 4
    with pytest.raises(KeyError, match="a summary has n, ok"):
        s["acc"]


def test_export_csv(db: Path, tmp_path: Path) -> None:
    exp_id = _listed(db, "--agent", "cot", "--limit", "5")[-1]["id"]
    res = runner.invoke(app, ["export", exp_id[:6], "--csv", "--db", str(db)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["task_id"] for r in rows] == ["t0", "t1"]
    assert all((r["agent"], r["model"], r["env"]) == ("cot", "scripted", "toy") for r in rows)
    assert json.loads(rows[0]["config"])["temperature"] == 0.0
    assert [r["correct"] for r in rows] == ["True", "False"]

    out = tmp_path / "exp.csv"
    res = runner.invoke(app, ["export", "--experiment", exp_id, "--csv", "-o", str(out), "--db", str(db)])
    assert res.exit_code == 0 and f"wrote {out}: 2 tasks" in res.stdout
    assert list(csv.DictReader(out.open())) == rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csv"], "give the experiment: ponder export EXP_ID --csv"),
        (["EXP", "--csv", "--otlp", "http://127.0.0.1:1"], "leave out --otlp and --json"),
        (["EXP", "-o", "x.csv"], "--output goes with --csv"),
        (["EXP"], "or --csv for an experiment"),
        (["nope", "--csv"], "no experiment 'nope'"),
    ],
)
def test_export_bad_input_is_one_line(db: Path, args: list[str], message: str) -> None:
    exp_id = _listed(db)[0]["id"]
    res = runner.invoke(app, ["export", *(exp_id if a == "EXP" else a for a in args), "--db", str(db)])
    assert res.exit_code == 2 and message in res.stderr, res.output
    assert len(res.stderr.strip().splitlines()) == 1
