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
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Select, Static

from ponder import registry
from ponder.backends.base import Backend
from ponder.backends.config import parse_settings, pop_seed
from ponder.errors import PonderError
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore, new_id
from ponder.tui._state import LiveChoices, load_choices, save_choices
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.widgets.run_view import RunView
from ponder.tui.widgets.safe import clean, one_line
from ponder.types import Result

# (backend name or profile, model, base URL) -> the backend
BackendFactory = Callable[[str, str | None, str | None], Backend]


def default_backend_factory(name: str, model: str | None, base_url: str | None = None) -> Backend:
    """A backend from the registry name or config profile `name` (flags > env > profile, as the CLI)."""
    from ponder.backends.config import make_backend, resolve_backend_config

    return make_backend(resolve_backend_config(backend=name, model=model or None, base_url=base_url or None))


def backend_choices() -> tuple[list[str], str | None]:
    """Registered backends and config profiles, and the one selected by default."""
    from ponder.backends.config import load_profiles, resolve_backend_config

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


def final_status(status: str, detail: str, result: Result | None, run_id: str) -> Text:
    """The one line that says how a live run ended: status, answer, correctness, calls, tokens, cost, run id."""
    style = {"ok": "bold green", "cancelled": "bold yellow"}.get(status, "bold red")
    line = Text()
    line.append(f"{'✓' if status == 'ok' else '✗'} {status}", style=style)
    if result is None:
        line.append(f" · {clean(detail)}")
        line.append(f" · run {run_id[:8]}", style="dim")
        return line
    line.append(" · answer: ")
    line.append(one_line(result.answer if result.answer is not None else "(none)", 60), style="bold")
    if result.correct is not None:
        line.append(" (correct)" if result.correct else " (wrong)", style="green" if result.correct else "red")
    tokens = result.usage.prompt_tokens + result.usage.completion_tokens
    line.append(f" · {result.calls} calls · {tokens:,} tokens", style="dim")
    if result.cost_usd is not None:
        line.append(f" · ${result.cost_usd:.4f}", style="dim")
    line.append(f" · run {run_id[:8]}", style="dim")
    return line


class LiveScreen(ReportsWorkerErrors, Screen[None]):
    """Question, agent, backend, model, start; the run's tree and detail below."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel run / back", id="live.cancel"),
        Binding("v", "full_text", "Full text", show=False, id="live.full_text"),
        Binding("d", "toggle_detail", "Detail", id="live.detail"),
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
        last = load_choices()
        # the simplest strategy first, not whatever sorts first
        first = "cot" if "cot" in agents else (agents[0] if agents else None)
        agent = last.agent if last.agent in agents else first
        backend = last.backend if last.backend in backends else default_backend
        yield Header(show_clock=False, icon="◆")
        with Vertical(id="live-form"):
            with Horizontal(classes="live-row"):
                yield Input(placeholder="Ask a question…", id="live-question")
                yield Button("Start", id="live-start", variant="primary")
            with Horizontal(classes="live-row"):
                yield Select(
                    [(a, a) for a in agents],
                    value=agent if agent else Select.BLANK,
                    allow_blank=not agents,
                    id="live-agent",
                    prompt="agent",
                )
                yield Select(
                    [(b, b) for b in backends],
                    value=backend if backend else Select.BLANK,
                    allow_blank=not backends,
                    id="live-backend",
                    prompt="backend",
                )
                yield Input(last.model, placeholder="model (default)", id="live-model")
                yield Input(last.base_url, placeholder="base URL (default)", id="live-base-url")
                yield Input(last.options, placeholder="options: k=8 env=game24", id="live-options")
        yield Static("", id="live-status")
        yield RunView(self.db_path, id="live-view")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "live"
        self.query_one(RunView).display = False  # nothing to show until a run starts
        self._status(
            f"type a question, then enter in any field (or Start); the run is recorded in {self.db_path}", "dim"
        )
        self.query_one("#live-question", Input).focus()

    @property
    def running(self) -> bool:
        return self._run_task is not None and not self._run_task.done()

    def _status(self, text: str | Text, style: str = "") -> None:
        self.query_one("#live-status", Static).update(
            text if isinstance(text, Text) else Text(clean(text), style=style)
        )

    @on(Input.Submitted, "#live-form Input")
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
        base_url = self.query_one("#live-base-url", Input).value.strip() or None
        options = self.query_one("#live-options", Input).value.strip()
        if not question:
            self._status("type a question first", "yellow")
            return
        if not isinstance(agent, str) or not isinstance(backend, str):
            self._status("choose an agent and a backend", "yellow")
            return
        save_choices(
            LiveChoices(agent=agent, backend=backend, model=model or "", base_url=base_url or "", options=options)
        )
        self.run_id = new_id()
        self._status(f"starting {agent} on {backend}…", "cyan")
        self._run(question, agent, backend, model, base_url, options, self.run_id)

    class Started(Message):
        """The run row exists: the view can follow it."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    class Finished(Message):
        """The agent returned (`result`), failed or was cancelled (`detail` says how)."""

        def __init__(self, run_id: str, status: str, detail: str, result: Result | None = None) -> None:
            super().__init__()
            self.run_id = run_id
            self.status = status
            self.detail = detail
            self.result = result

    @work(thread=True, exclusive=True, group="live-run", exit_on_error=False)
    def _run(
        self,
        question: str,
        agent_name: str,
        backend_name: str,
        model: str | None,
        base_url: str | None,
        options: str,
        run_id: str,
    ) -> None:
        try:
            settings = parse_settings(shlex.split(options))
            seed = pop_seed(settings, None, agent_name) or 0
            backend = self.backend_factory(backend_name, model, base_url)
            agent = registry.build("agents", agent_name, settings)
        except PonderError as e:
            self.post_message(self.Finished(run_id, "error", str(e)))
            return
        except Exception as e:
            self.post_message(self.Finished(run_id, "error", f"{type(e).__name__}: {e}"))
            return
        store = TraceStore(self.db_path)
        try:
            asyncio.run(self._drive(agent, question, backend, store, run_id, seed))
        finally:
            store.close()

    async def _drive(
        self, agent: Any, question: str, backend: Backend, store: TraceStore, run_id: str, seed: int = 0
    ) -> None:
        task = asyncio.create_task(run_agent(agent, question, backend=backend, store=store, run_id=run_id, seed=seed))
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
        self.post_message(self.Finished(run_id, result.status, f"answer: {result.answer}", result))

    @on(Started)
    def _started(self, message: Started) -> None:
        self._status(f"running {message.run_id}… (escape cancels)", "cyan")
        view = self.query_one(RunView)
        view.display = True
        view.load(message.run_id, follow=True)
        view.event_tree.follow = True
        view.event_tree.focus()

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self._status(final_status(message.status, message.detail, message.result, message.run_id), "")
        view = self.query_one(RunView)
        if view.display:
            view.refresh_now()  # the root row shows the answer now, not a poll later

    def action_toggle_detail(self) -> None:
        self.query_one(RunView).toggle_detail()

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
