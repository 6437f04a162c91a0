"""Environments: tasks with rewards (Game of 24, arithmetic, QA, household, code)."""

from ponder.envs.base import Env, Evaluation

__all__ = ["Env", "Evaluation"]
