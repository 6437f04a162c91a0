"""ponder: an agent-and-planning sandbox with recorded, replayable reasoning traces.

The public names below are imported on first access (PEP 562), so `import ponder` — and every
`ponder` command, and the pytest plugin — loads only the modules it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.agents.cot import CoT
    from ponder.agents.react import ReAct
    from ponder.agents.reflexion import Reflexion
    from ponder.agents.self_consistency import SelfConsistency
    from ponder.agents.tot import TreeOfThoughts
    from ponder.backends import Backend, CachedBackend, ReplayBackend, ScriptedBackend
    from ponder.backends.config import resolve_backend
    from ponder.errors import BackendError, ConfigError, PonderError, ReplayMiss, StoreError, ToolError
    from ponder.experiments.bench import abench, bench
    from ponder.experiments.comparison import Comparison, compare
    from ponder.experiments.results import Experiment
    from ponder.replay.diff import diff_runs
    from ponder.replay.fork import afork, fork
    from ponder.runtime.base import BaseAgent
    from ponder.runtime.budget import Budget
    from ponder.runtime.context import Agent, RunContext
    from ponder.runtime.runner import run_agent
    from ponder.tools.base import tool
    from ponder.traces import Recorder, TraceStore
    from ponder.types import Choice, Completion, CompletionRequest, Message, Result, Task, Usage

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "Agent": "ponder.runtime.context",
    "Backend": "ponder.backends",
    "BackendError": "ponder.errors",
    "BaseAgent": "ponder.runtime.base",
    "Budget": "ponder.runtime.budget",
    "CachedBackend": "ponder.backends",
    "Choice": "ponder.types",
    "CoT": "ponder.agents.cot",
    "Comparison": "ponder.experiments.comparison",
    "Completion": "ponder.types",
    "CompletionRequest": "ponder.types",
    "ConfigError": "ponder.errors",
    "Experiment": "ponder.experiments.results",
    "Message": "ponder.types",
    "PonderError": "ponder.errors",
    "ReAct": "ponder.agents.react",
    "Recorder": "ponder.traces",
    "Reflexion": "ponder.agents.reflexion",
    "ReplayBackend": "ponder.backends",
    "ReplayMiss": "ponder.errors",
    "Result": "ponder.types",
    "RunContext": "ponder.runtime.context",
    "ScriptedBackend": "ponder.backends",
    "SelfConsistency": "ponder.agents.self_consistency",
    "StoreError": "ponder.errors",
    "Task": "ponder.types",
    "ToolError": "ponder.errors",
    "TraceStore": "ponder.traces",
    "TreeOfThoughts": "ponder.agents.tot",
    "Usage": "ponder.types",
    "abench": "ponder.experiments.bench",
    "afork": "ponder.replay.fork",
    "bench": "ponder.experiments.bench",
    "compare": "ponder.experiments.comparison",
    "diff_runs": "ponder.replay.diff",
    "fork": "ponder.replay.fork",
    "resolve_backend": "ponder.backends.config",
    "run_agent": "ponder.runtime.runner",
    "tool": "ponder.tools.base",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Agent",
    "Backend",
    "BackendError",
    "BaseAgent",
    "Budget",
    "CachedBackend",
    "Choice",
    "CoT",
    "Comparison",
    "Completion",
    "CompletionRequest",
    "ConfigError",
    "Experiment",
    "Message",
    "PonderError",
    "ReAct",
    "Recorder",
    "Reflexion",
    "ReplayBackend",
    "ReplayMiss",
    "Result",
    "RunContext",
    "ScriptedBackend",
    "SelfConsistency",
    "StoreError",
    "Task",
    "ToolError",
    "TraceStore",
    "TreeOfThoughts",
    "Usage",
    "abench",
    "afork",
    "bench",
    "compare",
    "diff_runs",
    "fork",
    "resolve_backend",
    "run_agent",
    "tool",
]
