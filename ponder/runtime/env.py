"""Which env a run works on: the one way an env reaches an agent is `ctx.env`, and this is its one resolver.

`resolve_env(agent, task, run_env)`: the agent's own env option (`EnvChoice.env_option`: its `env`,
built with its `env_config`), else the run's env (what `run_agent(env=...)` or a bench gave; for a
child run, its parent's), else the env the task's `metadata["env"]` names, else None. The runner
applies it to every run it drives (top-level and child), and a composite applies it to an inner agent
it runs in its own run (self-consistency's paths); agents then read `ctx.env` and nothing else.

An interactive env is stepped on a copy (`episode_env`): the run's env may be shared by concurrent
runs (a bench), and a search steps many episodes from one state.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

from ponder import registry
from ponder.envs.abilities import Interactive
from ponder.envs.base import Env
from ponder.types import Task

E = TypeVar("E", bound=Interactive)


@runtime_checkable
class EnvChoice(Protocol):
    """An agent with an env option of its own (which wins over the run's env)."""

    def env_option(self) -> Env | None:
        """The env this agent's own options name (built), or None when they name none."""
        ...


def task_env_name(task: Task) -> str | None:
    """The registered env a task names (`metadata["env"]`), if it names one."""
    name = task.metadata.get("env")
    return name if isinstance(name, str) and name in registry.names("envs") else None


def resolve_env(agent: object, task: Task, run_env: Env | None) -> Env | None:
    """The env `agent` works on for `task`: its own option's, else `run_env`, else the task's, else None."""
    own = agent.env_option() if isinstance(agent, EnvChoice) else None
    if own is not None:
        return own
    if run_env is not None:
        return run_env
    name = task_env_name(task)
    if name is None:
        return None
    env: Env = registry.build("envs", name, {}, "env")
    return env


def build_env(name: str, config: dict[str, object] | None = None) -> Env:
    """The env registered as `name`, built with `config` (an agent's `env` / `env_config` options)."""
    env: Env = registry.build("envs", name, config or {}, "env")
    return env


def episode_env(env: E) -> E:
    """A copy of `env` to step one episode in (`Env.episode_copy`: cheap where the env knows how)."""
    return env.episode_copy()
