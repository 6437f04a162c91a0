"""The live screen: ask a question with a chosen agent, backend and model; watch the trace grow.

The agent runs in a thread worker with its own event loop and its own connection to the
same database file; the screen polls the database for new events (batched per poll), so
the UI never waits on the model. Escape cancels the run task, which `run_agent` records
as `cancelled`.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Select, Static

from ponder import registry
from ponder.agents.runner import run_agent
from ponder.backends.base import Backend
from ponder.config import parse_settings
from ponder.errors import PonderError
from ponder.traces.store import TraceStore, new_id
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.widgets.run_view import RunView
from ponder.tui.widgets.safe import clean

BackendFactory = Callable[[str, str | None], Backend]


def default_backend_factory(name: str, model: str | None) -> Backend:
    """A backend from the registry name or config profile `name` (flags > env > profile, as the CLI)."""
    from ponder.config import make_backend, resolve_backend_config

    return make_backend(resolve_backend_config(backend=name, model=model or None))


def backend_choices() -> tuple[list[str], str | None]:
    """Registered backends and config profiles, and the one selected by default."""
    from ponder.config import load_profiles, resolve_backend_config

    try:
        profiles, default = load_profiles()
    except PonderError:
        profiles, default = {}, None
    names = list(dict.fromkeys([*profiles, *registry.names("backends")]))
    if default is None:
        try:
            cfg = resolve_backend_config()
            default = cfg.profile or cfg.backend
        except PonderError:
            default = None
    return names, default if default in names else (names[0] if names else None)


class LiveScreen(ReportsWorkerErrors, Screen[None]):
    """Question, agent, backend, model, start; the run's tree and detail below."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel run / back", id="live.cancel"),
        Binding("f", "full_text", "Full text", show=False, id="live.full_text"),
    ]

    def __init__(self, db_path: str, backend_factory: BackendFactory | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.db_path = db_path
        self.backend_factory = backend_factory or default_backend_factory
        self.run_id: str | None = None
        self._run_loop: asyncio.AbstractEventLoop | None = None
        self._run_task: asyncio.Task[Any] | None = None

    def compose(self) -> ComposeResult:
        agents = registry.names("agents")
        backends, default_backend = backend_choices()
        yield Header(show_clock=False, icon="◆")
        with Horizontal(id="live-form"):
            yield Input(placeholder="Ask a question…", id="live-question")
            yield Select(
                [(a, a) for a in agents],
                value=agents[0] if agents else Select.BLANK,
                allow_blank=not agents,
                id="live-agent",
                prompt="agent",
            )
            yield Select(
                [(b, b) for b in backends],
                value=default_backend if default_backend else Select.BLANK,
                allow_blank=not backends,
                id="live-backend",
                prompt="backend",
            )
            yield Input(placeholder="model (default)", id="live-model")
            yield Input(placeholder="options: k=8 env=game24", id="live-options")
            yield Button("Start", id="live-start", variant="primary")
        yield Static("", id="live-status")
        yield RunView(self.db_path, id="live-view")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "live"
        self.query_one(RunView).display = False  # nothing to show until a run starts
        self._status(
            "type a question, choose agent, backend and model, then enter or Start; "
            f"the run is recorded in {self.db_path}",
            "dim",
        )
        self.query_one("#live-question", Input).focus()

    @property
    def running(self) -> bool:
        return self._run_task is not None and not self._run_task.done()

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#live-status", Static).update(Text(clean(text), style=style))

    @on(Input.Submitted, "#live-question")
    @on(Button.Pressed, "#live-start")
    def start(self) -> None:
        """Start the agent on the question (ignored while a run is going)."""
        if self.running:
            self._status("a run is already going; escape cancels it", "yellow")
            return
        question = self.query_one("#live-question", Input).value.strip()
        agent = self.query_one("#live-agent", Select).value
        backend = self.query_one("#live-backend", Select).value
        model = self.query_one("#live-model", Input).value.strip() or None
        options = self.query_one("#live-options", Input).value.strip()
        if not question:
            self._status("type a question first", "yellow")
            return
        if not isinstance(agent, str) or not isinstance(backend, str):
            self._status("choose an agent and a backend", "yellow")
            return
        self.run_id = new_id()
        self._status(f"starting {agent} on {backend}…", "cyan")
        self._run(question, agent, backend, model, options, self.run_id)

    class Started(Message):
        """The run row exists: the view can follow it."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    class Finished(Message):
        """The agent returned, failed or was cancelled."""

        def __init__(self, run_id: str, status: str, detail: str) -> None:
            super().__init__()
            self.run_id = run_id
            self.status = status
            self.detail = detail

    @work(thread=True, exclusive=True, group="live-run", exit_on_error=False)
    def _run(
        self, question: str, agent_name: str, backend_name: str, model: str | None, options: str, run_id: str
    ) -> None:
        try:
            settings = parse_settings(shlex.split(options))
            backend = self.backend_factory(backend_name, model)
            agent = registry.build("agents", agent_name, settings)
        except PonderError as e:
            self.post_message(self.Finished(run_id, "error", str(e)))
            return
        except Exception as e:
            self.post_message(self.Finished(run_id, "error", f"{type(e).__name__}: {e}"))
            return
        store = TraceStore(self.db_path)
        try:
            asyncio.run(self._drive(agent, question, backend, store, run_id))
        finally:
            store.close()

    async def _drive(self, agent: Any, question: str, backend: Backend, store: TraceStore, run_id: str) -> None:
        task = asyncio.create_task(run_agent(agent, question, backend=backend, store=store, run_id=run_id))
        self._run_loop = asyncio.get_running_loop()
        self._run_task = task
        # run_agent writes the run row before its first await, so one turn of the loop is enough
        await asyncio.sleep(0)
        self.post_message(self.Started(run_id))
        try:
            result = await task
        except asyncio.CancelledError:
            self.post_message(self.Finished(run_id, "cancelled", "cancelled; the run is stored as cancelled"))
            return
        except PonderError as e:
            self.post_message(self.Finished(run_id, "error", str(e)))
            return
        except Exception as e:
            self.post_message(self.Finished(run_id, "error", f"{type(e).__name__}: {e}"))
            return
        self.post_message(self.Finished(run_id, result.status, f"answer: {result.answer}"))

    @on(Started)
    def _started(self, message: Started) -> None:
        self._status(f"running {message.run_id}… (escape cancels)", "cyan")
        view = self.query_one(RunView)
        view.display = True
        view.load(message.run_id, follow=True)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        style = {"ok": "green", "cancelled": "yellow"}.get(message.status, "red")
        self._status(f"{message.status}: {message.detail}", style)

    def action_cancel(self) -> None:
        if self.running and self._run_loop is not None and self._run_task is not None:
            self._run_loop.call_soon_threadsafe(self._run_task.cancel)
            self._status("cancelling…", "yellow")
            return
        self.dismiss()

    def on_unmount(self) -> None:
        # leaving the app must not leave an agent running in a thread the app would wait for
        if self.running and self._run_loop is not None and self._run_task is not None:
            self._run_loop.call_soon_threadsafe(self._run_task.cancel)

    def action_full_text(self) -> None:
        from ponder.tui.screens.text import FullTextScreen

        title, text = self.query_one(RunView).detail.full_text()
        self.app.push_screen(FullTextScreen(title, text))
