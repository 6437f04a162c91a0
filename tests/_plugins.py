"""Installing a plugin package the way pip would, for tests of the docs' plugin tutorials: its modules
and a dist-info whose entry points name them, on a directory the test puts on sys.path."""

from __future__ import annotations

import tomllib
from pathlib import Path


def install(site: Path, pyproject: str, modules: dict[str, str]) -> None:
    """Write `modules` (file name -> source) and the dist-info of `pyproject`'s project, with its entry
    points (`ponder.agents`, `ponder.search`, `ponder.kinds`, …), into `site`."""
    project = tomllib.loads(pyproject)["project"]
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / name).write_text(source)
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = project["entry-points"]
    (dist / "entry_points.txt").write_text(
        "".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) for g, eps in groups.items())
    )
