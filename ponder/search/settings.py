"""Every search algorithm's settings in one discriminated union, and the folding of flat `--set` keys.

A strategy's config keeps the flat names users type (`--set search=dfs --set value_threshold=0.5`);
`fold_search` gathers them into `{"algorithm": "dfs", "value_threshold": 0.5}`, which the union
validates against that algorithm's own model — so a setting of another algorithm is refused
with a message naming the algorithm it belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from ponder.errors import ConfigError
from ponder.search.base import SearchSettings
from ponder.search.beam import BeamSettings
from ponder.search.bfs import BFSSettings
from ponder.search.dfs import DFSSettings
from ponder.search.mcts import MCTSSettings

AnySearch = Annotated[BFSSettings | DFSSettings | BeamSettings | MCTSSettings, Field(discriminator="algorithm")]
ALGORITHMS: dict[str, type[SearchSettings]] = {
    "bfs": BFSSettings,
    "dfs": DFSSettings,
    "beam": BeamSettings,
    "mcts": MCTSSettings,
}
# a config dumped before the search layer had its own settings held these four side by side
_LEGACY_FLAT = ("breadth", "depth", "value_threshold", "max_steps")


def _fields(algorithm: str) -> set[str]:
    return set(ALGORITHMS[algorithm].model_fields) - {"algorithm"}


def search_keys() -> set[str]:
    """Every flat key that belongs to some algorithm's settings."""
    return set().union(*(_fields(a) for a in ALGORITHMS))


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
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown search {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    settings["algorithm"] = algorithm
    takes = _fields(algorithm)
    if not isinstance(given, Mapping):
        settings.update({k: v for k, v in defaults.items() if k in takes})
    legacy = all(k in data for k in _LEGACY_FLAT)
    for k in sorted(search_keys() & set(data)):
        if k in takes:
            settings[k] = data[k]
        elif not legacy:
            owners = sorted(a for a in ALGORITHMS if k in _fields(a))
            raise ConfigError(
                f"{k} is a setting of search={'/'.join(owners)}, not of search={algorithm} "
                f"(which takes: {', '.join(sorted(takes))})"
            )
    out["search"] = settings
    return out
