import pytest

from ponder.backends.config import make_backend, resolve_backend_config
from ponder.errors import ConfigError


def test_default_is_local(tmp_path):
    cfg = resolve_backend_config(env={}, config_path=tmp_path / "none.toml")
    assert cfg.backend == "local"


def test_env_then_flags_win(tmp_path):
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "PONDER_MODEL": "m-env"}
    cfg = resolve_backend_config(env=env, config_path=tmp_path / "none.toml")
    assert (cfg.backend, cfg.base_url, cfg.model) == ("openai", "http://127.0.0.1:9/v1", "m-env")
    cfg = resolve_backend_config(model="m-flag", env=env, config_path=tmp_path / "none.toml")
    assert cfg.model == "m-flag"
    cfg = resolve_backend_config(backend="local", env={"PONDER_BACKEND": "openai"}, config_path=tmp_path / "x")
    assert cfg.backend == "local"


def test_profiles_from_config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        'default = "work"\n'
        '[profiles.work]\nbase_url = "http://127.0.0.1:8000/v1"\nmodel = "qwen"\napi_key_env = "WORK_KEY"\n'
        '[profiles.small]\nbackend = "local"\n'
    )
    cfg = resolve_backend_config(env={}, config_path=path)
    assert (cfg.backend, cfg.model, cfg.api_key_env, cfg.profile) == ("openai", "qwen", "WORK_KEY", "work")
    assert resolve_backend_config(backend="small", env={}, config_path=path).backend == "local"
    # the environment beats the default profile; a profile named by --backend beats the environment
    assert resolve_backend_config(env={"PONDER_MODEL": "other"}, config_path=path).model == "other"
    assert resolve_backend_config(backend="work", env={"PONDER_MODEL": "other"}, config_path=path).model == "qwen"
    assert resolve_backend_config(model="flag", env={}, config_path=path).model == "flag"


def test_bad_config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[profiles\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        resolve_backend_config(env={}, config_path=path)
    path.write_text("[profiles.x]\nbogus = 1\n")
    with pytest.raises(ConfigError, match=r"backend 'openai' has no option 'bogus'; its options: .*base_url"):
        make_backend(resolve_backend_config(backend="x", env={}, config_path=path), env={})
    path.write_text('[profiles.x]\nmodel = "m"\ntimeout = "soon"\n')
    with pytest.raises(ConfigError, match=r"timeout.*valid number"):
        make_backend(resolve_backend_config(backend="x", env={}, config_path=path), env={})
