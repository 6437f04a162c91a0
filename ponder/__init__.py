"""ponder: an agent-and-planning sandbox with recorded, replayable reasoning traces."""

from ponder.agents.cot import CoT
from ponder.agents.react import ReAct
from ponder.agents.reflexion import Reflexion
from ponder.agents.self_consistency import SelfConsistency
from ponder.agents.tot import TreeOfThoughts
from ponder.backends import Backend, CachedBackend, ReplayBackend, ScriptedBackend
from ponder.config import resolve_backend
from ponder.diff import diff_runs
from ponder.errors import BackendError, ConfigError, PonderError, ReplayMiss, StoreError, ToolError
from ponder.experiments import Experiment, abench, bench
from ponder.forks import afork, fork
from ponder.runtime.base import BaseAgent
from ponder.runtime.budget import Budget
from ponder.runtime.context import Agent, RunContext
from ponder.runtime.runner import run_agent
from ponder.tools.base import tool
from ponder.traces import Recorder, TraceStore
from ponder.types import Choice, Completion, CompletionRequest, Message, Result, Task, Usage

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "Backend",
    "BackendError",
    "BaseAgent",
    "Budget",
    "CachedBackend",
    "Choice",
    "CoT",
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
    "diff_runs",
    "fork",
    "resolve_backend",
    "run_agent",
    "tool",
]
