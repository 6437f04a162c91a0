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

**Runs** — every recorded run, newest first. The agent column names an inner agent
(`self_consistency(react)`), and `↳` before an id marks a fork of another run (`v` says of
which). `enter` opens a run, `v` shows the selected
row in full (a narrow screen cuts text and hides the less important columns), `/` filters
(`agent:tot status:ok exp:ID` — an experiment id prefix or name — and free words over the
question, answer and id), click a column header or press `s` to sort, `r` refreshes (the
list also follows a database that another process is writing). `m` marks a run and `c`
compares it with the selected one: both event lists side by side, aligned by branch and
step, differences marked `≠` (`n` goes to the next), the totals and their deltas on top.
`e` shows the experiments: accuracy against tokens per task, as a chart.

**Run** — the event tree: `enter` (or a click) expands or collapses an event (its children
load then); `c` expands the chosen path. Marks: `★` chosen, `✗` pruned (dimmed), `!` invalid
or an error, `−` failed (a Reflexion trial judged wrong: it ran, its answer did not pass, and
the next trial learns from it), `…` still running; on a run, `✓` / `✗` its answer right /
wrong. ToT nodes show their value (a value evaluation all its n samples, sure=20 likely=1
impossible=0.001); SC paths their answers and
the vote tally; ReAct thought / action / observation; child runs such as Reflexion trials
are expandable runs.
The tabs show the selected event's prompt, response, raw JSON and stats (`[` / `]` switch
tabs, `d` shows or hides them — below 110 columns they are hidden until asked for);
`v` opens the full text when a tab is cut. `f` on a model call or tool action forks the
run there: edit the response (or tool result), `ctrl+s` runs the fork in the background and
opens it beside the original, compared (`ctrl+a` in the editor selects all).

**Replay** — `space` play / pause at the recorded pace (1× = as recorded, gaps over a few
seconds shortened); the events the replay has not reached yet are dimmed. `→` / `←` step,
`+` / `-` speed, `n` / `p` next / previous event on the same level (skips a subtree), `b`
next branch, `home` / `end`.

**Live** (`ctrl+n`) — ask a question with an agent, backend, model, base URL and options;
`enter` in any field starts the run, the tree follows the new events, and the status line
says how it ended. The fields are remembered for next time. `escape` cancels the run
(stored as *cancelled*).

**Everywhere** — `ctrl+p` command palette (open run by id, switch database, jump to
event, filter by experiment, change theme), `ctrl+t` light / dark, `f1` this help,
`ctrl+q` quit. An error stays on screen until you close it (click it, or `ctrl+x`).

Model text is shown as plain text: markup is not interpreted and terminal control
sequences are shown as `\\x1b[…`.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and what the screens show."""

    BINDINGS: ClassVar = [Binding("escape,q,f1", "close", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss()
