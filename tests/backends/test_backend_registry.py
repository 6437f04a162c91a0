"""Backends are built from a name and options through the registry, and declare whether they are free."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder import registry
from ponder.backends.base import BackendOptions, BaseBackend, Capabilities
from ponder.backends.config import make_backend, resolve_backend_config
from ponder.backends.local import LocalBackend
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.backends.pricing import backend_is_free, cost_usd
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError
from ponder.types import Completion, CompletionRequest, Usage


class EchoOptions(BackendOptions):
    prefix: str = "echo"


class EchoBackend(BaseBackend):
    """A plugin backend with an option of its own, free to call."""

    name = "echo"
    free = True
    Options = EchoOptions

    def __init__(self, model: str = "echo-1", prefix: str = "echo") -> None:
        self.model = model
        self.prefix = prefix
        self.capabilities = Capabilities()

    async def complete(self, req: CompletionRequest) -> Completion:
        raise NotImplementedError


class NotABackend:
    name = "nope"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry._extra["backends"], "echo", EchoBackend)
    monkeypatch.setitem(registry._extra["backends"], "not-a-backend", NotABackend)
    monkeypatch.setitem(registry._extra["backends"], "factory", lambda **kw: ScriptedBackend(["x"], **kw))


def test_free_is_declared_not_looked_up_by_name() -> None:
    u = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    assert ScriptedBackend.free and LocalBackend.free and not OpenAICompatBackend.free
    assert cost_usd("gpt-4o", u, free=True) == 0.0
    assert cost_usd("gpt-4o", u) == pytest.approx(12.5)
    assert cost_usd("some-local-model", u) is None  # no price known: unknown, never invented
    assert backend_is_free("local") and backend_is_free("scripted") and not backend_is_free("openai")
    assert not backend_is_free("no-such-backend") and not backend_is_free(None)


def test_a_plugin_backend_gets_its_own_options_from_a_profile(plugins: None, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.mine]\nbackend = "echo"\nmodel = "e2"\nprefix = ">>"\n')
    b = make_backend(resolve_backend_config(backend="mine", env={}, config_path=path), env={})
    assert isinstance(b, EchoBackend) and (b.model, b.prefix) == ("e2", ">>")
    assert backend_is_free("echo")
    # settings for other backends that came from the environment are not forced on it
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    b = make_backend(resolve_backend_config(backend="echo", env=env, config_path=tmp_path / "x"), env=env)
    assert isinstance(b, EchoBackend) and b.model == "echo-1"
    path.write_text('[profiles.mine]\nbackend = "echo"\nsuffix = "?"\n')
    with pytest.raises(ConfigError, match=r"backend 'echo' has no option 'suffix'; its options: model, prefix"):
        make_backend(resolve_backend_config(backend="mine", env={}, config_path=path), env={})


def test_registry_builds_backends_and_refuses_non_backends(plugins: None) -> None:
    b = registry.build_backend("echo", {"prefix": "p"})
    assert isinstance(b, EchoBackend) and b.prefix == "p"
    assert isinstance(registry.build("backends", "echo", {"model": "x"}), EchoBackend)
    with pytest.raises(ConfigError, match=r"must be a subclass of ponder\.backends\.BaseBackend"):
        registry.build_backend("not-a-backend")
    # a factory function registered in-process takes the base options
    made = registry.build_backend("factory", {"model": "f1"})
    assert isinstance(made, ScriptedBackend) and made.model == "f1" and made.free
    with pytest.raises(ConfigError, match="backend 'factory' has no option 'prefix'"):
        registry.build_backend("factory", {"prefix": "p"})
    with pytest.raises(ConfigError, match="unknown backend 'zzz'"):
        registry.build_backend("zzz")


def test_openai_reads_its_key_from_the_env_var_its_option_names() -> None:
    b = registry.build_backend(
        "openai",
        {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "K", "timeout": 2, "max_retries": 0},
        env={"K": "sk-registry-0123456789"},
    )
    assert isinstance(b, OpenAICompatBackend)
    assert (b.timeout, b.max_retries, b._key) == (2, 0, "sk-registry-0123456789")
    assert "sk-registry" not in repr(b)


def test_local_takes_a_gguf_path_as_model(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    b = registry.build_backend("local", {"model": str(gguf), "context": 512})
    assert isinstance(b, LocalBackend) and b.model_path == gguf and b.context == 512
    b = registry.build_backend("local", {"model_path": str(gguf)})
    assert isinstance(b, LocalBackend) and b.model == "tiny"
