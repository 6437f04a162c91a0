"""ponder's error hierarchy: every expected failure is a `PonderError` whose message says what to do."""

from __future__ import annotations


class PonderError(Exception):
    """Base of every error ponder raises on purpose; the CLI prints it as one line, exit code 2."""


class ConfigError(PonderError):
    """A configuration, option or name that ponder cannot use."""


class BackendError(PonderError):
    """A backend failed to answer (unreachable, refused, malformed reply, retries exhausted)."""


class BudgetExceeded(PonderError):
    """A run hit one of its budgets (max calls, max tokens, wall timeout)."""


class RunTimedOut(BudgetExceeded):
    """A run passed its wall-clock budget; what it had in flight was cancelled."""


class ReplayMiss(BackendError):
    """A replayed run asked for a completion that was never recorded."""


class ToolError(PonderError):
    """A tool refused its input or failed; the message is shown to the agent as an observation."""


class StoreError(PonderError):
    """The trace store cannot be opened or used (not a SQLite file, a directory, unknown run)."""


class ModelError(PonderError):
    """A model file cannot be pulled, or is not the official file (wrong size or SHA-256)."""


class ModelUnreachable(ModelError):
    """The package index that carries a model cannot be reached (offline, DNS, refused, timed out)."""
