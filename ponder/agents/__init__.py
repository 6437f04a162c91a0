"""Reasoning strategies: CoT, self-consistency, Tree-of-Thoughts, ReAct, Reflexion."""
