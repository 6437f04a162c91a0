"""Plugin registry: agents, backends, tools and envs found through entry points.

The built-ins are registered exactly like third-party plugins, in pyproject.toml's
`[project.entry-points."ponder.agents"]` (and `.backends`, `.tools`, `.envs`, `.search` for
search algorithms, and `.kinds` for the light modules that declare a strategy's event kinds).
`register()` adds one in-process (a notebook, a test).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ponder.backends.base import Backend, BackendOptions, BaseBackend
from ponder.errors import ConfigError

Kind = Literal["agents", "backends", "tools", "envs", "search", "kinds"]
KINDS: tuple[Kind, ...] = ("agents", "backends", "tools", "envs", "search", "kinds")
_extra: dict[str, dict[str, Any]] = {k: {} for k in KINDS}


@cache
def _entry_points(kind: Kind) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=f"ponder.{kind}")}


def names(kind: Kind) -> list[str]:
    """Every registered name of a kind, sorted."""
    return sorted(set(_entry_points(kind)) | set(_extra[kind]))


def load(kind: Kind, name: str) -> Any:
    """The object registered as `name` (a class or factory); a `ConfigError` listing the known names if none."""
    if name in _extra[kind]:
        return _extra[kind][name]
    ep = _entry_points(kind).get(name)
    if ep is None:
        singular = kind[:-1]
        raise ConfigError(f"unknown {singular} {name!r}; known {kind}: {', '.join(names(kind)) or 'none'}")
    return ep.load()


def load_all(kind: Kind) -> dict[str, Any]:
    """Every registered object of a kind that loads, by name; a plugin that fails to import is left out, not fatal."""
    loaded = {}
    for n in names(kind):
        try:
            loaded[n] = load(kind, n)
        except Exception:  # a broken third-party plugin must not break whoever needs the others
            continue
    return loaded


def register(kind: Kind, name: str, obj: Any) -> None:
    """Register `obj` as `name` for this process (entry points are the way for packages)."""
    _extra[kind][name] = obj


def describe(kind: Kind) -> list[tuple[str, str, str]]:
    """(name, where it comes from, first line of its docstring) for each registered name."""
    rows = []
    for n in names(kind):
        ep = _entry_points(kind).get(n)
        where = ep.value if ep is not None else "registered in-process"
        try:
            doc = (load(kind, n).__doc__ or "").strip().splitlines()
        except Exception as e:  # a broken third-party plugin is listed, not fatal
            doc = [f"(cannot load: {e})"]
        rows.append((n, where, doc[0] if doc else ""))
    return rows


def options(kind: Kind, name: str) -> frozenset[str]:
    """The option names the registered `name` is configured by (a pydantic model's fields; none for a factory)."""
    obj = load(kind, name)
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        return frozenset(obj.model_fields)
    return frozenset()


def _validated(model: type[BaseModel], settings: Mapping[str, Any], what: str, name: str) -> Any:
    try:
        return model.model_validate(dict(settings))
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            fields = ", ".join(sorted(model.model_fields))
            raise ConfigError(f"{what} {name!r} has no option {loc!r}; its options: {fields}") from None
        raise ConfigError(f"{what} {name!r} option {loc}: {first['msg']} (got {first.get('input')!r})") from None


@dataclass(frozen=True)
class BackendEntry:
    """How to build a registered backend: the options it takes, whether its calls are free, the builder."""

    options: type[BackendOptions]
    free: bool
    make: Callable[[BackendOptions, Mapping[str, str]], Backend]


def backend_entry(name: str) -> BackendEntry:
    """What is registered as backend `name`: a `BaseBackend` subclass (the way for plugins), or a
    factory function registered in-process (`register("backends", name, fn)`, a test's fake) that
    takes the base options as keyword arguments and is not known to be free until built."""
    obj = load("backends", name)
    if isinstance(obj, type):
        if not issubclass(obj, BaseBackend):
            raise ConfigError(f"backend plugin {name!r} must be a subclass of ponder.backends.BaseBackend")
        return BackendEntry(obj.Options, obj.free, obj.from_options)
    if not callable(obj):
        raise ConfigError(f"backend plugin {name!r} is neither a BaseBackend subclass nor a factory function")
    factory: Callable[..., Backend] = obj
    return BackendEntry(BackendOptions, False, lambda opts, env: factory(**opts.model_dump(exclude_none=True)))


def build_backend(name: str, options: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Backend:
    """The backend registered as `name`, built from `options` (validated by its `Options` model).

    env: where options that name environment variables (an API key's) are read (default `os.environ`).
    """
    entry = backend_entry(name)
    opts = _validated(entry.options, options or {}, "backend", name)
    return entry.make(opts, os.environ if env is None else env)


def build(kind: Kind, name: str, config: Mapping[str, Any] | None = None, what: str | None = None) -> Any:
    """The registered `name` configured by `config`; a `ConfigError` that names the bad option if it does not fit."""
    what = what or kind[:-1]
    if kind == "backends":
        return build_backend(name, config)
    cls = load(kind, name)
    settings = dict(config or {})
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return _validated(cls, settings, what, name)
    try:
        return cls(**settings)
    except TypeError as e:
        raise ConfigError(f"{what} {name!r} does not take these options {sorted(settings)}: {e}") from None
