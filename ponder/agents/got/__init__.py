"""Graph of Thoughts (Besta et al. 2024, spcl/graph-of-thoughts): a Graph of Operations over dict-state thoughts."""

from ponder.agents.got.agent import GraphOfThoughts

__all__ = ["GraphOfThoughts"]
