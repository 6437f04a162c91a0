"""RAP (Reasoning via Planning): MCTS with the language model as the world model and RAP's rewards."""

from ponder.agents.rap.agent import RAP

__all__ = ["RAP"]
