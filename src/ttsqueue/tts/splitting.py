"""Splitting normalised text into chunks an engine can read in one call.

Paragraphs (blank lines) -> sentences -> clauses (, ; : dashes) -> words -> characters,
going finer only when a piece is still longer than the engine's limit. Splits happen at
whitespace (except inside a single word longer than the limit, and after CJK sentence
punctuation), so every character that is not whitespace reaches exactly one chunk, in
order: no text is ever lost.
"""

from __future__ import annotations

import re

from ttsqueue.tts.base import Chunk

# A "." after one of these does not end a sentence (compared lower-case, without the dot).
NON_TERMINAL = frozenset(
    """mr mrs ms mx dr prof st mt ft jr sr vs no nos capt col gen lt sgt rev hon gov sen fr
    cf viz approx ca fig figs vol vols ch pp p ed eds op cit al e.g i.e etc.al messrs mme mlle
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
_CLOSERS = "\"'\u201d\u2019\u00bb)]}"
_OPENERS = "\"'\u201c\u2018\u00ab([{\u00bf\u00a1"
# Only from the start of a run of marks, which is taken whole: a run of dots with no
# space after it is then tried once, not once per dot (quadratic).
_SENTENCE_END = re.compile(
    rf"(?:(?<![.!?\u2026])[.!?\u2026]++[{re.escape(_CLOSERS)}]*+\s+)"
    rf"|(?:(?<![\u3002\uff01\uff1f])[\u3002\uff01\uff1f]++[{re.escape(_CLOSERS)}]*+\s*)"
)
_CLAUSE_END = re.compile(r"(?<=[,;:\u2014\u2013)])\s+|\s+(?=[\u2014\u2013(])")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_SHORT_LINE = 50  # a line this short, ended by a newline, is a heading or a line of verse


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    rest = text[match.end() : match.end() + 16].lstrip(_OPENERS)
    if not rest:
        return True
    if rest[0].islower():
        return False
    marks = match.group(0).rstrip().rstrip(_CLOSERS)
    if marks != ".":
        return True
    before = text[max(0, match.start() - 64) : match.start()].split()
    word = before[-1].lstrip(_OPENERS) if before else ""
    if word.lower() in NON_TERMINAL or _INITIALS.fullmatch(word):
        return False
    return not (len(word) == 1 and word.isalpha() and word != "I")


def _lines_to_blocks(paragraph: str) -> list[str]:
    """Break a paragraph after short lines (headings, verse) followed by a capital."""
    lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
    blocks: list[str] = []
    current: list[str] = []
    for i, line in enumerate(lines):
        current.append(line)
        nxt = lines[i + 1].lstrip(_OPENERS) if i + 1 < len(lines) else ""
        if not nxt or (len(line) <= _SHORT_LINE and (nxt[0].isupper() or nxt[0].isdigit())):
            blocks.append(" ".join(current))
            current = []
    return blocks


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph, whitespace tidied."""
    sentences: list[str] = []
    for block in _lines_to_blocks(paragraph):
        start = 0
        for match in _SENTENCE_END.finditer(block):
            if _ends_sentence(block, match):
                sentence = block[start : match.end()].strip()
                if sentence:
                    sentences.append(sentence)
                start = match.end()
        tail = block[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


def sentence_starts(line: str) -> list[int]:
    """Offsets in ``line`` (text without line structure, such as the words of an SSML
    block joined by spaces) where a new sentence starts."""
    return [
        m.end()
        for m in _SENTENCE_END.finditer(line)
        if m.end() < len(line) and _ends_sentence(line, m)
    ]


def _pack(units: list[str], max_chars: int) -> list[str]:
    """Greedily join ``units`` with spaces into pieces of at most ``max_chars``."""
    pieces: list[str] = []
    current = ""
    for unit in units:
        if current and len(current) + 1 + len(unit) <= max_chars:
            current += " " + unit
        else:
            if current:
                pieces.append(current)
            current = unit
    if current:
        pieces.append(current)
    return pieces


def _split_words(text: str, max_chars: int) -> list[str]:
    words: list[str] = []
    for word in text.split():
        words.extend(word[i : i + max_chars] for i in range(0, len(word), max_chars))
    return _pack(words, max_chars)


def split_long(sentence: str, max_chars: int) -> list[tuple[str, bool]]:
    """Pieces of a sentence of at most ``max_chars``; the flag says a piece ends at a
    clause boundary (a natural place for a short pause)."""
    if len(sentence) <= max_chars:
        return [(sentence, True)]
    out: list[tuple[str, bool]] = []
    for clause in _pack([c for c in _CLAUSE_END.split(sentence) if c], max_chars):
        if len(clause) <= max_chars:
            out.append((clause, True))
        else:
            words = _split_words(clause, max_chars)
            out.extend((w, i == len(words) - 1) for i, w in enumerate(words))
    return out


def split_text(
    text: str, *, max_chars: int, sentence_pause_ms: int, paragraph_pause_ms: int
) -> list[Chunk]:
    """Chunks of ``text`` (already normalised) for an engine reading ``max_chars`` at most.

    A chunk that ends a paragraph is followed by ``paragraph_pause_ms`` of silence (the
    last chunk too, which separates chapters), one that ends a sentence by
    ``sentence_pause_ms``, one that ends a clause of a long sentence by a third of that,
    and a split inside a clause by none.
    """
    max_chars = max(1, max_chars)
    clause_pause_ms = sentence_pause_ms // 3
    chunks: list[Chunk] = []
    for paragraph in re.split(r"\n[^\S\n]*\n\s*", text):
        for sentence in split_sentences(paragraph):
            for piece, at_clause in split_long(sentence, max_chars):
                chunks.append(Chunk(piece, clause_pause_ms if at_clause else 0))
            chunks[-1] = Chunk(chunks[-1].text, sentence_pause_ms)
        if chunks and chunks[-1].pause_after_ms != paragraph_pause_ms:
            chunks[-1] = Chunk(chunks[-1].text, paragraph_pause_ms)
    return chunks
