"""The espeak-ng engine: offline, fast, many languages; the default.

Voice names are espeak-ng language codes (``en-us``, ``en``, ``en-gb``, ``de``, ``fr``),
voice identifiers (``gmw/en-US``) or voice names (``English (America)``), optionally
followed by a variant (``en-us+f3``).
"""

from __future__ import annotations

import re
from functools import cached_property

from ttsqueue.models import Voice
from ttsqueue.tts import espeak_lib, ipa
from ttsqueue.tts.base import EngineError, Speech, VoiceInfo


def rate_for(speed: float) -> int:
    """espeak-ng words per minute for a relative speed (1.0 = normal)."""
    wpm = round(espeak_lib.DEFAULT_RATE_WPM * speed)
    return max(espeak_lib.MIN_RATE_WPM, min(espeak_lib.MAX_RATE_WPM, wpm))


def pitch_for(pitch: float | None) -> int:
    """espeak-ng pitch (0-100, 50 normal) for a relative pitch (0..2, 1.0 = normal)."""
    if pitch is None:
        return espeak_lib.DEFAULT_PITCH
    return max(0, min(100, round(espeak_lib.DEFAULT_PITCH * pitch)))


class EspeakEngine:
    name = "espeak"
    max_chunk_chars = 1000
    accepts_ssml = True  # prosody, emphasis, say-as and breaks, natively

    @property
    def sample_rate(self) -> int:
        """What every espeak-ng voice produces (22050 Hz)."""
        return espeak_lib.sample_rate()

    @cached_property
    def _raw(self) -> list[espeak_lib.RawVoice]:
        return espeak_lib.list_voices()

    @cached_property
    def _aliases(self) -> dict[str, str]:
        """Every accepted name (lower case) -> the voice identifier espeak-ng loads."""
        aliases: dict[str, str] = {}
        for v in self._raw:  # identifiers and names first: they are exact
            aliases.setdefault(v.identifier.lower(), v.identifier)
            aliases.setdefault(v.name.lower(), v.identifier)
        for v in self._raw:  # then file names ("en-us" is gmw/en-US)
            aliases.setdefault(v.identifier.rsplit("/", 1)[-1].lower(), v.identifier)
        by_language = sorted(
            (
                (priority, lang.lower(), v.identifier)
                for v in self._raw
                for priority, lang in v.languages
            ),
            key=lambda item: item[0],  # stable: espeak's order within a priority
        )
        for _, lang, identifier in by_language:
            aliases.setdefault(lang, identifier)
        return aliases

    @cached_property
    def _variants(self) -> frozenset[str]:
        folder = espeak_lib.data_path() / "voices" / "!v"
        return frozenset(p.name for p in folder.iterdir()) if folder.is_dir() else frozenset()

    def voices(self) -> list[VoiceInfo]:
        seen: set[str] = set()
        out: list[VoiceInfo] = []
        for v in self._raw:
            key = v.languages[0][1] if v.languages else v.identifier
            if key in seen:
                continue
            seen.add(key)
            out.append(
                VoiceInfo(
                    engine=self.name,
                    name=key,
                    language=key,
                    gender=v.gender,
                    description=f"{v.name} ({v.identifier})",
                )
            )
        return sorted(out, key=lambda info: info.name)

    def resolve(self, name: str) -> str | None:
        """The espeak-ng voice for ``name`` (``gmw/en-US+f3``), or None when unknown."""
        base, plus, variant = name.partition("+")
        identifier = self._aliases.get(base.strip().lower())
        if identifier is None or (plus and variant not in self._variants):
            return None
        return identifier + plus + variant

    def language_of(self, name: str) -> str | None:
        resolved = self.resolve(name)
        if resolved is None:
            return None
        identifier = resolved.partition("+")[0]
        voice = next((v for v in self._raw if v.identifier == identifier), None)
        return voice.languages[0][1] if voice and voice.languages else None

    def check_voice_name(self, name: str) -> str | None:
        return None if self.resolve(name) else f"unknown voice {name!r} for engine espeak"

    def synthesize(self, text: str, voice: Voice) -> Speech:
        return self._speak(text, voice, ssml=False)

    def synthesize_ssml(self, ssml: str, voice: Voice) -> Speech:
        """One ``<speak>`` document (checked well-formed by the caller)."""
        return self._speak(ssml, voice, ssml=True)

    def _speak(self, text: str, voice: Voice, *, ssml: bool) -> Speech:
        resolved = self.resolve(voice.name)
        if resolved is None:
            raise EngineError(f"unknown voice {voice.name!r} for engine espeak")
        if not text.strip():
            return Speech(b"", espeak_lib.sample_rate())
        phonemes = False
        if ssml and "<phoneme" in text:
            text, phonemes = phoneme_input(text)
        pcm, rate = espeak_lib.synthesize(
            text,
            resolved,
            rate=rate_for(voice.speed),
            pitch=pitch_for(voice.pitch),
            ssml=ssml,
            phonemes=phonemes,
        )
        return Speech(pcm, rate)


# A <phoneme> as ssml_chunks renders it (IPA holds no quote, '<' or '&': checked at the door).
_PHONEME = re.compile(r'<phoneme alphabet="ipa" ph="([^"<>&]*)">([^<]*)</phoneme>')


def phoneme_input(ssml: str) -> tuple[str, bool]:
    """``ssml`` with each ``<phoneme>`` as espeak-ng phoneme input (``[[…]]``), or its
    written word where the IPA has no espeak-ng equivalent; whether any phonemes are
    left (then ``[[`` in the words themselves is broken up, so it stays text)."""
    found = False

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        mnemonics = ipa.espeak_phonemes(match.group(1))
        if mnemonics is None:
            return match.group(2)
        found = True
        return mnemonics

    marked = _PHONEME.sub(replace, ssml.replace("[[", "[ ["))
    return (marked, True) if found else (_PHONEME.sub(r"\2", ssml), False)
