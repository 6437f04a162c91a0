"""The answer-extraction corpus: build it from recorded completions, and measure an extractor on it.

    python scripts/answer_corpus.py build RAW.jsonl... --checked HAND.json [--out tests/fixtures/answers]
    python scripts/answer_corpus.py review RAW.jsonl...            # each completion, to read by hand
    python scripts/answer_corpus.py compare [--old REV]            # how many ponder at REV reads wrong

`build` turns the files `record_answer_corpus.py` wrote into `corpus.jsonl` (one row per completion:
id, model, kind, style, version, task, prompt id, sampling, completion, expected) and `prompts.jsonl`
(each prompt as ponder sent it, by id). `expected` comes from HAND.json ({id: answer or null}, the
answers read by hand) or from a built corpus.jsonl; a row without one is refused. `compare` reads
every completion with ponder's code at git revision REV (in a subprocess over that revision's source)
and with the working tree's, and counts per model and kind the rows each gets wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "answers"
SHORT = {"qwen2.5-coder-0.5b": "05", "qwen2.5-coder-1.5b": "15"}

# run under the revision measured: reads each row's completion with that revision's parsers
_READER = """
import json, sys
from ponder.envs.game24.env import Game24Env
from ponder.parsing import extract_answer
from ponder.agents.react_text import parse_action
def read(kind, text):
    if kind == "game24":
        return Game24Env().extract_answer(text)
    if kind == "react":
        act = parse_action(text)
        return act.arg if act.error is None and act.name == "finish" else None
    return extract_answer(text)
rows = [json.loads(line) for line in sys.stdin]
print(json.dumps([read(r["kind"], r["completion"]) for r in rows]))
"""


def _rows(paths: list[str]) -> list[dict[str, Any]]:
    rows = []
    for p in paths:
        rows += [json.loads(line) for line in Path(p).read_text(encoding="utf-8").splitlines() if line.strip()]
    turns: Counter[tuple[str, ...]] = Counter()
    for r in rows:
        key = (r["model"], r["version"], r["kind"], r["style"], r["task_id"])
        turn = turns[key] if r["kind"] == "react" else 0
        turns[key] += 1
        r["id"] = f"{SHORT.get(r['model'], r['model'])}-{r['version']}-{r['kind']}-{r['style']}-{r['task_id']}" + (
            f"-t{turn}" if r["kind"] == "react" else f"-s{r['sample']}"
        )
    rows.sort(key=lambda r: r["id"])
    return rows


def build(paths: list[str], checked: str, out: Path) -> int:
    rows = _rows(paths)
    text = Path(checked).read_text(encoding="utf-8")
    if checked.endswith(".jsonl"):  # a built corpus: its hand-checked answers
        hand = {r["id"]: r["expected"] for r in (json.loads(line) for line in text.splitlines() if line.strip())}
    else:
        hand = json.loads(text)
    missing = [r["id"] for r in rows if r["id"] not in hand]
    if missing:
        print(f"{len(missing)} completions have no hand-checked answer, e.g. {missing[:3]}", file=sys.stderr)
        return 2
    prompts: dict[str, list[dict[str, Any]]] = {}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            prompts[r["prompt_id"]] = r["messages"]
            row = {
                "id": r["id"],
                "model": r["model"],
                "kind": r["kind"],
                "style": r["style"],
                "version": r["version"],
                "task_id": r["task_id"],
                "prompt_id": r["prompt_id"],
                "temperature": r["temperature"],
                "seed": r["seed"],
                "completion": r["completion"],
                "expected": hand[r["id"]],
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out / "prompts.jsonl").open("w", encoding="utf-8") as f:
        for pid in sorted(prompts):
            f.write(json.dumps({"prompt_id": pid, "messages": prompts[pid]}, ensure_ascii=False) + "\n")
    by = Counter((r["model"], r["kind"]) for r in rows)
    for (model, kind), n in sorted(by.items()):
        print(f"{model:20} {kind:11} {n}")
    print(f"{len(rows)} completions, {len(prompts)} prompts -> {out}")
    return 0


def read_answer(kind: str, completion: str) -> str | None:
    """The answer the working tree's ponder reads from a completion of this kind (as the corpus test does)."""
    sys.path.insert(0, str(ROOT))
    from ponder.agents.react_text import reply_answer
    from ponder.envs.game24.env import Game24Env
    from ponder.parsing import extract_answer

    if kind == "game24":
        return Game24Env().extract_answer(completion)
    if kind == "react":
        return reply_answer(completion)
    return extract_answer(completion)


def review(paths: list[str]) -> int:
    for r in _rows(paths):
        got = read_answer(r["kind"], r["completion"])
        print(f"=== {r['id']}  [read: {got!r}]\n{r['completion']}\n")
    return 0


def _read_at(rev: str, rows: list[dict[str, Any]]) -> list[str | None]:
    """Each row read by ponder's parsers as of git revision `rev`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "ponder"], capture_output=True, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": tmp}
        stdin = "".join(json.dumps({"kind": r["kind"], "completion": r["completion"]}) + "\n" for r in rows)
        done = subprocess.run(
            [sys.executable, "-c", _READER], input=stdin, capture_output=True, text=True, env=env, cwd=tmp, timeout=600
        )
    if done.returncode != 0:
        raise SystemExit(f"reading with ponder at {rev} failed:\n{done.stderr[-2000:]}")
    got: list[str | None] = json.loads(done.stdout)
    return got


def _right(kind: str, got: str | None, expected: str | None) -> bool:
    sys.path.insert(0, str(ROOT))
    from ponder.parsing import normalize_answer

    if got is None or expected is None:
        return got is None and expected is None
    if kind == "game24":
        return got.replace(" ", "") == expected.replace(" ", "")
    return normalize_answer(got) == normalize_answer(expected)


def compare(old: str, corpus: Path) -> int:
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    before = _read_at(old, rows)
    total: Counter[tuple[str, str]] = Counter()
    wrong_old: Counter[tuple[str, str]] = Counter()
    wrong_new: Counter[tuple[str, str]] = Counter()
    examples = []
    for r, got_old in zip(rows, before, strict=True):
        key = (r["model"], r["kind"])
        total[key] += 1
        if not _right(r["kind"], got_old, r["expected"]):
            wrong_old[key] += 1
            examples.append(f"  {r['id']}: read {got_old!r}, stated {r['expected']!r}")
        if not _right(r["kind"], read_answer(r["kind"], r["completion"]), r["expected"]):
            wrong_new[key] += 1
    print(f"{'model':20} {'kind':11} {'rows':>5} {'wrong at ' + old:>16} {'wrong now':>10}")
    for key in sorted(total):
        print(f"{key[0]:20} {key[1]:11} {total[key]:5} {wrong_old[key]:16} {wrong_new[key]:10}")
    print(f"{'all':32} {sum(total.values()):5} {sum(wrong_old.values()):16} {sum(wrong_new.values()):10}")
    print(f"read wrong at {old}:", *examples, sep="\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("raw", nargs="+")
    b.add_argument("--checked", required=True)
    b.add_argument("--out", type=Path, default=OUT)
    r = sub.add_parser("review")
    r.add_argument("raw", nargs="+")
    c = sub.add_parser("compare")
    c.add_argument("--old", default="b77a9cb")
    c.add_argument("--corpus", type=Path, default=OUT / "corpus.jsonl")
    args = p.parse_args(argv)
    if args.cmd == "build":
        return build(args.raw, args.checked, args.out)
    if args.cmd == "review":
        return review(args.raw)
    return compare(args.old, args.corpus)


if __name__ == "__main__":
    raise SystemExit(main())
