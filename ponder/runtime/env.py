"""Which env an agent works on: its own `env` option, else the run's env (`ctx.env`)."""

from __future__ import annotations

import copy
from typing import Any

from ponder import registry
from ponder.envs.base import Env


def episode_env(env: Env) -> Env:
    """A copy of `env` to step one episode in: the run's env may be shared by concurrent runs (a bench)."""
    return copy.deepcopy(env)


def own_or_run_env(name: str | None, config: dict[str, Any] | None, run_env: Env | None) -> Env | None:
    """The env an agent option names (built with `config`), else the run's env, else None."""
    if name is not None:
        env: Env = registry.build("envs", name, config or {}, "env")
        return env
    return run_env
