"""The registered search algorithms, the `search` option that names one, and the folding of flat `--set` keys.

Algorithms are registered under the `ponder.search` entry-point group (the built-ins in
pyproject.toml, a plugin in its own): each entry point names a `SearchSettings` subclass. A
strategy's config keeps the flat names users type (`--set search=dfs --set value_threshold=0.5`);
`fold_search` gathers them into `{"algorithm": "dfs", "value_threshold": 0.5}`, which `AnySearch`
validates against that algorithm's own settings model — so a setting of another algorithm is
refused with a message naming the algorithm it belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, SerializeAsAny

from ponder import registry
from ponder.errors import ConfigError
from ponder.search.base import SearchSettings


def algorithms() -> dict[str, type[SearchSettings]]:
    """Every registered algorithm's settings model, by name (one whose plugin fails to import is left out)."""
    return {
        name: cls
        for name, cls in registry.load_all("search").items()
        if isinstance(cls, type) and issubclass(cls, SearchSettings)
    }


def settings_class(name: str) -> type[SearchSettings]:
    """The settings model registered as algorithm `name`; a `ConfigError` naming the known ones if none."""
    known = registry.names("search")
    if name not in known:
        raise ConfigError(f"unknown search {name!r}; known: {', '.join(known)}")
    cls = registry.load("search", name)
    if not (isinstance(cls, type) and issubclass(cls, SearchSettings)):
        raise ConfigError(f"search plugin {name!r} must name a subclass of ponder.search.base.SearchSettings")
    return cls


def _settings(value: Any) -> Any:
    """A `search` value (a name, a mapping with `algorithm`, or settings) as its algorithm's settings."""
    if isinstance(value, SearchSettings):
        return value
    if isinstance(value, str):
        value = {"algorithm": value}
    if isinstance(value, Mapping):
        return settings_class(str(value.get("algorithm", ""))).model_validate(dict(value))
    return value


# the `search` option of a strategy: any registered algorithm's settings, dumped with all their fields
AnySearch = Annotated[SerializeAsAny[SearchSettings], BeforeValidator(_settings)]
# a config dumped before the search layer had its own settings held these four side by side
_LEGACY_FLAT = ("breadth", "depth", "value_threshold", "max_steps")


def _fields(cls: type[SearchSettings]) -> set[str]:
    return set(cls.model_fields) - {"algorithm"}


def search_keys() -> set[str]:
    """Every flat key that belongs to some registered algorithm's settings."""
    return set().union(*(_fields(cls) for cls in algorithms().values()))


def fold_search(data: Mapping[str, Any], defaults: Mapping[str, Any], default_algorithm: str) -> dict[str, Any]:
    """`data` with its search keys (and the applicable ones of `defaults`) folded into `data["search"]`.

    data: the keys given explicitly (a `--set` mapping, or a recorded config).
    defaults: an env's settings; those that the chosen algorithm does not take are ignored.
    """
    out = {k: v for k, v in data.items() if k not in search_keys()}
    given = data.get("search", defaults.get("search", default_algorithm))
    if isinstance(given, SearchSettings):
        given = given.model_dump()
    if isinstance(given, Mapping):
        settings = dict(given)
        algorithm = str(settings.get("algorithm", default_algorithm))
    else:
        algorithm = str(given)
        settings = {"algorithm": algorithm}
    settings["algorithm"] = algorithm
    takes = _fields(settings_class(algorithm))
    if not isinstance(given, Mapping):
        settings.update({k: v for k, v in defaults.items() if k in takes})
    legacy = all(k in data for k in _LEGACY_FLAT)
    for k in sorted(search_keys() & set(data)):
        if k in takes:
            settings[k] = data[k]
        elif not legacy:
            owners = sorted(a for a, cls in algorithms().items() if k in _fields(cls))
            raise ConfigError(
                f"{k} is a setting of search={'/'.join(owners)}, not of search={algorithm} "
                f"(which takes: {', '.join(sorted(takes))})"
            )
    out["search"] = settings
    return out
