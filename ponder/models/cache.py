"""The model cache: where pulled models live, the lock that makes pulls safe, and what is present.

A model file appears in the cache only by a rename after its size and SHA-256 were checked; what
a pull writes before that is named `.partial-*` and removed when the pull ends, or by the next
pull if a process was killed. One lock (an flock on the cache folder itself, so it leaves no
file behind) serialises pulls and verifications across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ponder.errors import ModelError
from ponder.models.registry import ModelSpec

ENV_DIR = "PONDER_MODELS_DIR"
PARTIAL_PREFIX = ".partial-"
LOCK_TIMEOUT = 1800.0
"""Seconds to wait for another process's pull (a 1 GB pull on a slow line) before giving up."""
_POLL = 0.2
_CHUNK = 1 << 20


def models_dir() -> Path:
    """`$PONDER_MODELS_DIR`, else the user cache folder (~/.cache/ponder/models on Linux)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ponder", appauthor=False)) / "models"


@contextlib.contextmanager
def locked(
    directory: Path, *, timeout: float = LOCK_TIMEOUT, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the cache's lock (creating the folder); `on_wait` is called once if another process holds it.

    Waits at most `timeout` seconds, then raises ModelError. The lock goes with the process: a
    killed pull never leaves it held.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        if not _try_lock(fd):
            if on_wait is not None:
                on_wait()
            deadline = time.monotonic() + timeout
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise ModelError(
                        f"another process has held the model cache {directory} for over {timeout:.0f} s "
                        "(a pull still running?); try again when it ends"
                    )
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def remove_partials(directory: Path) -> list[Path]:
    """Delete what killed pulls left behind (call with the lock held); returns what was removed."""
    removed = []
    for p in directory.glob(f"{PARTIAL_PREFIX}*"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed


def cached_path(spec: ModelSpec, directory: Path | None = None) -> Path:
    """Where `spec`'s file is (or would be) in the cache."""
    return (directory or models_dir()) / spec.filename


def embedded_path(spec: ModelSpec) -> Path | None:
    """`spec`'s file inside its installed package, if the package is installed (never imported)."""
    if spec.embedded_in is None:
        return None
    found = importlib.util.find_spec(spec.embedded_in)
    if found is None or not found.submodule_search_locations:
        return None
    for folder in found.submodule_search_locations:
        candidate = Path(folder) / spec.filename
        if candidate.is_file():
            return candidate
    return None


def candidates(spec: ModelSpec, directory: Path | None = None) -> list[Path]:
    """The existing files that may be `spec`'s: the cached one, then an installed package's."""
    found = [cached_path(spec, directory)]
    emb = embedded_path(spec)
    if emb is not None:
        found.append(emb)
    return [p for p in found if p.is_file()]


def present_path(spec: ModelSpec, directory: Path | None = None) -> Path | None:
    """The first existing file of `spec` with the official size (hashing is `verify`'s job), else None."""
    for p in candidates(spec, directory):
        if p.stat().st_size == spec.size:
            return p
    return None


def file_sha256(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks; `progress` gets each chunk's length."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return h.hexdigest()
