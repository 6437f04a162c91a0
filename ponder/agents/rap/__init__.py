"""RAP (Reasoning via Planning): MCTS with the language model as the world model and RAP's rewards —
on Blocksworld (`rap`) and on GSM8K-format word problems (`rap_gsm8k`)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.agents.rap.agent import RAP, RapGSM8K


def __getattr__(name: str) -> Any:
    # the strategy loads on first use: a viewer imports `ponder.agents.rap.kinds` alone
    if name == "RAP":
        return importlib.import_module("ponder.agents.rap.agent").RAP
    if name == "RapGSM8K":
        return importlib.import_module("ponder.agents.rap.agent").RapGSM8K
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RAP", "RapGSM8K"]
