"""RAP (Reasoning via Planning): MCTS with the language model as the world model and RAP's rewards."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.agents.rap.agent import RAP


def __getattr__(name: str) -> Any:
    # the strategy loads on first use: a viewer imports `ponder.agents.rap.kinds` alone
    if name == "RAP":
        return importlib.import_module("ponder.agents.rap.agent").RAP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RAP"]
