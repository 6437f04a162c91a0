"""Beam search [`beam`] over thought states: the search layer's beam (`ponder.search.beam`).

Settings: width, depth, sampling (greedy/sample), beam_temperature, aggregate (last/sum/mean:
how a path's values score it), and the search config's (method_generate, method_evaluate, …).
"""

from __future__ import annotations

from typing import ClassVar

from ponder.search.agent import SearchAgent


class BeamAgent(SearchAgent):
    """Beam search over thought states: `width` states per step, scored by their path's values."""

    name: ClassVar[str] = "beam"
    fixed_search: ClassVar[str | None] = "beam"
