# IPA symbols look like Latin letters on purpose here.
# ruff: noqa: RUF001, RUF002
"""IPA, as ``<phoneme alphabet="ipa" ph="…">`` and lexicons write it, for the engines.

espeak-ng reads phonemes in its own ASCII alphabet between ``[[`` and ``]]`` (with phoneme
input switched on); :func:`to_espeak` converts IPA to it, longest symbol first, and gives
``None`` for a symbol it has no equivalent for (the word is then read as written).
piper takes IPA itself: its voices map each IPA symbol to ids (``phoneme_id_map``).

The table covers the phonemes of English as espeak-ng's English voices use them, and the
common consonants and vowels of other European languages; stress (ˈ ˌ), length (ː) and
syllable dots are understood.
"""

from __future__ import annotations

import unicodedata

# IPA → espeak-ng phoneme mnemonics; multi-character symbols are matched first.
TO_ESPEAK: dict[str, str] = {
    # diphthongs and r-coloured vowels
    "eɪ": "eI", "aɪ": "aI", "ɔɪ": "OI", "aʊ": "aU", "oʊ": "oU", "əʊ": "oU", "ɪə": "i@",
    "eə": "e@", "ɛə": "e@", "ʊə": "U@", "ɑːɹ": "A@", "ɔːɹ": "O@", "ɜːɹ": "3:",
    # affricates
    "tʃ": "tS", "dʒ": "dZ", "t͡ʃ": "tS", "d͡ʒ": "dZ", "ts": "ts", "dz": "dz",
    # vowels
    "iː": "i:", "uː": "u:", "ɑː": "A:", "ɔː": "O:", "ɜː": "3:", "i": "i", "ɪ": "I",
    "e": "e", "ɛ": "E", "æ": "a", "a": "a", "ɑ": "A", "ɒ": "0", "ɔ": "O", "o": "o",
    "ʊ": "U", "u": "u", "ʌ": "V", "ə": "@", "ɚ": "3", "ɜ": "3", "ɐ": "a#", "ᵻ": "I2",
    "y": "y", "ø": "Y", "œ": "W", "ɨ": "i\"", "ɯ": "u-",
    # consonants
    "p": "p", "b": "b", "t": "t", "d": "d", "k": "k", "g": "g", "ɡ": "g", "f": "f",
    "v": "v", "θ": "T", "ð": "D", "s": "s", "z": "z", "ʃ": "S", "ʒ": "Z", "h": "h",
    "x": "x", "ç": "C", "ɣ": "Q", "m": "m", "n": "n", "ŋ": "N", "ɲ": "n^", "l": "l",
    "ɫ": "l", "ʎ": "l^", "ɹ": "r", "r": "r", "ɾ": "*", "ʁ": "r", "w": "w", "j": "j",
    "ʔ": "?", "β": "B", "ɬ": "l#",
    # suprasegmentals
    "ˈ": "'", "ˌ": ",", "ː": ":", ".": "", " ": "_:",
}  # fmt: skip
_LONGEST = max(len(k) for k in TO_ESPEAK)
# Marks that change nothing espeak-ng can say: dropped.
_IGNORED = frozenset("\u0361\u035c\u0329\u032f\u0303\u02b0\u02bc")  # ties, syllabic, ...
IPA_SYMBOLS = frozenset("".join(TO_ESPEAK)) | _IGNORED


def normal(ipa: str) -> str:
    """IPA in the composed form the table uses (``ç`` as one character), ``g`` for ``ɡ``."""
    return unicodedata.normalize("NFC", ipa.strip())


def problem(ipa: str) -> str | None:
    """What makes ``ipa`` unreadable, or ``None``: every symbol must be one we know."""
    text = normal(ipa)
    if not text:
        return "is empty"
    unknown = sorted({ch for ch in text if ch not in IPA_SYMBOLS})
    if unknown:
        shown = " ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in unknown[:5])
        return f"has symbols that are not IPA phonemes this service reads: {shown}"
    if to_espeak(text) is None:
        return "cannot be read as IPA phonemes"
    return None


def to_espeak(ipa: str) -> str | None:
    """espeak-ng's phoneme mnemonics for ``ipa``, or None when a symbol has no match."""
    text = normal(ipa)
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in _IGNORED:
            i += 1
            continue
        for size in range(min(_LONGEST, len(text) - i), 0, -1):
            mnemonic = TO_ESPEAK.get(text[i : i + size])
            if mnemonic is not None:
                out.append(mnemonic)
                i += size
                break
        else:
            return None
    return "".join(out) or None


def espeak_phonemes(ipa: str) -> str | None:
    """``[[…]]`` phoneme input for espeak-ng, or None (then read the word as written)."""
    mnemonics = to_espeak(ipa)
    return f"[[{mnemonics}]]" if mnemonics else None
