"""The help screen: what each screen shows and its keys."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# ponder

**Runs** — every recorded run, newest first. `enter` opens a run, `/` filters
(`agent:tot status:ok exp:ID` and free words over the question, answer and id),
click a column header or press `s` to sort, `r` refreshes (the list also follows
a database that another process is writing).

**Run** — the event tree on the left (ToT nodes with their value, `★` chosen,
`✗` pruned and dimmed; SC paths with their answers and the vote tally; ReAct
thought / action / observation; Reflexion trials as expandable runs). The tabs on the
right show the selected event's prompt, response, raw JSON and stats (`[` / `]` switch
tabs); `f` opens the full text when a tab is cut.

**Replay** — `space` play / pause, `→` / `←` step, `+` / `-` speed, `home` / `end`.

**Live** (`ctrl+n`) — ask a question with an agent, backend and model; the events
stream in as they are recorded. `escape` cancels the run (stored as *cancelled*).

**Everywhere** — `ctrl+p` command palette (open run by id, switch database, jump to
event, filter by experiment, change theme), `ctrl+t` light / dark, `f1` this help,
`ctrl+q` quit.

Model text is shown as plain text: markup is not interpreted and terminal control
sequences are shown as `␛[…`.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and what the screens show."""

    BINDINGS: ClassVar = [Binding("escape,q,f1", "close", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss()
