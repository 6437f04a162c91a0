"""CPU cost of a light `ponder` command, and what importing the CLI and the pytest plugin loads.

Prints JSON: the median over `--repeat` subprocess runs of `ponder runs` on an empty trace
database, in user+sys CPU seconds of the child process (target, issue 19: <= 0.3 s); the number
of modules (all, and ponder's own) that `import ponder.cli` and `import ponder.replay.pytest_plugin`
load, and which of the heavy ones they load (none is the target).
Run: python benchmarks/import_time.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from ponder.traces.store import TraceStore

# modules a light command must not pay for (issue 19 item 1)
HEAVY = (
    "doctest",
    "multiprocessing",
    "textual",
    "openai",
    "ponder.search",
    "ponder.agents.cot",
    "ponder.agents.react",
    "ponder.agents.reflexion",
    "ponder.agents.tot",
    "ponder.agents.lats.agent",
)
_LOADED = """
import json, sys
import {module}
print(json.dumps(sorted(sys.modules)))
"""


def cpu_of(argv: list[str], env: dict[str, str]) -> float:
    """user+sys CPU seconds of one child process running `argv` (it must exit 0)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def loaded_by(module: str) -> list[str]:
    """The modules a fresh interpreter holds after `import module`."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED.format(module=module)], capture_output=True, text=True, timeout=120, check=True
    )
    names: list[str] = json.loads(done.stdout)
    return names


def heavy_in(names: list[str]) -> list[str]:
    """The `HEAVY` modules (or their submodules) among `names`."""
    return sorted({h for h in HEAVY for n in names if n == h or n.startswith(h + ".")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "empty.db"
        TraceStore(db).close()  # an empty store, its schema made
        env = {**os.environ, "PONDER_DB": str(db)}
        # what the `ponder` console script does: import ponder.cli, call main()
        argv = [sys.executable, "-c", "import sys; from ponder.cli import main; sys.argv[0] = 'ponder'; main()", "runs"]
        cpu_of(argv, env)  # warm: byte-compile caches
        runs = [cpu_of(argv, env) for _ in range(args.repeat)]
        baseline = [cpu_of([sys.executable, "-c", "pass"], env) for _ in range(args.repeat)]
    report: dict[str, object] = {
        "command": "ponder runs (empty db)",
        "cpu_s_median": round(statistics.median(runs), 3),
        "cpu_s_runs": [round(r, 3) for r in runs],
        "python_startup_cpu_s_median": round(statistics.median(baseline), 3),
        "target_cpu_s": 0.3,
    }
    for module in ("ponder.cli", "ponder.replay.pytest_plugin"):
        names = loaded_by(module)
        report[module] = {
            "modules": len(names),
            "ponder_modules": sum(1 for n in names if n == "ponder" or n.startswith("ponder.")),
            "heavy_loaded": heavy_in(names),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
