"""Shards of a sweep: the I/N flag, the fixed slice of the tasks each shard runs, and the experiment
id all the shards of one sweep share (so `ponder merge` unifies them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ponder.errors import ConfigError
from ponder.types import Task


def check_shard(shard: tuple[int, int]) -> None:
    """Refuse a shard that does not name one of n slices (`ConfigError`)."""
    i, n = shard
    if n < 1:
        raise ConfigError(f"--shard {i}/{n}: the number of shards must be at least 1")
    if not 1 <= i <= n:
        raise ConfigError(f"--shard {i}/{n}: the shard must be between 1 and {n}")


def parse_shard(text: str) -> tuple[int, int]:
    """`"I/N"` as (i, n), checked."""
    try:
        i, n = (int(p) for p in text.strip().split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: write it as I/N, e.g. 2/4") from None
    check_shard((i, n))
    return i, n


def shard_slice(tasks: list[Task], shard: tuple[int, int]) -> list[Task]:
    """The i-th of n fixed slices of `tasks` (1-based): every n-th task, starting at the i-th."""
    i, n = shard
    return tasks[i - 1 :: n]


def sweep_id(config: Mapping[str, Any]) -> str:
    """The experiment id every shard of one sweep shares: a hash of what defines the sweep."""
    import hashlib
    import json

    keep = {k: v for k, v in config.items() if k not in ("concurrency",)}
    digest = hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()
    return "s" + digest[:11]
