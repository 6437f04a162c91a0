"""Backend selection: CLI flags > environment > config file profile > the embedded local model."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ponder import registry
from ponder.backends.base import Backend
from ponder.errors import ConfigError


def default_config_path() -> Path:
    """`$PONDER_CONFIG`, else ~/.config/ponder/config.toml."""
    env = os.environ.get("PONDER_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("ponder", appauthor=False)) / "config.toml"


class BackendConfig(BaseModel):
    """How to build a backend. The API key itself is never held here: only the env var naming it.

    The named fields are what flags and the environment set; a profile may add any option its
    backend declares (its `Options`), kept as extra fields and checked when the backend is built.
    """

    model_config = ConfigDict(extra="allow")

    backend: str = "local"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    model_path: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    concurrency: int | None = None
    profile: str | None = None


def load_profiles(path: Path | None = None) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The named profiles of the config file and its default profile name (empty if no file)."""
    path = path or default_config_path()
    if not path.exists():
        return {}, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"cannot read config file {path}: not UTF-8 text (byte {e.start})") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from e
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: [profiles] must be a table of named profiles")
    for name, profile in profiles.items():
        if not isinstance(profile, dict):
            raise ConfigError(
                f"{path}: profile {name!r} is a {type(profile).__name__}, not a table; "
                f'write it as [profiles.{name}] with backend = "...", model = "..."'
            )
    default = data.get("default")
    return profiles, default if isinstance(default, str) else None


def resolve_backend_config(
    *,
    backend: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    model_path: str | None = None,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> BackendConfig:
    """Merge flags, environment and config file into one `BackendConfig`.

    Flags beat the environment (PONDER_BACKEND, PONDER_MODEL, OPENAI_BASE_URL), which beats the
    config file's default profile. A profile named with `--backend NAME` counts as a flag.
    """
    env = os.environ if env is None else env
    profiles, default_profile = load_profiles(config_path)
    merged: dict[str, Any] = {}
    chosen = backend or env.get("PONDER_BACKEND") or default_profile
    profile = profiles.get(chosen) if chosen else None
    if chosen and profile is None:
        merged["backend"] = chosen
    env_fields = {
        k: v for k, v in {"model": env.get("PONDER_MODEL"), "base_url": env.get("OPENAI_BASE_URL")}.items() if v
    }
    if profile is not None:
        profile_fields = {"backend": "openai", **profile, "profile": chosen}
        # a profile named by --backend is a flag: it beats the environment; the default one does not
        merged.update(env_fields | profile_fields if backend else profile_fields | env_fields)
    else:
        merged.update(env_fields)
    if "backend" not in merged and env.get("OPENAI_BASE_URL"):
        merged["backend"] = "openai"
    flags = {"model": model, "base_url": base_url, "api_key_env": api_key_env, "model_path": model_path}
    merged.update({k: v for k, v in flags.items() if v is not None})
    if base_url and not backend and merged.get("backend", "local") == "local":
        merged["backend"] = "openai"
    try:
        return BackendConfig(**merged)
    except ValidationError as e:
        raise ConfigError(f"bad backend settings: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from e


def make_backend(cfg: BackendConfig, *, env: Mapping[str, str] | None = None) -> Backend:
    """Build the backend a `BackendConfig` describes, through the registry (`registry.build_backend`).

    The backend gets the settings its `Options` declare; settings it does not take that came from
    flags or the environment are left out (they belong to other backends). An option set in a
    profile that neither ponder nor the backend knows is refused by name.
    """
    declared = registry.backend_entry(cfg.backend).options.model_fields
    general = cfg.model_dump(exclude_none=True, exclude={"backend", "profile"})
    unknown = {k: v for k, v in (cfg.model_extra or {}).items() if k not in declared}
    if unknown:
        raise ConfigError(
            f"backend {cfg.backend!r} has no option {sorted(unknown)[0]!r}; its options: {', '.join(sorted(declared))}"
        )
    options = {k: v for k, v in general.items() if k in declared}
    return registry.build_backend(cfg.backend, options, env)


def resolve_backend(**flags: Any) -> Backend:
    """The backend that flags, environment and config file select (the local model by default)."""
    return make_backend(resolve_backend_config(**flags))


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """`["k=8", "inner.temperature=0.5", "env=game24"]` -> nested dict; values parsed as JSON where they can be."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected key=value")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = settings
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {pair!r}: {part} is not a group of options")
        node[parts[-1]] = value
    return settings


SEED_MAX = 2**63 - 1  # seeds are stored as SQLite integers


def pop_seed(settings: dict[str, Any], seed: int | None, agent: str | None) -> int | None:
    """The run's seed, taking `seed` out of an agent's settings: `--set seed=N` seeds a run of any agent.

    seed: the `--seed` flag (None when not given); both given and different is an error.
    agent: the agent's registered name; an agent that declares a `seed` option of its own keeps it.
    """
    if "seed" not in settings or (agent is not None and "seed" in registry.options("agents", agent)):
        return seed
    value = settings.pop("seed")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ConfigError(f"--set seed={value!r}: a seed is a whole number from 0 to {SEED_MAX}")
    if seed is not None and seed != value:
        raise ConfigError(f"--seed {seed} and --set seed={value} disagree; give the run's seed once")
    return value
