from __future__ import annotations

from pathlib import Path

import pytest

from ttsqueue.storage import Storage, write_atomic


def test_paths_round_trip_through_their_relative_form(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    path = storage.chapter_path("job-1", 0, ".m4a")
    assert path == tmp_path.resolve() / "job-1" / "chapter-001.m4a"
    assert storage.relative(path) == "job-1/chapter-001.m4a"
    assert storage.resolve("job-1/chapter-001.m4a") == path
    assert storage.book_path("job-1", ".m4b").name == "book.m4b"


@pytest.mark.parametrize("bad", ["../secret", "job/../../etc/passwd", "/etc/passwd"])
def test_resolve_refuses_paths_outside_the_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="outside storage"):
        Storage(tmp_path).resolve(bad)


@pytest.mark.parametrize("bad", ["", "../x", ".hidden", "a/b"])
def test_job_ids_cannot_escape(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        Storage(tmp_path).job_dir(bad)


def test_write_atomic_renames_into_place_and_cleans_up_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "d" / "out.wav"
    assert write_atomic(target, lambda tmp: tmp.write_bytes(b"abc")) == 3
    assert target.read_bytes() == b"abc"

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")

    with pytest.raises(RuntimeError):
        write_atomic(target, broken)
    assert target.read_bytes() == b"abc"  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.wav"]
