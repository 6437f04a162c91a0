"""Backends: one async `complete` method behind the `Backend` protocol (and `stream`, where the text can be
handed on while it is written: `StreamingBackend`).

The backends themselves are imported on first access (PEP 562), so importing ponder never
loads the openai SDK, llama.cpp or the trace store unless a backend that needs it is used.
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
    StreamingBackend,
    TextSink,
    collect_attempts,
    current_call_site,
    stream_completion,
)

if TYPE_CHECKING:
    from ponder.backends.cache import CachedBackend
    from ponder.backends.local import LocalBackend
    from ponder.backends.openai_compat import OpenAICompatBackend
    from ponder.backends.replay import ReplayBackend
    from ponder.backends.scripted import ScriptedBackend

_LAZY = {
    "CachedBackend": "ponder.backends.cache",
    "ReplayBackend": "ponder.backends.replay",
    "ScriptedBackend": "ponder.backends.scripted",
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
    "StreamingBackend",
    "TextSink",
    "collect_attempts",
    "current_call_site",
    "stream_completion",
]
