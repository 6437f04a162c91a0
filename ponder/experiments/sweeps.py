"""Planning a sweep: the agent and env built from their names and configs, the tasks taken (this
shard's), and the experiment config; the same arguments give the same plan on every machine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ponder import registry
from ponder.backends.base import Backend
from ponder.envs.base import Env, env_options
from ponder.errors import ConfigError
from ponder.experiments.sharding import shard_slice, sweep_id
from ponder.runtime.budget import Budget
from ponder.runtime.context import Agent
from ponder.types import Task


def _agent_wants_env(env: Env | None) -> bool:
    # an env that an agent works *with* (Tree-of-Thoughts takes Game of 24's prompts, ReAct
    # acts in household) rather than one that only hands out questions and scores answers
    return env is not None and (env.searchable or env.interactive or env.answer_format)


def build_agent(name: str, config: Mapping[str, Any] | None = None, *, env: Env | None = None) -> Agent:
    """The registered agent `name` configured by `config`, through `registry.build`.

    env: the env instance the agent will run on; an agent with an `env` option not set in
        `config` gets the env's name (and its options, as `env_config`, where the agent
        has that option) when the env is one agents work with: one with a Tree-of-Thoughts
        problem (`thought_problem`) or an interactive one.
    """
    config = dict(config or {})
    options = registry.options("agents", name)
    agent: Agent
    if env is not None and "env" in options and "env" not in config and _agent_wants_env(env):
        filled = {**config, "env": env.name}
        if "env_config" in options and "env_config" not in config and env_options(env):
            filled["env_config"] = env_options(env)
        try:
            agent = registry.build("agents", name, filled, "agent")
            return agent
        except ConfigError:
            pass
    agent = registry.build("agents", name, config, "agent")
    return agent


def _config_dict(obj: Any) -> dict[str, Any]:
    return obj.model_dump(mode="json") if isinstance(obj, BaseModel) else {}


def _first_problems(tasks: Iterable[Task], n: int) -> Iterator[Task]:
    """The tasks of the first `n` problems (the samples of one problem, `metadata["problem"]`, count once)."""
    seen: set[str] = set()
    for t in tasks:
        key = str(t.metadata.get("problem", t.id))
        if key not in seen and len(seen) == n:
            return
        seen.add(key)
        yield t


def _take(env: Env, n: int | None) -> list[Task]:
    if n is not None and n <= 0:
        raise ConfigError(f"n must be at least 1 (got {n}); leave it out to run every task")
    tasks = env.tasks()
    chosen = list(tasks if n is None else _first_problems(tasks, n))
    if not chosen:
        raise ConfigError(f"env {env.name!r} has no tasks")
    ids = [t.id for t in chosen]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ConfigError(f"env gives two tasks with the id {dup!r}; task ids must be unique to resume and compare")
    return chosen


def _check_resumable(previous: dict[str, Any], agent: str, env: str, agent_config: dict[str, Any], seed: int) -> None:
    """Refuse to resume an experiment with another agent, env, agent options or seed."""
    eid = previous["id"]
    for what, have in (("agent", agent), ("env", env)):
        if previous.get(what) not in (None, have):
            raise ConfigError(
                f"experiment {eid} ran {what} {previous.get(what)!r}, not {have!r}; resume it with the same {what}"
            )
    old = previous.get("agent_config")
    if old is not None and old != agent_config:
        keys = sorted(k for k in set(old) | set(agent_config) if old.get(k) != agent_config.get(k))
        raise ConfigError(
            f"experiment {eid} ran its agent with other options ({', '.join(keys)}); resume it with the same"
        )
    if previous.get("seed") not in (None, seed):
        raise ConfigError(f"experiment {eid} ran with seed {previous['seed']}; resume it with seed {previous['seed']}")


def sharded_config(config: dict[str, Any], shards: int) -> dict[str, Any]:
    """The experiment config of a sweep run as `shards` shards: what every shard's shared id is made from."""
    return {**config, "shards": shards}


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep runs: its built agent and env, its tasks (this shard's) and its experiment config."""

    agent: Agent
    env: Env
    tasks: list[Task]
    config: dict[str, Any]

    @property
    def sweep_id(self) -> str:
        """The experiment id every shard of this sweep shares."""
        return sweep_id(self.config)

    @property
    def default_name(self) -> str:
        """The experiment's name when none is given: `AGENT on ENV`."""
        return f"{self.config['agent']} on {self.config['env']}"


def plan_sweep(
    agent: Any,
    env: Any,
    backend: Backend,
    *,
    n: int | None = None,
    seed: int = 0,
    concurrency: int = 8,
    config: Mapping[str, Any] | None = None,
    env_config: Mapping[str, Any] | None = None,
    budget: Budget | None = None,
    shard: tuple[int, int] | None = None,
    previous: Mapping[str, Any] | None = None,
) -> SweepPlan:
    """Build the agent and env of a sweep, take its tasks (the shard's slice) and make its config.

    The same arguments give the same plan on every machine (the Ray executor's driver and
    workers both plan). previous: the config of an experiment being resumed (checked to match).
    """
    agent_name = agent if isinstance(agent, str) else agent.name
    env_name = env if isinstance(env, str) else env.name
    # options for an instance would be ignored: say so instead
    if config and not isinstance(agent, str):
        raise ConfigError(
            f"config= configures an agent given by its name (bench({agent_name!r}, ..., config={{...}})); "
            f"set the options on the {type(agent).__name__} you passed instead"
        )
    if env_config and not isinstance(env, str):
        raise ConfigError(
            f"env_config= configures an env given by its name (bench(..., {env_name!r}, env_config={{...}})); "
            f"set the options on the {type(env).__name__} you passed instead"
        )
    the_env = registry.build("envs", env, env_config, "env") if isinstance(env, str) else env
    the_agent = build_agent(agent, config, env=the_env) if isinstance(agent, str) else agent
    if previous is not None:
        _check_resumable(dict(previous), agent_name, env_name, _config_dict(the_agent), seed)
    tasks = _take(the_env, n)
    exp_config: dict[str, Any] = {
        "agent": agent_name,
        "agent_config": _config_dict(the_agent),
        "env": env_name,
        "env_config": env_options(the_env),
        "backend": backend.name,
        "model": backend.model,
        "n": n,
        "tasks": len(tasks),
        "seed": seed,
        "concurrency": concurrency,
        "budget": None if budget is None else budget.model_dump(mode="json"),
    }
    if shard is not None:
        exp_config = sharded_config(exp_config, shard[1])
        tasks = shard_slice(tasks, shard)
    return SweepPlan(agent=the_agent, env=the_env, tasks=tasks, config=exp_config)
