"""The piper engine: neural voices from a user-supplied piper ``.onnx`` model.

The voices are the models ``<name>.onnx`` (with ``<name>.onnx.json`` beside them) in the
directory ``TTSQUEUE_PIPER_VOICES_DIR``, and those that an installed package ships with
its weights (see :mod:`ttsqueue.tts.packaged_voices`; the directory wins on a name both
offer); a voice is named as the catalogue (``/v1/voices``) lists it, ``<name>``, never by
a path, so no request can name (or learn of) another file on the server. Without either,
piper has no voices. Text is turned
into IPA phonemes by espeak-ng (the same library as the espeak engine), phonemes into ids
with the model's ``phoneme_id_map``, and the ONNX model (inputs ``input``,
``input_lengths``, ``scales`` and, for multi-speaker models, ``sid``) into float audio.
Needs the ``[piper]`` extra (onnxruntime, numpy).
"""

from __future__ import annotations

import json
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ttsqueue.models import Voice
from ttsqueue.tts import espeak_lib
from ttsqueue.tts.base import EngineError, Speech, VoiceInfo
from ttsqueue.tts.espeak import EspeakEngine
from ttsqueue.tts.packaged_voices import packaged_models

VOICES_DIR_ENV = "TTSQUEUE_PIPER_VOICES_DIR"
PAD, BOS, EOS = "_", "^", "$"
_CLAUSE = re.compile(r"([^.,;:!?]*)([.,;:!?]*)")
_IPA_INPUT = re.compile(r"\[\[([^\[\]]*)\]\]")  # as plain_runs writes a <phoneme>
# A catalogue name: a model's file name without ".onnx"; no separator, no leading dot.
VOICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


@dataclass(frozen=True, slots=True)
class PiperConfig:
    sample_rate: int
    espeak_voice: str
    phoneme_type: str
    phoneme_id_map: dict[str, list[int]]
    phoneme_map: dict[str, list[str]]
    noise_scale: float
    length_scale: float
    noise_w: float
    num_speakers: int
    language: str
    description: str

    @classmethod
    def load(cls, path: Path) -> PiperConfig:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            inference = data.get("inference", {})
            language = data.get("language", {})
            return cls(
                sample_rate=int(data["audio"]["sample_rate"]),
                espeak_voice=str(data.get("espeak", {}).get("voice", "en-us")),
                phoneme_type=str(data.get("phoneme_type", "espeak")),
                phoneme_id_map={
                    str(k): [int(i) for i in v] for k, v in data["phoneme_id_map"].items()
                },
                phoneme_map={
                    str(k): [str(p) for p in v] for k, v in data.get("phoneme_map", {}).items()
                },
                noise_scale=float(inference.get("noise_scale", 0.667)),
                length_scale=float(inference.get("length_scale", 1.0)),
                noise_w=float(inference.get("noise_w", 0.8)),
                num_speakers=int(data.get("num_speakers", 1)),
                language=str(language.get("code") or data.get("espeak", {}).get("voice", "")),
                description=" ".join(
                    str(part)
                    for part in (data.get("dataset"), data.get("audio", {}).get("quality"))
                    if part
                ),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EngineError(f"piper voice config {path.name} is not usable: {exc}") from exc


class PiperModel:
    """One loaded voice: its config and an ONNX Runtime session."""

    def __init__(self, model_path: Path, espeak: EspeakEngine) -> None:
        import onnxruntime

        self.config = PiperConfig.load(model_path.with_name(model_path.name + ".json"))
        self._espeak_voice = espeak.resolve(self.config.espeak_voice)
        if self.config.phoneme_type == "espeak" and self._espeak_voice is None:
            raise EngineError(f"piper voice needs espeak voice {self.config.espeak_voice!r}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one synthesis per pool process already
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EngineError(f"piper model {model_path.name} could not be loaded: {exc}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}

    def phonemes(self, text: str) -> list[str]:
        """The model's phoneme symbols for ``text``, punctuation kept as piper does; IPA
        between ``[[`` and ``]]`` (a ``<phoneme>``) is taken as it is."""
        if self.config.phoneme_type != "espeak" or self._espeak_voice is None:
            return list(unicodedata.normalize("NFD", _IPA_INPUT.sub(r"\1", text)))
        parts: list[str] = []
        for index, piece in enumerate(_IPA_INPUT.split(text)):
            if index % 2:  # the IPA inside [[...]]
                parts.append(piece.strip() + " ")
                continue
            for words, marks in _CLAUSE.findall(piece):
                if words.strip():
                    parts.append(" ".join(espeak_lib.phonemize(words, self._espeak_voice)))
                if marks:
                    parts.append(marks + " ")
                elif words.strip():
                    parts.append(" ")
        symbols = list(unicodedata.normalize("NFD", "".join(parts).strip()))
        mapped: list[str] = []
        for symbol in symbols:
            mapped.extend(self.config.phoneme_map.get(symbol, [symbol]))
        return mapped

    def ids(self, phonemes: list[str]) -> list[int]:
        id_map = self.config.phoneme_id_map
        pad = id_map.get(PAD, [])
        ids = list(id_map.get(BOS, []))
        for phoneme in phonemes:
            if phoneme in id_map:  # symbols the model does not know are skipped, as piper does
                ids.extend(id_map[phoneme])
                ids.extend(pad)
        ids.extend(id_map.get(EOS, []))
        return ids

    def synthesize(self, text: str, speed: float) -> bytes:
        ids = self.ids(self.phonemes(text))
        if not ids:
            return b""
        cfg = self.config
        feeds: dict[str, Any] = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array(
                [cfg.noise_scale, cfg.length_scale / max(speed, 0.01), cfg.noise_w],
                dtype=np.float32,
            ),
        }
        if "sid" in self._inputs:
            feeds["sid"] = np.array([0], dtype=np.int64)
        try:
            audio = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32).reshape(-1)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EngineError(f"piper synthesis failed: {exc}") from exc
        pcm = np.clip(np.nan_to_num(audio) * 32767.0, -32768, 32767).astype("<i2")
        data: bytes = pcm.tobytes()
        return data


class PiperEngine:
    name = "piper"
    accepts_ipa = True  # a <phoneme>'s IPA goes through the voice's phoneme_id_map
    max_chunk_chars = 400
    accepts_ssml = False

    def __init__(self) -> None:
        self._models: dict[tuple[str, float], PiperModel] = {}
        self._lock = threading.Lock()

    @cached_property
    def _espeak(self) -> EspeakEngine:
        return EspeakEngine()

    @staticmethod
    def voices_dir() -> Path | None:
        value = os.environ.get(VOICES_DIR_ENV)
        return Path(value) if value else None

    def model_path(self, name: str) -> Path | None:
        """The model file of the catalogue voice ``name``, or None when the catalogue has
        no such voice (whatever files exist elsewhere: a name is never a path)."""
        if not VOICE_NAME.fullmatch(name):
            return None
        folder = self.voices_dir()
        if folder is not None:
            candidate = folder / f"{name}.onnx"
            json_path = candidate.with_name(candidate.name + ".json")
            if candidate.is_file() and json_path.is_file():
                return candidate
        return packaged_models().get(name)

    def catalogue(self) -> dict[str, Path]:
        """Every voice name → its model file: the voices directory's, then packaged ones."""
        models: dict[str, Path] = {}
        folder = self.voices_dir()
        if folder is not None and folder.is_dir():
            for model in sorted(folder.glob("*.onnx")):
                if (
                    VOICE_NAME.fullmatch(model.stem)
                    and model.with_name(model.name + ".json").is_file()
                ):
                    models[model.stem] = model
        for name, model in packaged_models().items():
            models.setdefault(name, model)
        return models

    def voices(self) -> list[VoiceInfo]:
        out: list[VoiceInfo] = []
        for name, model in self.catalogue().items():
            try:
                config = PiperConfig.load(model.with_name(model.name + ".json"))
            except EngineError:
                continue
            out.append(
                VoiceInfo(
                    engine=self.name,
                    name=name,
                    language=config.language,
                    gender=None,
                    description=f"piper {config.description}".strip(),
                )
            )
        return out

    def language_of(self, name: str) -> str | None:
        path = self.model_path(name)
        if path is None:
            return None
        try:
            return PiperConfig.load(path.with_name(path.name + ".json")).espeak_voice
        except EngineError:
            return None

    def check_voice_name(self, name: str) -> str | None:
        path = self.model_path(name)
        if path is None:
            return f"unknown voice {name!r} for engine piper"
        try:
            PiperConfig.load(path.with_name(path.name + ".json"))
        except EngineError as exc:
            return str(exc)
        return None

    def model(self, name: str) -> PiperModel:
        path = self.model_path(name)
        if path is None:
            raise EngineError(f"unknown voice {name!r} for engine piper")
        key = (str(path.resolve()), path.stat().st_mtime)
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = self._models[key] = PiperModel(path, self._espeak)
            return model

    def synthesize(self, text: str, voice: Voice) -> Speech:
        model = self.model(voice.name)
        if not text.strip():
            return Speech(b"", model.config.sample_rate)
        return Speech(model.synthesize(text, voice.speed), model.config.sample_rate)
