"""docs/experiments.md: its Python sample runs as printed, and its table of `bench` arguments names
every parameter `bench`/`abench` take, no more."""

from __future__ import annotations

import inspect
import re
import runpy
from pathlib import Path

import pytest

import ponder
from ponder.errors import ConfigError
from ponder.experiments.bench import abench, bench

PAGE = Path(__file__).resolve().parents[2] / "docs" / "experiments.md"


def test_the_sample_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (body,) = re.findall(r'^```python title="sweep.py"\n(.*?)^```$', PAGE.read_text(), re.MULTILINE | re.DOTALL)
    (tmp_path / "sweep.py").write_text(body)
    monkeypatch.chdir(tmp_path)
    ns = runpy.run_path(str(tmp_path / "sweep.py"))
    assert isinstance(ns["table"], ponder.Comparison) and len(ns["rows"]) == 4
    assert ns["rows"][0]["agent"] == "self_consistency" and ns["rows"][0]["env"] == "arithmetic"
    assert capsys.readouterr().out.splitlines()[-1].startswith("(")  # the calls row: one value per experiment


def test_the_argument_table_matches_the_signature() -> None:
    text = PAGE.read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE))
    for fn in (bench, abench):
        params = set(inspect.signature(fn).parameters) - {"kw", "skip"}  # skip: the Ray driver's, not a user's
        assert params <= documented, f"{fn.__name__}: not documented: {params - documented}"
    assert documented <= set(inspect.signature(abench).parameters)


def test_options_for_an_instance_are_refused_not_ignored() -> None:
    with pytest.raises(ConfigError, match=r"config= configures an agent given by its name"):
        bench(ponder.CoT(), "arithmetic", backend=ponder.ScriptedBackend(["x"]), config={"temperature": 0.5})
    with pytest.raises(ConfigError, match=r"env_config= configures an env given by its name"):
        from ponder.envs.arithmetic import ArithmeticEnv

        bench("cot", ArithmeticEnv(), backend=ponder.ScriptedBackend(["x"]), env_config={"n": 2})
