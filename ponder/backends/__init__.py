"""Backends: one async `complete` method behind the `Backend` protocol."""

from ponder.backends.base import Backend, CallSite, Capabilities, current_call_site
from ponder.backends.cache import CachedBackend
from ponder.backends.replay import ReplayBackend
from ponder.backends.scripted import ScriptedBackend

__all__ = [
    "Backend",
    "CachedBackend",
    "CallSite",
    "Capabilities",
    "ReplayBackend",
    "ScriptedBackend",
    "current_call_site",
]
