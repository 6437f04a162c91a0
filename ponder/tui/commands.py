"""The command palette provider: open a run by id, switch database, jump to an event, filter by experiment.

Commands post messages (`ponder.tui.messages`) that the app or the run screen handles: the
provider never calls into the app, so neither module imports the other.
"""

from __future__ import annotations

import asyncio
import re
from functools import partial
from typing import Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from ponder.traces.events import RunRecord
from ponder.tui._data import store_for
from ponder.tui.messages import FilterExperiment, JumpTo, OpenRun, SwitchDb
from ponder.tui.screens.run import RunScreen
from ponder.tui.widgets.safe import one_line


class _ShowsADatabase(Protocol):
    db_path: str


_SEQ = re.compile(r"^(?:#|event\s*|jump\s*(?:to\s*)?(?:event\s*)?)?(\d+)$", re.IGNORECASE)
_DB = re.compile(r"^(?:db|database|switch\s+(?:db|database)(?:\s+to)?)\s+(.+)$", re.IGNORECASE)


def safe_highlight(matcher: Matcher, text: str) -> Content:
    """Like `Matcher.highlight`, but `text` is never parsed as markup (run questions are model/user text)."""
    content = Content(text)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class PonderCommands(Provider):
    """Runs (recent 200), experiments, database switching and event jumps."""

    runs: list[RunRecord]
    experiments: list[dict[str, Any]]

    async def startup(self) -> None:
        path = cast(_ShowsADatabase, self.app).db_path

        def load() -> tuple[list[RunRecord], list[dict[str, Any]]]:
            store = store_for(path)
            return store.list_runs(limit=200), store.list_experiments()

        try:
            self.runs, self.experiments = await asyncio.to_thread(load)
        except Exception:
            self.runs, self.experiments = [], []

    def _open(self, run_id: str, seq: int | None = None) -> None:
        self.app.post_message(OpenRun(run_id, seq))

    def _jump(self, seq: int) -> None:
        self.screen.post_message(JumpTo(seq))

    def _switch_db(self, path: str) -> None:
        self.app.post_message(SwitchDb(path))

    def _filter(self, experiment_id: str) -> None:
        self.app.post_message(FilterExperiment(experiment_id))

    async def discover(self) -> Hits:
        for r in self.runs[:10]:
            text = f"Open run {r.id} · {r.agent} · {one_line(r.question, 50)}"
            yield DiscoveryHit(Content(text), partial(self._open, r.id), text=text, help="open this run")
        yield DiscoveryHit("Live session", partial(self.app.run_action, "live"), help="ask a question live (ctrl+n)")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        q = query.strip()
        if (m := _SEQ.match(q)) and isinstance(self.screen, RunScreen):
            seq = int(m.group(1))
            yield Hit(1.0, Content(f"Jump to event #{seq}"), partial(self._jump, seq), help="move replay here")
        if m := _DB.match(q):
            path = m.group(1).strip()
            yield Hit(
                1.0,
                Content(f"Switch database to {path}"),
                partial(self._switch_db, path),
                help="open another trace database",
            )
        elif "/" in q or q.endswith((".db", ".sqlite", ".sqlite3")):
            yield Hit(
                0.9,
                Content(f"Switch database to {q}"),
                partial(self._switch_db, q),
                help="open another trace database",
            )
        seen = False
        for r in self.runs:
            text = f"Open run {r.id} · {r.agent} · {one_line(r.question, 50)}"
            score = matcher.match(text)
            if r.id.startswith(q.lower()) and q:
                score = max(score, 1.0)
                seen = True
            if score > 0:
                yield Hit(score, safe_highlight(matcher, text), partial(self._open, r.id), text=text)
        if q and re.fullmatch(r"[0-9a-f]{3,12}", q.lower()) and not seen:
            yield Hit(0.8, Content(f"Open run {q}"), partial(self._open, q), help="open the run with this id (prefix)")
        for e in self.experiments:
            text = f"Filter runs by experiment {e['name']} ({e['id']}, {e['runs']} runs)"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    safe_highlight(matcher, text),
                    partial(self._filter, e["id"]),
                    text=text,
                )
        for text, action, help_text in (
            ("Live session", "live", "ask a question live"),
            ("Experiments: accuracy against tokens", "experiments", "every experiment and its chart"),
            ("Help", "help", "keys and screens"),
            ("Toggle light/dark theme", "toggle_theme", "switch between the light and dark theme"),
        ):
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, safe_highlight(matcher, text), partial(self.app.run_action, action), help=help_text)
