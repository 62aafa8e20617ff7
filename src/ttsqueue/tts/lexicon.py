"""Pronunciation lexicons: words and phrases mapped to a spoken alias or to IPA phonemes.

Matching is whole-word and literal (a possessive ``'s`` after an entry's word keeps the
entry), in linear time: a chapter's words are found with one
pattern that cannot backtrack (``\\w+`` joined by apostrophes, hyphens or dots), and
each word starts a lookup of at most :data:`MAX_PHRASE_WORDS` words in a dict (case
folded unless an entry asks to match case). No user-supplied pattern is ever compiled.

A lexicon is applied to a chapter before synthesis, on every engine: each match becomes
SSML — ``<sub alias="…">`` or ``<phoneme alphabet="ipa" ph="…">`` around the words as
written — and a plain chapter with a match becomes an SSML document whose other words
are exactly as they were. A chapter with no match is left as it is. Text already inside
``<sub>``, ``<phoneme>`` or ``<say-as>`` is not touched.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ttsqueue import strings
from ttsqueue.tts import ipa
from ttsqueue.tts.ssml import Node, is_ssml, parse

MAX_ENTRIES = 1000
MAX_GRAPHEME_CHARS = 100
MAX_ALIAS_CHARS = 200
MAX_PHONEME_CHARS = 200
MAX_PHRASE_WORDS = 6

WORD = re.compile(r"\w+(?:['\u2019.\-]\w+)*")
_POSSESSIVE = re.compile("['\u2019]s$", re.IGNORECASE)  # "Hermione's" says "Hermione" + 's
_KEEP = frozenset(("sub", "phoneme", "say-as"))  # their text is not looked up


@dataclass(frozen=True, slots=True)
class Entry:
    """``grapheme`` (a word or phrase) read as ``alias`` or as ``phoneme`` (IPA)."""

    grapheme: str
    alias: str = ""
    phoneme: str = ""
    match_case: bool = False

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"grapheme": self.grapheme}
        if self.alias:
            out["alias"] = self.alias
        if self.phoneme:
            out["phoneme"] = self.phoneme
        if self.match_case:
            out["match_case"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Entry:
        return cls(
            grapheme=str(data.get("grapheme", "")),
            alias=str(data.get("alias") or ""),
            phoneme=str(data.get("phoneme") or ""),
            match_case=bool(data.get("match_case", False)),
        )


class LexiconError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_entries(entries: Sequence[Entry], field: str = "lexicon") -> list[Entry]:
    """The entries, checked against the limits and rules; LexiconError names the first
    bad one (``lexicon.3.phoneme``)."""
    if len(entries) > MAX_ENTRIES:
        raise LexiconError(field, f"at most {MAX_ENTRIES} entries")
    out = []
    for i, entry in enumerate(entries):
        where = f"{field}.{i}"
        for name, value, limit in (
            ("grapheme", entry.grapheme, MAX_GRAPHEME_CHARS),
            ("alias", entry.alias, MAX_ALIAS_CHARS),
            ("phoneme", entry.phoneme, MAX_PHONEME_CHARS),
        ):
            if len(value) > limit:
                raise LexiconError(f"{where}.{name}", f"at most {limit} characters")
            if bad := strings.problem(value):
                raise LexiconError(f"{where}.{name}", bad)
        words = entry.grapheme.split()
        if not words or not all(WORD.fullmatch(w) for w in words):
            raise LexiconError(
                f"{where}.grapheme", "one or more words (letters, digits, ' - . inside a word)"
            )
        if len(words) > MAX_PHRASE_WORDS:
            raise LexiconError(f"{where}.grapheme", f"at most {MAX_PHRASE_WORDS} words")
        if bool(entry.alias.strip()) == bool(entry.phoneme.strip()):
            raise LexiconError(where, "give exactly one of alias and phoneme")
        if entry.phoneme and (bad := ipa.problem(entry.phoneme)):
            raise LexiconError(f"{where}.phoneme", bad)
        out.append(
            Entry(" ".join(words), entry.alias.strip(), ipa.normal(entry.phoneme), entry.match_case)
        )
    return out


class Lexicon:
    """Entries ready for lookup. Later entries win over earlier ones for the same words,
    so a job's own entries can follow (and override) a user's stored ones."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._exact: dict[tuple[str, ...], Entry] = {}
        self._folded: dict[tuple[str, ...], Entry] = {}
        self._exact_prefixes: set[tuple[str, ...]] = set()
        self._folded_prefixes: set[tuple[str, ...]] = set()
        self.longest = 0
        for entry in entries:
            words = tuple(entry.grapheme.split())
            if not entry.match_case:
                words = tuple(w.casefold() for w in words)
            table = self._exact if entry.match_case else self._folded
            prefixes = self._exact_prefixes if entry.match_case else self._folded_prefixes
            table[words] = entry
            prefixes.update(words[:n] for n in range(1, len(words) + 1))
            self.longest = max(self.longest, len(words))

    def __bool__(self) -> bool:
        return self.longest > 0

    def markup(self, text: str) -> tuple[str, int]:
        """``text`` (plain) as escaped SSML content with every match marked up, and the
        number of matches. Each word starts at most ``longest`` lookups, and a phrase is
        extended only while some entry starts with it."""
        found = list(WORD.finditer(text))
        words = [m.group() for m in found]
        folded = [w.casefold() for w in words]
        # whether only whitespace separates word i from word i + 1
        joined = [not text[a.end() : b.start()].strip() for a, b in itertools.pairwise(found)]
        out: list[str] = []
        done, i, matches = 0, 0, 0
        while i < len(found):
            entry, size, cut = self._longest(words, folded, joined, i)
            if entry is None and (stem := _POSSESSIVE.sub("", words[i])) != words[i]:
                entry = self._exact.get((stem,)) or self._folded.get((stem.casefold(),))
                size, cut = 1, len(words[i]) - len(stem)
            if entry is None:
                i += 1
                continue
            start, end = found[i].start(), found[i + size - 1].end() - cut
            out.append(escape(text[done:start]))
            out.append(_element(entry, text[start:end]))
            done, i, matches = end, i + size, matches + 1
        out.append(escape(text[done:]))
        return "".join(out), matches

    def _longest(
        self, words: list[str], folded: list[str], joined: list[bool], i: int
    ) -> tuple[Entry | None, int, int]:
        best: tuple[Entry | None, int, int] = (None, 0, 0)
        exact: tuple[str, ...] = ()
        fold: tuple[str, ...] = ()
        for n in range(min(self.longest, len(words) - i)):
            if n and not joined[i + n - 1]:
                break
            exact, fold = (*exact, words[i + n]), (*fold, folded[i + n])
            in_exact, in_fold = exact in self._exact_prefixes, fold in self._folded_prefixes
            if not in_exact and not in_fold:
                break
            entry = (self._exact.get(exact) if in_exact else None) or (
                self._folded.get(fold) if in_fold else None
            )
            if entry is not None:
                best = (entry, n + 1, 0)
        return best

    def apply(self, text: str) -> str:
        """A chapter's text with the lexicon applied (see the module's description)."""
        if not self:
            return text
        if is_ssml(text):
            root = parse(text)
            rendered, matches = self._node(root)
            return rendered if matches else text
        content, matches = self.markup(text)
        return f"<speak>{content}</speak>" if matches else text

    def _node(self, node: Node) -> tuple[str, int]:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in node.attrs.items())
        parts, matches = [f"<{node.tag}{attrs}>"], 0
        for child in node.children:
            if isinstance(child, Node):
                text, found = self._node(child)
            elif node.tag in _KEEP:
                text, found = escape(child), 0
            else:
                text, found = self.markup(child)
            parts.append(text)
            matches += found
        parts.append(f"</{node.tag}>")
        return "".join(parts), matches


def _element(entry: Entry, words: str) -> str:
    if entry.alias:
        return f"<sub alias={quoteattr(entry.alias)}>{escape(words)}</sub>"
    return f'<phoneme alphabet="ipa" ph={quoteattr(entry.phoneme)}>{escape(words)}</phoneme>'
