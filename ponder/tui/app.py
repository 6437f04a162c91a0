"""`PonderApp`: wires the screens together (runs -> run, live, help) and owns navigation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from ponder.errors import PonderError
from ponder.traces.store import TraceStore
from ponder.tui.commands import PonderCommands
from ponder.tui.messages import FilterExperiment, OpenCompare, OpenExperiments, OpenRun, SwitchDb
from ponder.tui.screens.compare import CompareScreen
from ponder.tui.screens.experiments import ExperimentsScreen
from ponder.tui.screens.help import HelpScreen
from ponder.tui.screens.live import BackendFactory, LiveScreen
from ponder.tui.screens.run import RunScreen
from ponder.tui.screens.runs import RunsScreen
from ponder.tui.widgets.safe import clean

DARK, LIGHT = "textual-dark", "textual-light"


class CreateDbScreen(ModalScreen[bool]):
    """Asks whether to create a trace database that does not exist yet."""

    BINDINGS: ClassVar = [Binding("escape", "no", "Quit", id="create.no")]

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="create-box"):
            yield Label(f"There is no trace database at\n{clean(self.path)}", markup=False)
            yield Label("Create an empty one?", id="create-question")
            with Horizontal(id="create-buttons"):
                yield Button("Create", id="create-yes", variant="primary")
                yield Button("Quit", id="create-no")

    @on(Button.Pressed, "#create-yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#create-no")
    def action_no(self) -> None:
        self.dismiss(False)


ERROR_TOAST_S = 24 * 3600.0  # an error toast stays until closed (a day stands for "until closed")


class PonderApp(App[int]):
    """The ponder TUI. `db_path`: the trace database; `backend_factory`: how the live screen builds backends."""

    CSS_PATH = "ponder.tcss"
    TITLE = "ponder"
    COMMANDS = App.COMMANDS | {PonderCommands}
    # below 110 columns screens take the "-narrow" class (ponder.tcss stacks the run view)
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-narrow"), (110, "-wide")]  # type: ignore[misc]
    BINDINGS: ClassVar = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("ctrl+n", "live", "Live", id="app.live"),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme"),
        Binding("ctrl+x", "close_notes", "Close messages", show=False, id="app.close_notes"),
    ]

    def __init__(
        self,
        db_path: str | Path,
        *,
        backend_factory: BackendFactory | None = None,
        run_id: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.db_path = str(Path(db_path).expanduser())
        self.backend_factory = backend_factory
        self.initial_run = run_id
        self.theme = DARK

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A toast; an error stays until it is closed (a click, or ctrl+x), so it can be read."""
        if severity == "error":
            timeout = ERROR_TOAST_S
            hint = "(click or ctrl+x to close)"
            message = f"{message}\n{hint}" if not markup else f"{message}\n[dim]{hint}[/dim]"
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def action_close_notes(self) -> None:
        """Close every message on screen."""
        self.clear_notifications()

    def on_mount(self) -> None:
        if self.db_path != ":memory:" and not Path(self.db_path).exists():
            self.push_screen(CreateDbScreen(self.db_path), self._created)
        else:
            self._start()

    def _created(self, create: bool | None) -> None:
        if not create:
            self.exit(1)
            return
        try:
            TraceStore(self.db_path).close()
        except PonderError as e:
            self.notify(clean(e), title="cannot create the database", severity="error", markup=False)
            return
        self._start()

    def _start(self) -> None:
        self.push_screen(RunsScreen(self.db_path))
        if self.initial_run:
            self.open_run(self.initial_run)

    # -- navigation --------------------------------------------------------------------

    @on(OpenRun)
    def _open_run_message(self, message: OpenRun) -> None:
        self.open_run(message.run_id, message.seq)

    @on(OpenCompare)
    def _open_compare(self, message: OpenCompare) -> None:
        self.push_screen(CompareScreen(self.db_path, message.run_a, message.run_b))

    @on(OpenExperiments)
    def _open_experiments(self, message: OpenExperiments) -> None:
        self.action_experiments()

    def action_experiments(self) -> None:
        if not isinstance(self.screen, ExperimentsScreen):
            self.push_screen(ExperimentsScreen(self.db_path))

    @on(SwitchDb)
    def _switch_db_message(self, message: SwitchDb) -> None:
        self.switch_db(message.path)

    @on(FilterExperiment)
    def _filter_message(self, message: FilterExperiment) -> None:
        self.filter_experiment(message.experiment_id)

    def open_run(self, run_id: str, seq: int | None = None) -> None:
        """Show the run screen for `run_id` (a unique prefix), optionally at event `seq`."""
        if isinstance(self.screen, RunScreen) and self.screen.run_id == run_id and seq is not None:
            self.screen.jump_to(seq)
            return
        self.push_screen(RunScreen(self.db_path, run_id, seq=seq, backend_factory=self.backend_factory))

    def _to_runs_screen(self) -> RunsScreen | None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, RunsScreen):
            self.pop_screen()
        return self.screen if isinstance(self.screen, RunsScreen) else None

    def filter_experiment(self, experiment_id: str) -> None:
        runs = self._to_runs_screen()
        if runs is not None:
            runs.filter_experiment(experiment_id)

    def switch_db(self, path: str) -> None:
        """Open another trace database (checked in a worker; an error is shown, the current one kept)."""
        self._check_db(str(Path(path).expanduser()))

    class _DbChecked(Message):
        def __init__(self, path: str, error: str | None) -> None:
            super().__init__()
            self.path = path
            self.error = error

    @work(thread=True, exclusive=True, group="switch-db", exit_on_error=False)
    def _check_db(self, path: str) -> None:
        try:
            TraceStore(path, readonly=True).close()
        except PonderError as e:
            self.post_message(self._DbChecked(path, str(e)))
            return
        self.post_message(self._DbChecked(path, None))

    @on(_DbChecked)
    def _db_checked(self, message: _DbChecked) -> None:
        if message.error is not None:
            self.notify(clean(message.error), title="cannot switch database", severity="error", markup=False)
            return
        self.db_path = message.path
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(RunsScreen(self.db_path))
        self.notify(clean(f"now showing {message.path}"), markup=False)

    # -- actions -----------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_live(self) -> None:
        if not isinstance(self.screen, LiveScreen):
            self.push_screen(LiveScreen(self.db_path, self.backend_factory))

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK


def run_tui(db_path: str | Path, *, run_id: str | None = None) -> int:
    """Run the app in this terminal; returns its exit code."""
    result = PonderApp(db_path, run_id=run_id).run()
    return int(result or 0)
