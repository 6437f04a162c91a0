"""Graph of Thoughts (Besta et al. 2024, spcl/graph-of-thoughts): a Graph of Operations over dict-state thoughts."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.agents.got.agent import GraphOfThoughts


def __getattr__(name: str) -> Any:
    # the strategy loads on first use: a viewer imports `ponder.agents.got.kinds` alone
    if name == "GraphOfThoughts":
        return importlib.import_module("ponder.agents.got.agent").GraphOfThoughts
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GraphOfThoughts"]
