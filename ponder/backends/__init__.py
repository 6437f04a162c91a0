"""Backends: one async `complete` method behind the `Backend` protocol.

`OpenAICompatBackend` and `LocalBackend` are imported on first access, so importing
ponder never loads the openai SDK or llama.cpp unless one of them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ponder.backends.base import (
    Attempt,
    Backend,
    BackendOptions,
    BaseBackend,
    CallSite,
    Capabilities,
    collect_attempts,
    current_call_site,
)
from ponder.backends.cache import CachedBackend
from ponder.backends.replay import ReplayBackend
from ponder.backends.scripted import ScriptedBackend

if TYPE_CHECKING:
    from ponder.backends.local import LocalBackend
    from ponder.backends.openai_compat import OpenAICompatBackend

_LAZY = {
    "OpenAICompatBackend": "ponder.backends.openai_compat",
    "LocalBackend": "ponder.backends.local",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Attempt",
    "Backend",
    "BackendOptions",
    "BaseBackend",
    "CachedBackend",
    "CallSite",
    "Capabilities",
    "LocalBackend",
    "OpenAICompatBackend",
    "ReplayBackend",
    "ScriptedBackend",
    "collect_attempts",
    "current_call_site",
]
