"""Tables that fit the terminal: columns chosen by priority, free text truncated, never wrapped.

At 80 columns a runs list with every field pushes the status, the answer and the id off the
screen. Here each column has a priority: the most important ones are always shown, the rest
only while they fit; the free-text columns (`flex`) take the width that is left and are cut
with an ellipsis (the full text is one command away: `ponder show`, `--json`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

Justify = Literal["left", "right", "center"]


@dataclass
class Column:
    """One column: its header, its cells, and how it competes for width.

    priority: lower is shown first. flex: takes left-over width, down to `min_width`.
    max_width: the most it is given even when there is room.
    """

    header: str
    cells: list[Text] = field(default_factory=list)
    priority: int = 0
    flex: bool = False
    min_width: int = 4
    max_width: int = 40
    justify: Justify = "left"

    def natural_width(self) -> int:
        """The width its widest cell (or header) needs, at most `max_width`."""
        widest = max((c.cell_len for c in self.cells), default=0)
        return min(max(widest, cell_len(self.header)), self.max_width)


def fit_columns(columns: Sequence[Column], width: int) -> list[tuple[Column, int]]:
    """The columns to show within `width` cells (one space between columns), in their given order,
    with the width each gets."""
    gap = 1
    natural = {id(c): c.natural_width() for c in columns}
    need = {id(c): min(c.min_width, natural[id(c)]) if c.flex else natural[id(c)] for c in columns}
    chosen: list[Column] = []
    used = 0
    for c in sorted(columns, key=lambda c: c.priority):
        extra = need[id(c)] + (gap if chosen else 0)
        if used + extra <= width:
            chosen.append(c)
            used += extra
    widths = {id(c): need[id(c)] for c in chosen}
    spare = width - used
    for c in sorted((c for c in chosen if c.flex), key=lambda c: c.priority):
        more = min(spare, natural[id(c)] - widths[id(c)])
        widths[id(c)] += more
        spare -= more
    return [(c, widths[id(c)]) for c in columns if id(c) in widths]


def fitted_table(columns: Sequence[Column], width: int, *, title: str | None = None) -> Table:
    """A borderless rich `Table` of the columns that fit in `width` cells."""
    fitted = fit_columns(columns, width)
    table = Table(
        box=None,
        header_style="bold",
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
        title=title,
        title_justify="left",
    )
    for c, w in fitted:
        table.add_column(c.header, width=w, no_wrap=True, overflow="ellipsis", justify=c.justify)
    rows = max((len(c.cells) for c, _ in fitted), default=0)
    for i in range(rows):
        table.add_row(*(c.cells[i] if i < len(c.cells) else Text("") for c, _ in fitted))
    return table
