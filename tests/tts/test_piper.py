"""The piper engine, with a tiny ONNX voice built by the test (real loading and synthesis)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from tests.skips import need_module

need_module("onnxruntime")
need_module("numpy")
onnx = need_module("onnx")

from onnx import TensorProto, helper  # noqa: E402

from ttsqueue.models import Voice  # noqa: E402
from ttsqueue.tts import (  # noqa: E402
    EngineError,
    check_voice,
    engine_names,
    get_engine,
    list_voices,
    prepare_chunks,
    synthesize_chunk,
)
from ttsqueue.tts.piper import PiperEngine  # noqa: E402

SAMPLES_PER_ID = 64
SAMPLE_RATE = 16000
# The IPA symbols espeak-ng writes for English, as in a real piper voice's map.
SYMBOLS = (
    " !'(),-.:;?abcdefghijklmnopqrstuvwxyz\u00e6\u00e7\u00f0\u00f8\u014b\u0153\u0250\u0251"
    "\u0252\u0254\u0255\u0259\u025a\u025b\u025c\u0261\u0262\u0263\u026a\u026b\u026c\u026d"
    "\u026f\u0272\u0273\u0274\u0278\u0279\u027a\u027b\u027e\u0281\u0282\u0283\u0288\u028a"
    "\u028b\u028c\u028d\u028e\u028f\u0290\u0291\u0292\u0294\u02b2\u02c8\u02cc\u02d0\u03b2"
    "\u03b8\u03c7\u1d7b\u0303"
)


def tiny_model() -> bytes:
    """A graph with piper's interface: audio is SAMPLES_PER_ID samples of a tone per
    phoneme id, scaled by the length scale (so speed shows in the amplitude)."""
    const = helper.make_tensor
    nodes = [
        helper.make_node("Cast", ["input"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["ids", "axis2"], ["ids3"]),  # [1, n, 1]
        helper.make_node("Add", ["ids3", "ramp"], ["phase"]),  # [1, n, SAMPLES_PER_ID]
        helper.make_node("Reshape", ["phase", "flat"], ["flat_phase"]),  # [1, 1, n * S]
        helper.make_node("Sin", ["flat_phase"], ["tone"]),
        helper.make_node("Gather", ["scales", "one"], ["length_scale"]),
        helper.make_node("Mul", ["tone", "length_scale"], ["scaled"]),
        helper.make_node("Mul", ["scaled", "half"], ["loud"]),
        helper.make_node("Cast", ["input_lengths"], ["lengths"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["lengths", "zero"], ["nothing"]),
        helper.make_node("Add", ["loud", "nothing"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-piper",
        [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, "n"]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "t"])],
        initializer=[
            const("axis2", TensorProto.INT64, [1], [2]),
            const(
                "ramp",
                TensorProto.FLOAT,
                [SAMPLES_PER_ID],
                [i * 0.4 for i in range(SAMPLES_PER_ID)],
            ),
            const("flat", TensorProto.INT64, [3], [1, 1, -1]),
            const("one", TensorProto.INT64, [], [1]),
            const("half", TensorProto.FLOAT, [], [0.5]),
            const("zero", TensorProto.FLOAT, [], [0.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def config(espeak_voice: str = "en-us") -> dict[str, object]:
    id_map: dict[str, list[int]] = {"_": [0], "^": [1], "$": [2]}
    for i, symbol in enumerate(SYMBOLS):
        id_map[symbol] = [i + 3]
    return {
        "audio": {"sample_rate": SAMPLE_RATE, "quality": "x_low"},
        "espeak": {"voice": espeak_voice},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": id_map,
        "num_symbols": 256,
        "num_speakers": 1,
        "language": {"code": "en_US"},
        "dataset": "tiny",
    }


def write_voice(folder: Path, name: str, cfg: dict[str, object] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{name}.onnx"
    model.write_bytes(tiny_model())
    (folder / f"{name}.onnx.json").write_text(json.dumps(cfg or config()), encoding="utf-8")
    return model


@pytest.fixture
def voices_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Only the directory's voices: packaged ones are tested in test_packaged_voices.
    monkeypatch.setattr("ttsqueue.tts.piper.packaged_models", dict)
    folder = tmp_path / "voices"
    write_voice(folder, "tiny")
    monkeypatch.setenv("TTSQUEUE_PIPER_VOICES_DIR", str(folder))
    return folder


def amplitude(pcm: bytes) -> int:
    return max(abs(s) for s in memoryview(pcm).cast("h"))


def test_piper_is_available_with_the_extra() -> None:
    assert "piper" in engine_names()
    assert get_engine("piper").name == "piper"


def test_voice_list_from_the_voices_dir(voices_dir: Path) -> None:
    (voices_dir / "orphan.onnx").write_bytes(b"no config beside it")
    voices = list_voices("piper")
    assert [(v.name, v.language, v.engine) for v in voices] == [("tiny", "en_US", "piper")]
    assert "tiny" in voices[0].description


def test_phonemes_and_ids(voices_dir: Path) -> None:
    model = PiperEngine().model("tiny")
    phonemes = model.phonemes("Hello, world. How are you?")
    expected = (
        "h\u0259l\u02c8o\u028a, w\u02c8\u025c\u02d0ld. h\u02c8a\u028a \u0251\u02d0\u0279 ju\u02d0?"
    )
    assert phonemes == list(unicodedata.normalize("NFD", expected))
    ids = model.ids(["a", "b", "\u2603"])  # a symbol the model does not know is skipped
    id_map = model.config.phoneme_id_map
    assert ids == [1, id_map["a"][0], 0, id_map["b"][0], 0, 2]


def test_synthesis_by_name(voices_dir: Path) -> None:
    engine = get_engine("piper")
    short = engine.synthesize("Hello.", Voice(engine="piper", name="tiny"))
    long = engine.synthesize(
        "Hello, this is a much longer sentence for the tiny voice to read.",
        Voice(engine="piper", name="tiny"),
    )
    assert short.sample_rate == SAMPLE_RATE
    ids = PiperEngine().model("tiny").ids(PiperEngine().model("tiny").phonemes("Hello."))
    assert len(short.pcm) == 2 * SAMPLES_PER_ID * len(ids)
    assert long.duration_s > 4 * short.duration_s
    assert 16000 < amplitude(short.pcm) <= 16384  # 0.5 full scale at length scale 1


def test_speed_sets_the_length_scale(voices_dir: Path) -> None:
    engine = get_engine("piper")
    normal = engine.synthesize("Hello there.", Voice(engine="piper", name="tiny"))
    fast = engine.synthesize("Hello there.", Voice(engine="piper", name="tiny", speed=2.0))
    assert amplitude(fast.pcm) == pytest.approx(amplitude(normal.pcm) / 2, rel=0.01)


def test_synthesize_chunk_and_prepare_chunks(voices_dir: Path) -> None:
    voice = Voice(engine="piper", name="tiny")
    assert check_voice(voice) is None
    chunks = prepare_chunks("Dr. No paid $5. He left.", voice, get_engine("piper"))
    assert [c.text for c in chunks] == ["Doctor No paid five dollars.", "He left."]
    speech = synthesize_chunk("piper", chunks[0].text, voice.to_dict())
    assert speech.duration_s > 0.1


@pytest.mark.parametrize(
    "name",
    ["nope", "", "../voices/tiny", "/no/such/model.onnx", "tiny.json", "tiny.onnx", ".tiny", "."],
)
def test_unknown_piper_voice(voices_dir: Path, name: str) -> None:
    assert check_voice(Voice(engine="piper", name=name)) == (
        f"unknown voice {name!r} for engine piper"
    )
    with pytest.raises(EngineError, match="unknown voice"):
        get_engine("piper").synthesize("Hi.", Voice(engine="piper", name=name))


def test_broken_config_and_model_are_engine_errors(voices_dir: Path) -> None:
    (voices_dir / "bad.onnx").write_bytes(tiny_model())
    (voices_dir / "bad.onnx.json").write_text("{not json", encoding="utf-8")
    assert "not usable" in (check_voice(Voice(engine="piper", name="bad")) or "")
    write_voice(voices_dir, "garbage")
    (voices_dir / "garbage.onnx").write_bytes(b"this is not an onnx model")
    with pytest.raises(EngineError, match="could not be loaded"):
        get_engine("piper").synthesize("Hi.", Voice(engine="piper", name="garbage"))


def test_other_espeak_language(voices_dir: Path) -> None:
    write_voice(voices_dir, "german", config("de"))
    speech = get_engine("piper").synthesize("Guten Tag.", Voice(engine="piper", name="german"))
    assert speech.duration_s > 0


def test_a_voice_is_a_catalogue_name_never_a_path(voices_dir: Path, tmp_path: Path) -> None:
    """No request can name a file on the server, nor learn whether one exists: a path to
    a real model (inside the voices directory or not) gets the answer a made-up one gets."""
    outside = write_voice(tmp_path / "elsewhere", "stray")
    names = [
        str(voices_dir / "tiny.onnx"),
        str(outside),
        str(voices_dir / ".." / "elsewhere" / "stray.onnx"),
        "~/stray.onnx",
        str(tmp_path / "elsewhere" / "absent.onnx"),
    ]
    for name in names:
        assert check_voice(Voice(engine="piper", name=name)) == (
            f"unknown voice {name!r} for engine piper"
        )
    assert check_voice(Voice(engine="piper", name="tiny")) is None


def test_without_a_voices_dir_piper_has_no_voices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TTSQUEUE_PIPER_VOICES_DIR", raising=False)
    monkeypatch.setattr("ttsqueue.tts.piper.packaged_models", dict)
    model = write_voice(tmp_path / "mine", "own")
    assert list_voices("piper") == []
    for name in (str(model), str(tmp_path / "mine" / "absent.onnx"), "own"):
        assert check_voice(Voice(engine="piper", name=name)) == (
            f"unknown voice {name!r} for engine piper"
        )


def test_ssml_reaches_piper_as_words_at_the_prosody_speed(voices_dir: Path) -> None:
    voice = Voice(engine="piper", name="tiny")
    doc = (
        "<speak>Hello <sub alias='there'>t.</sub> <prosody rate='200%'>quick words</prosody>."
        "<break time='1s'/><emphasis>Bye</emphasis>.</speak>"
    )
    chunks = prepare_chunks(doc, voice, get_engine("piper"))
    assert [c.pause_after_ms for c in chunks] == [0, 1000, 600]
    speeches = [synthesize_chunk("piper", c.text, voice.to_dict()) for c in chunks]
    engine = get_engine("piper")
    assert speeches[0].pcm == engine.synthesize("Hello there", voice).pcm
    fast = engine.synthesize("quick words.", Voice(engine="piper", name="tiny", speed=2.0))
    assert speeches[1].pcm == fast.pcm
    assert amplitude(speeches[1].pcm) == pytest.approx(amplitude(speeches[0].pcm) / 2, rel=0.01)
    assert speeches[2].pcm == engine.synthesize("Bye.", voice).pcm
