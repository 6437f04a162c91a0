"""ponder: an agent-and-planning sandbox with recorded, replayable reasoning traces."""

from ponder.agents.base import Agent, BaseAgent, Budget, RunContext, run_agent
from ponder.agents.cot import CoT
from ponder.backends import Backend, CachedBackend, ReplayBackend, ScriptedBackend
from ponder.config import resolve_backend
from ponder.errors import BackendError, ConfigError, PonderError, ReplayMiss, StoreError, ToolError
from ponder.experiments import Experiment, abench, bench
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
    "Recorder",
    "ReplayBackend",
    "ReplayMiss",
    "Result",
    "RunContext",
    "ScriptedBackend",
    "StoreError",
    "Task",
    "ToolError",
    "TraceStore",
    "Usage",
    "abench",
    "bench",
    "resolve_backend",
    "run_agent",
]
