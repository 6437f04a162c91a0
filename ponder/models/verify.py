"""Re-checking present model files against their official size and SHA-256; listing what is present."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ponder.models.cache import cached_path, candidates, embedded_path, file_sha256, locked, models_dir, present_path
from ponder.models.progress import Reporter, waiting_line
from ponder.models.registry import DEFAULT_MODEL, FALLBACK_MODELS, MODELS, ModelSpec, get_spec

Outcome = Literal["ok", "absent", "removed", "flagged"]


class Verified(BaseModel):
    """What `verify` found for one file of a model.

    status: ok (official size and SHA-256); absent (no file); removed (a cached file that was not
    the official one, deleted so the next pull fetches it again); flagged (a wrong file inside an
    installed package: reported, left alone, since it is not ponder's to delete).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    path: Path | None
    status: Outcome
    detail: str


class ModelStatus(BaseModel):
    """One line of `ponder models`: a known model and whether its file is present."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    source: str
    size: int
    sha256: str
    license: str
    license_file: Path
    present: bool
    path: Path | None
    role: str  # "default", "offline fallback" or ""


def list_models(directory: Path | None = None) -> list[ModelStatus]:
    """Every model ponder knows, with the path of its file when present (by size; `verify` hashes)."""
    out = []
    for spec in MODELS.values():
        path = present_path(spec, directory)
        role = "default" if spec.name == DEFAULT_MODEL else "offline fallback" if spec.name in FALLBACK_MODELS else ""
        out.append(
            ModelStatus(
                name=spec.name,
                title=spec.title,
                source=spec.source,
                size=spec.size,
                sha256=spec.sha256,
                license=spec.license,
                license_file=spec.license_path,
                present=path is not None,
                path=path if path is not None else cached_path(spec, directory),
                role=role,
            )
        )
    return out


def verify(
    name: str | None = None, *, directory: Path | None = None, reporter: Reporter | None = None
) -> list[Verified]:
    """Re-hash the present files of model `name` (None: every known model), under the cache's lock.

    A cached file that is not the official one is removed; one inside an installed package is
    flagged. Models with no file are reported `absent`.
    """
    specs = [get_spec(name)] if name is not None else list(MODELS.values())
    directory = directory if directory is not None else models_dir()
    rep = reporter if reporter is not None else Reporter()
    results: list[Verified] = []
    with locked(directory, on_wait=lambda: rep.notice(waiting_line(directory))):
        for spec in specs:
            files = candidates(spec, directory)
            if not files:
                results.append(Verified(name=spec.name, path=None, status="absent", detail="not pulled"))
            results.extend(_verify_file(spec, p, rep) for p in files)
    return results


def _verify_file(spec: ModelSpec, path: Path, rep: Reporter) -> Verified:
    size = path.stat().st_size
    rep.start(f"verify {spec.name}", size)
    try:
        digest = file_sha256(path, rep.advance)
    finally:
        rep.stop()
    if size == spec.size and digest == spec.sha256:
        return Verified(name=spec.name, path=path, status="ok", detail=f"{size:,} bytes, sha256 {digest}")
    found = f"{size:,} bytes, sha256 {digest}; the official file has {spec.size:,} bytes, sha256 {spec.sha256}"
    if path == embedded_path(spec):
        return Verified(
            name=spec.name,
            path=path,
            status="flagged",
            detail=f"{found}; it belongs to the installed {spec.embedded_in} package: reinstall that package",
        )
    path.unlink(missing_ok=True)
    return Verified(
        name=spec.name, path=path, status="removed", detail=f"{found}; removed (`ponder models pull {spec.name}`)"
    )
