"""Loading env data: JSONL files (bad lines counted, not fatal) and the example files shipped with ponder."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from ponder._util.jsonl import iter_jsonl


def example_file(name: str) -> Path:
    """A data file shipped in `ponder/envs/data/`."""
    return Path(str(resources.files("ponder.envs") / "data" / name))


def read_jsonl(
    path: str | os.PathLike[str], *, required: tuple[str, ...] = ()
) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects of a JSONL file that have the `required` keys, and one message per bad line."""
    rows: list[dict[str, Any]] = []
    bad: list[str] = []
    for i, obj, reason in iter_jsonl(path):
        if obj is None:
            bad.append(f"line {i}: {reason}")
            continue
        missing = [k for k in required if k not in obj]
        if missing:
            bad.append(f"line {i}: missing {', '.join(missing)}")
            continue
        rows.append(obj)
    return rows, bad
