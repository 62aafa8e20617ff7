"""An SSML chapter cut into chunks, and SSML chunks read by engines without SSML.

Every chunk of an SSML chapter is itself a small SSML document, ``<speak>...</speak>``,
so the worker's call shape stays ``synthesize_chunk(engine, chunk.text, voice)``: that
function sees the ``<speak`` prefix. Chunks end at ``<p>``, ``<s>``, ``<break>`` (whose
time becomes the chunk's pause) and sentence ends; a sentence longer than the engine's
limit is cut at clauses, then words, as plain text is.

For an engine that accepts SSML (espeak-ng) a chunk keeps its ``<prosody>``,
``<emphasis>`` and ``<say-as interpret-as="characters">`` markup. For the others it holds
only words (spelled letters, aliases, say-as words already rendered) and at most a
``<prosody>`` around all of them, which :func:`plain_runs` turns back into text and a
speed and pitch for the voice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from itertools import groupby
from xml.sax.saxutils import escape, quoteattr

from ttsqueue.tts import numbers
from ttsqueue.tts.base import MAX_PAUSE_MS, Chunk
from ttsqueue.tts.splitting import sentence_starts
from ttsqueue.tts.ssml import Boundary, Item, Style, Token, flatten, parse

SPEAK_OPEN, SPEAK_CLOSE = "<speak>", "</speak>"
_CLAUSE_AFTER = ",;:\u2014\u2013)"
_CLAUSE_BEFORE = "\u2014\u2013("


def spelled(word: str) -> str:
    """``"cat"`` -> ``"C A T"``; digits as words; a word with no letter or digit stays."""
    letters = [
        numbers.cardinal(int(ch)) if ch in "0123456789" else ch.upper()
        for ch in word
        if ch.isalnum()
    ]
    return " ".join(letters) if letters else word


def _size(token: Token) -> int:
    return 2 * len(token.text) if token.style.spell else len(token.text)


def _length(tokens: list[Token]) -> int:
    return sum(_size(t) for t in tokens) + sum(1 for t in tokens[1:] if t.space)


def _blocks(
    items: list[Item], sentence_ms: int, paragraph_ms: int
) -> list[tuple[list[Token], int]]:
    """Runs of words between boundaries, each with the pause after it: the breaks' total
    time when there are breaks, else the paragraph or sentence pause."""
    blocks: list[tuple[list[Token], int]] = []
    current: list[Token] = []
    rank = 0  # 2 paragraph, 1 sentence
    pause: int | None = None  # breaks seen since the last word
    for item in items:
        if isinstance(item, Boundary):
            if item.kind == "break":
                pause = min(MAX_PAUSE_MS, (pause or 0) + item.ms)
            else:
                rank = max(rank, 2 if item.kind == "p" else 1)
            continue
        if current and (rank or pause is not None):
            natural = paragraph_ms if rank == 2 else sentence_ms
            blocks.append((current, natural if pause is None else pause))
            current = []
        elif not current and not blocks and pause:  # a break before any word
            blocks.append(([], pause))
        rank, pause = 0, None
        current.append(item)
    if current:
        blocks.append((current, paragraph_ms if pause is None else pause))
    elif pause:
        blocks.append(([], pause))
    return blocks


def _split_at(tokens: list[Token], cuts: Iterable[int]) -> list[list[Token]]:
    out: list[list[Token]] = []
    start = 0
    for cut in cuts:
        if start < cut < len(tokens):
            out.append(tokens[start:cut])
            start = cut
    out.append(tokens[start:])
    return out


def _sentences(tokens: list[Token]) -> list[list[Token]]:
    parts: list[str] = []
    starts: dict[int, int] = {}  # offset in the joined line -> token index (after a space)
    offset = 0
    for i, token in enumerate(tokens):
        if i and token.space:
            parts.append(" ")
            offset += 1
            starts[offset] = i
        parts.append(token.text)
        offset += len(token.text)
    line = "".join(parts)
    return _split_at(tokens, (starts[o] for o in sentence_starts(line) if o in starts))


def _pack(units: list[list[Token]], max_chars: int) -> list[list[Token]]:
    pieces: list[list[Token]] = []
    current: list[Token] = []
    size = 0
    for unit in units:
        n = _length(unit)
        gap = 1 if unit[0].space else 0
        if current and size + gap + n <= max_chars:
            current.extend(unit)
            size += gap + n
        else:
            if current:
                pieces.append(current)
            current, size = list(unit), n
    if current:
        pieces.append(current)
    return pieces


def _cut(token: Token, max_chars: int) -> list[Token]:
    step = max(1, max_chars // 2 if token.style.spell else max_chars)
    if len(token.text) <= step or token.style.phoneme:  # one pronunciation, never cut
        return [token]
    return [
        Token(token.text[i : i + step], token.space and i == 0, token.style)
        for i in range(0, len(token.text), step)
    ]


def _pieces(tokens: list[Token], max_chars: int) -> list[tuple[list[Token], bool]]:
    """Pieces of one sentence within ``max_chars``; the flag says a piece ends a clause."""
    if _length(tokens) <= max_chars:
        return [(tokens, True)]
    clause_starts = (
        i
        for i in range(1, len(tokens))
        if tokens[i].space
        and (tokens[i - 1].text[-1] in _CLAUSE_AFTER or tokens[i].text[0] in _CLAUSE_BEFORE)
    )
    out: list[tuple[list[Token], bool]] = []
    for piece in _pack(_split_at(tokens, clause_starts), max_chars):
        if _length(piece) <= max_chars:
            out.append((piece, True))
            continue
        words = _pack([[part] for t in piece for part in _cut(t, max_chars)], max_chars)
        out.extend((w, i == len(words) - 1) for i, w in enumerate(words))
    return out


def _speed_runs(tokens: list[Token]) -> list[list[Token]]:
    """Runs of one speed and pitch, for an engine that takes them per call. A word glued
    to the one before (punctuation after markup) joins its run and takes its style."""
    runs: list[list[Token]] = []
    for token in tokens:
        if runs and not token.space:
            style = runs[-1][-1].style
            runs[-1].append(
                Token(token.text, False, replace(token.style, rate=style.rate, pitch=style.pitch))
            )
        elif runs and (token.style.rate, token.style.pitch) == (
            runs[-1][-1].style.rate,
            runs[-1][-1].style.pitch,
        ):
            runs[-1].append(token)
        else:
            runs.append([token])
    return runs


def _render(tokens: list[Token], ssml: bool) -> str:
    """A ``<speak>`` document for ``tokens``: with their markup for an SSML engine, else
    words with at most a prosody (speed and pitch) around each run of one style."""
    out = [SPEAK_OPEN]

    def key(t: Token) -> tuple[float, float, str | None, bool]:
        return (
            (t.style.rate, t.style.pitch, t.style.emphasis, t.style.spell)
            if ssml
            else (
                t.style.rate,
                t.style.pitch,
                None,
                False,
            )
        )

    first = True
    for (rate, pitch, emphasis, spell), group in groupby(tokens, key):
        words = list(group)
        opening, closing = "", ""
        if rate != 1 or pitch != 1:
            attrs = (f' rate="{round(rate * 100)}%"' if rate != 1 else "") + (
                f' pitch="{round(pitch * 100)}%"' if pitch != 1 else ""
            )
            opening, closing = f"<prosody{attrs}>", "</prosody>"
        if emphasis is not None and emphasis != "none":
            opening += f'<emphasis level="{emphasis}">'
            closing = "</emphasis>" + closing
        if spell:
            opening += '<say-as interpret-as="characters">'
            closing = "</say-as>" + closing
        if not first and words[0].space:
            out.append(" ")
        out.append(opening)
        for i, token in enumerate(words):
            if i and token.space:
                out.append(" ")
            text = spelled(token.text) if token.style.spell and not ssml else token.text
            if token.style.phoneme:  # kept for every engine: plain_runs reads it back
                ph = quoteattr(token.style.phoneme)
                out.append(f'<phoneme alphabet="ipa" ph={ph}>{escape(text)}</phoneme>')
                continue
            out.append(escape(text))
        out.append(closing)
        first = False
    out.append(SPEAK_CLOSE)
    return "".join(out)


def ssml_chunks(
    text: str,
    *,
    language: str | None,
    max_chars: int,
    sentence_pause_ms: int,
    paragraph_pause_ms: int,
    ssml: bool,
) -> list[Chunk]:
    """Chunks of the SSML chapter ``text``, as SSML documents for an engine that accepts
    SSML (``ssml``) or as words for one that does not. Raises SsmlError for bad SSML."""
    max_chars = max(1, max_chars)
    clause_pause_ms = sentence_pause_ms // 3
    items = flatten(parse(text), language)
    chunks: list[Chunk] = []
    for block, block_pause in _blocks(items, sentence_pause_ms, paragraph_pause_ms):
        if not block:
            chunks.append(Chunk(SPEAK_OPEN + SPEAK_CLOSE, block_pause))
            continue
        for sentence in _sentences(block):
            runs = [sentence] if ssml else _speed_runs(sentence)
            for run in runs:
                for piece, at_clause in _pieces(run, max_chars):
                    chunks.append(Chunk(_render(piece, ssml), clause_pause_ms if at_clause else 0))
                chunks[-1] = Chunk(chunks[-1].text, 0)  # a change of speed, not a pause
            chunks[-1] = Chunk(chunks[-1].text, sentence_pause_ms)
        chunks[-1] = Chunk(chunks[-1].text, block_pause)
    return chunks


def plain_runs(ssml_text: str, *, ipa_input: bool = False) -> list[tuple[str, Style]]:
    """The words of an SSML chunk as plain text, in runs of one speed and pitch (the
    style's other fields are left at their defaults). A ``<phoneme>`` is its IPA in
    ``[[…]]`` for an engine that reads IPA so (``ipa_input``: piper), else its written
    word (and a ``[[`` in the words is broken up). Raises SsmlError for bad SSML."""
    tokens = [i for i in flatten(parse(ssml_text), None, normalise=False) if isinstance(i, Token)]
    runs: list[tuple[str, Style]] = []

    def word(t: Token) -> str:
        if t.style.phoneme and ipa_input:
            return f"[[{t.style.phoneme}]]"
        text = spelled(t.text) if t.style.spell else t.text
        return text.replace("[[", "[ [") if ipa_input else text

    for (rate, pitch), group in groupby(tokens, lambda t: (t.style.rate, t.style.pitch)):
        words = [(" " if i and t.space else "") + word(t) for i, t in enumerate(group)]
        runs.append(("".join(words), Style(rate=rate, pitch=pitch)))
    return runs
