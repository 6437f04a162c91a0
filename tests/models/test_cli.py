"""`ponder models`, `ponder models pull`, `ponder models verify`, `ponder models license`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.models import MODELS
from tests.models.conftest import FakeIndex, random_parts

runner = CliRunner()


@pytest.fixture
def tiny(fake_index: FakeIndex, cache: Path, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """A known model `tiny` served by the fake index."""
    parts = random_parts([20_000, 10_000])
    monkeypatch.setitem(MODELS, "tiny", fake_index.add_model("tiny", parts))
    monkeypatch.setenv("PONDER_MODELS_INDEX_URL", fake_index.index)
    monkeypatch.setattr("ponder.models.cache.embedded_path", lambda spec: None)
    return parts


def test_list_pull_list_verify(tiny: list[bytes], cache: Path) -> None:
    listed = json.loads(runner.invoke(app, ["models", "--json"]).stdout)
    row = next(r for r in listed if r["name"] == "tiny")
    assert not row["present"] and row["size"] == 30_000 and row["license"] == "Apache-2.0"
    assert row["source"] == "PyPI tiny-part1..2 ==1.0"
    assert {r["name"]: r["role"] for r in listed if r["role"]} == {
        "qwen2.5-coder-1.5b": "default",
        "qwen2.5-coder-0.5b": "offline fallback",
        "smollm2-135m": "offline fallback",
    }

    pulled = runner.invoke(app, ["models", "pull", "tiny"])
    assert pulled.exit_code == 0, pulled.output
    assert pulled.stdout.strip() == f"tiny: {cache / 'tiny.gguf'}"
    assert "pulling tiny" in pulled.stderr
    assert (cache / "tiny.gguf").read_bytes() == b"".join(tiny)

    table = runner.invoke(app, ["models"], env={"COLUMNS": "250"})
    assert table.exit_code == 0
    [line] = [ln for ln in table.stdout.splitlines() if ln.strip().startswith("tiny")]
    assert line.split()[:8] == ["tiny", "PyPI", "tiny-part1..2", "==1.0", "0", "MB", "Apache-2.0", "yes"]
    assert str(cache / "tiny.gguf") in line
    assert "default: qwen2.5-coder-1.5b; offline fallbacks, in order: qwen2.5-coder-0.5b, smollm2-135m" in table.stdout

    ok = runner.invoke(app, ["models", "verify", "tiny"])
    assert ok.exit_code == 0 and ok.stdout.startswith("tiny: ok ")


def test_verify_removes_a_tampered_file_and_exits_1(tiny: list[bytes], cache: Path) -> None:
    assert runner.invoke(app, ["models", "pull", "tiny"]).exit_code == 0
    f = cache / "tiny.gguf"
    f.write_bytes(b"x" + f.read_bytes()[1:])
    res = runner.invoke(app, ["models", "verify", "--json"])
    assert res.exit_code == 1
    [row] = [r for r in json.loads(res.stdout) if r["name"] == "tiny"]
    assert row["status"] == "removed" and not f.exists()
    assert {r["status"] for r in json.loads(res.stdout) if r["name"] != "tiny"} == {"absent"}


def test_a_refused_pull_is_one_line_exit_2_and_caches_nothing(
    fake_index: FakeIndex, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "tiny", fake_index.add_model("tiny", random_parts([5000]), sha256="a" * 64))
    monkeypatch.setenv("PONDER_MODELS_INDEX_URL", fake_index.index)
    res = runner.invoke(app, ["models", "pull", "tiny"])
    assert res.exit_code == 2
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("ponder: refused")]
    assert len(errors) == 1 and "a" * 64 in errors[0] and "nothing was cached" in errors[0]
    assert "Traceback" not in res.output and list(cache.iterdir()) == []


def test_unknown_model_and_license() -> None:
    res = runner.invoke(app, ["models", "pull", "gpt-7"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert "unknown model 'gpt-7'; ponder knows: qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2-135m" in res.stderr
    lic = runner.invoke(app, ["models", "license", "qwen2.5-coder-0.5b"])
    assert lic.exit_code == 0 and "Apache License" in lic.stdout and "Version 2.0, January 2004" in lic.stdout
