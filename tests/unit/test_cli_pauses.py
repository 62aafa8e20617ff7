"""``ttsqueue pause`` / ``resume`` / ``pauses`` against a real SQLite store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ttsqueue import cli
from ttsqueue.backends import open_backend


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


async def _claimable(url: str) -> int:
    async with open_backend(url) as backend:
        claimed = await backend.claim(worker_id="w", limit=10, lease_s=30)
        await backend.release([t.lease for t in claimed])
        return len(claimed)


def test_pause_resume_and_list_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    monkeypatch.setenv("TTSQUEUE_DATABASE_URL", url)
    monkeypatch.setenv("TTSQUEUE_DATA_DIR", str(tmp_path / "data"))
    book = tmp_path / "book.md"
    book.write_text("# One\n\nThe first chapter.\n\n# Two\n\nThe second.\n")
    assert cli.main(["submit", str(book), "--format", "wav"]) == 0
    capsys.readouterr()

    paused = _run(capsys, "pause")
    assert isinstance(paused, dict) and paused["engine"] is None
    assert _run(capsys, "pause", "--engine", "espeak") == {
        "engine": "espeak",
        "since": pytest.approx(paused["since"], abs=60),
    }
    shown = _run(capsys, "pauses")
    assert isinstance(shown, list) and [p["engine"] for p in shown] == [None, "espeak"]
    assert asyncio.run(_claimable(url)) == 0  # globally paused: nothing claimed

    assert _run(capsys, "resume") == {"engine": None, "resumed": True}
    assert _run(capsys, "resume") == {"engine": None, "resumed": False}
    assert asyncio.run(_claimable(url)) == 2
    assert _run(capsys, "resume", "--engine", "espeak") == {"engine": "espeak", "resumed": True}
    assert _run(capsys, "pauses") == []


def test_a_bad_engine_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTSQUEUE_DATABASE_URL", f"sqlite:///{tmp_path / 'queue.db'}")
    assert cli.main(["pause", "--engine", "no spaces"]) == 2
    assert "--engine" in capsys.readouterr().err
