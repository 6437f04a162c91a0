"""`iter_jsonl`: the defensive JSONL reader every loader (envs, corpus) uses."""

from __future__ import annotations

import json
from pathlib import Path

from ponder._util.jsonl import iter_jsonl


def test_a_byte_order_mark_before_the_first_line_is_not_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "with_bom.jsonl"
    lines = [json.dumps({"id": 1, "input": "first"}), json.dumps({"id": 2, "input": "second"})]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8") + b"\n")
    assert list(iter_jsonl(path)) == [(1, {"id": 1, "input": "first"}, ""), (2, {"id": 2, "input": "second"}, "")]


def test_a_byte_order_mark_inside_the_file_is_still_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bom_later.jsonl"
    path.write_bytes(b'{"id": 1}\n\xef\xbb\xbf{"id": 2}\n')
    got = list(iter_jsonl(path))
    assert got[0] == (1, {"id": 1}, "")
    assert got[1][0] == 2 and got[1][1] is None and got[1][2].startswith("not JSON")


def test_a_recording_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    from ponder.replay.cassette import dump_jsonl, load_jsonl
    from ponder.traces.store import TraceStore

    with TraceStore(tmp_path / "src.db") as store:
        rid = store.create_run(agent="cot", task={"input": "q"})
        path = dump_jsonl(store, tmp_path / "rec.jsonl")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_jsonl(path).get_run(rid).agent == "cot"
