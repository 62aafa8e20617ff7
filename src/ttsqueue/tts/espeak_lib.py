"""ctypes binding to the espeak-ng library shipped in the ``espeakng-loader`` wheel.

espeak-ng keeps global state and is not thread-safe: every call goes through
:data:`LOCK`, and the library is initialised once per process. Used by the espeak engine
(synthesis) and the piper engine (phonemization).
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_short,
    c_size_t,
    c_ubyte,
    c_uint,
    c_void_p,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttsqueue.tts.base import EngineError

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000
ESPEAK_CHARS_UTF8 = 1
ESPEAK_SSML = 0x10
ESPEAK_PHONEMES = 0x100  # phonemes between [[ and ]] in the text
ESPEAK_RATE = 1
ESPEAK_VOLUME = 2
ESPEAK_PITCH = 3
PHONEMES_IPA = 0x02
EE_OK = 0

DEFAULT_RATE_WPM = 175
MIN_RATE_WPM = 80
MAX_RATE_WPM = 450
DEFAULT_PITCH = 50

_SynthCallback = CFUNCTYPE(c_int, POINTER(c_short), c_int, c_void_p)


class _EspeakVoice(Structure):
    _fields_ = (
        ("name", c_char_p),
        ("languages", c_void_p),  # (priority byte, NUL-terminated language)*, then a 0 byte
        ("identifier", c_char_p),
        ("gender", c_ubyte),
        ("age", c_ubyte),
        ("variant", c_ubyte),
        ("xx1", c_ubyte),
        ("score", c_int),
        ("spare", c_void_p),
    )


@dataclass(frozen=True, slots=True)
class RawVoice:
    name: str
    identifier: str
    languages: tuple[tuple[int, str], ...]  # (priority, language code)
    gender: str | None


LOCK = threading.Lock()
_lib: Any = None
_sample_rate = 0
_samples: list[bytes] = []


def _reset_lock_in_child() -> None:
    # A fork taken while another thread held the lock must not leave the child stuck.
    global LOCK
    LOCK = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_in_child)


def _collect(wav: Any, numsamples: int, _events: Any) -> int:
    if wav and numsamples > 0:
        _samples.append(ctypes.string_at(wav, numsamples * 2))
    return 0


_collect_callback: Any = _SynthCallback(_collect)  # kept alive for the library's sake


def data_path() -> Path:
    import espeakng_loader

    return Path(espeakng_loader.get_data_path())


def _load() -> Any:
    """The initialised library (call with LOCK held)."""
    global _lib, _sample_rate
    if _lib is not None:
        return _lib
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - a main dependency
        raise EngineError("espeak-ng is not installed (pip install espeakng-loader)") from exc
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
    lib.espeak_Initialize.restype = c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [c_char_p]
    lib.espeak_SetVoiceByName.restype = c_int
    lib.espeak_SetParameter.argtypes = [c_int, c_int, c_int]
    lib.espeak_SetParameter.restype = c_int
    lib.espeak_Synth.argtypes = [
        c_char_p,
        c_size_t,
        c_uint,
        c_int,
        c_uint,
        c_uint,
        c_void_p,
        c_void_p,
    ]
    lib.espeak_Synth.restype = c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = c_int
    lib.espeak_ListVoices.argtypes = [c_void_p]
    lib.espeak_ListVoices.restype = POINTER(POINTER(_EspeakVoice))
    lib.espeak_TextToPhonemes.argtypes = [POINTER(c_void_p), c_int, c_int]
    lib.espeak_TextToPhonemes.restype = c_char_p
    path = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, path, ESPEAK_INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise EngineError("espeak-ng failed to initialise")
    lib.espeak_SetSynthCallback(_collect_callback)
    _sample_rate = rate
    _lib = lib
    return lib


def sample_rate() -> int:
    with LOCK:
        _load()
        return _sample_rate


def list_voices() -> list[RawVoice]:
    with LOCK:
        lib = _load()
        array = lib.espeak_ListVoices(None)
        voices: list[RawVoice] = []
        i = 0
        while array[i]:
            v = array[i].contents
            voices.append(
                RawVoice(
                    name=(v.name or b"").decode("utf-8", "replace"),
                    identifier=(v.identifier or b"").decode("utf-8", "replace"),
                    languages=_languages(v.languages),
                    gender={1: "male", 2: "female"}.get(v.gender),
                )
            )
            i += 1
        return voices


def _languages(ptr: int | None) -> tuple[tuple[int, str], ...]:
    """(priority, language) pairs; a lower priority number is a better match."""
    if not ptr:
        return ()
    out: list[tuple[int, str]] = []
    offset = 0
    while (priority := ctypes.string_at(ptr + offset, 1)[0]) != 0:  # 0 ends the list
        lang = ctypes.string_at(ptr + offset + 1)
        out.append((priority, lang.decode("utf-8", "replace")))
        offset += 1 + len(lang) + 1
    return tuple(out)


def _select(lib: Any, voice: str, rate: int, pitch: int) -> None:
    if lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
        raise EngineError(f"unknown voice {voice!r} for engine espeak")
    lib.espeak_SetParameter(ESPEAK_RATE, rate, 0)
    lib.espeak_SetParameter(ESPEAK_PITCH, pitch, 0)


def synthesize(
    text: str, voice: str, *, rate: int, pitch: int, ssml: bool = False, phonemes: bool = False
) -> tuple[bytes, int]:
    """PCM (16-bit mono) and its sample rate for ``text`` read by ``voice``; ``ssml``
    when ``text`` is an SSML document (espeak-ng reads its markup), ``phonemes`` when
    it holds espeak-ng phonemes between ``[[`` and ``]]``."""
    data = text.encode("utf-8")
    flags = ESPEAK_CHARS_UTF8 | (ESPEAK_SSML if ssml else 0) | (ESPEAK_PHONEMES if phonemes else 0)
    with LOCK:
        lib = _load()
        _select(lib, voice, rate, pitch)
        _samples.clear()
        try:
            status = lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, flags, None, None)
            if status != EE_OK:
                raise EngineError(f"espeak-ng synthesis failed (status {status})")
            lib.espeak_Synchronize()
            return b"".join(_samples), _sample_rate
        finally:
            _samples.clear()


def phonemize(text: str, voice: str) -> list[str]:
    """IPA phonemes of ``text``, one string per clause espeak-ng finds in it."""
    with LOCK:
        lib = _load()
        _select(lib, voice, DEFAULT_RATE_WPM, DEFAULT_PITCH)
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = c_void_p(ctypes.addressof(buffer))
        clauses: list[str] = []
        while pointer.value:
            result = lib.espeak_TextToPhonemes(
                ctypes.byref(pointer), ESPEAK_CHARS_UTF8, PHONEMES_IPA
            )
            if result:
                clauses.append(result.decode("utf-8", "replace").strip())
        return clauses
