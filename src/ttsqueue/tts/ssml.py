"""An SSML subset: parsing (safely, with the standard library) and flattening to words.

A chapter whose text starts with ``<speak`` (after optional whitespace, an XML
declaration, or a DOCTYPE, which is then refused) is SSML. Understood: ``<speak>``,
``<p>``, ``<s>``, ``<break time="500ms|1s" strength="...">``, ``<emphasis>``,
``<prosody rate=... pitch=...>``, ``<say-as interpret-as="characters|spell-out|cardinal|
ordinal|digits|date|telephone">``, ``<sub alias>``, ``<phoneme alphabet="ipa" ph>``
(IPA symbols this service knows, see :mod:`ttsqueue.tts.ipa`; another alphabet reads the
text); ``<voice>`` and any other element are read as their text content, so no text is
ever lost.

:func:`flatten` turns a document into :class:`Token` (a word with its inline style) and
:class:`Boundary` items (paragraph, sentence, break); :mod:`ttsqueue.tts.ssml_chunks`
cuts those into chunks and renders them for engines with or without SSML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from xml.parsers import expat

from ttsqueue.tts import ipa, numbers
from ttsqueue.tts.base import MAX_PAUSE_MS, MAX_PITCH, MAX_SPEED, MIN_PITCH, MIN_SPEED, EngineError
from ttsqueue.tts.text import normalize

MAX_DEPTH = 100
MAX_PHONEME_CHARS = 200
BREAK_STRENGTH_MS = {
    "none": 0, "x-weak": 100, "weak": 200, "medium": 400, "strong": 700, "x-strong": 1200,
}  # fmt: skip
RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.75}
PITCHES = {"x-low": 0.6, "low": 0.8, "medium": 1.0, "default": 1.0, "high": 1.2, "x-high": 1.4}
EMPHASIS_LEVELS = ("strong", "moderate", "reduced", "none")
SPELLED = ("characters", "spell-out")

_START = re.compile(r"\A\ufeff?\s*(?:<\?xml\b|<!DOCTYPE\b|<speak[\s>/])", re.IGNORECASE)
_PROLOG = re.compile(r"\A\ufeff?\s*(?:<\?xml\b[^>]*\?>)?")
_TIME = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)\s*", re.IGNORECASE)
_RELATIVE = re.compile(r"\s*([+-]?)(\d+(?:\.\d*)?|\.\d+)\s*(%|st)?\s*")
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")


class SsmlError(EngineError):
    """SSML that cannot be read; the message names the problem for the user."""


def is_ssml(text: str) -> bool:
    """Whether a chapter's text is an SSML document rather than plain text."""
    return _START.match(text) is not None


@dataclass(slots=True)
class Node:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """All the text inside, markup dropped."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


def parse(text: str) -> Node:
    """The ``<speak>`` element of an SSML document; SsmlError when it is not one."""
    prolog = _PROLOG.match(text)
    assert prolog is not None  # the pattern matches the empty string
    skipped_lines = prolog.group(0).count("\n")
    body = text[prolog.end() :]  # the declaration goes: the text is already decoded
    root = Node("#document", {}, 0)
    stack = [root]
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def where() -> str:
        return f"line {parser.CurrentLineNumber + skipped_lines}"

    def refuse_declaration(*_args: object) -> None:
        raise SsmlError(f"SSML must not contain DOCTYPE or ENTITY declarations ({where()})")

    pending: list[str] = []  # text since the last tag, joined once (not += per call)

    def flush() -> None:
        if pending:
            stack[-1].children.append("".join(pending))
            pending.clear()

    def start(tag: str, attrs: dict[str, str]) -> None:
        if len(stack) > MAX_DEPTH:
            raise SsmlError(f"SSML elements are nested more than {MAX_DEPTH} deep ({where()})")
        flush()
        node = Node(tag, attrs, parser.CurrentLineNumber + skipped_lines)
        stack[-1].children.append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        flush()
        stack.pop()

    def data(chars: str) -> None:
        pending.append(chars)

    parser.StartDoctypeDeclHandler = refuse_declaration
    parser.EntityDeclHandler = refuse_declaration
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        parser.Parse(body, True)
        flush()
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code)
        raise SsmlError(
            f"SSML is not well-formed: {message} at line {exc.lineno + skipped_lines}"
        ) from None
    elements = [c for c in root.children if isinstance(c, Node)]
    if len(elements) != 1 or elements[0].tag != "speak":
        raise SsmlError("SSML must have <speak> as its root element")
    return elements[0]


def check(text: str) -> str | None:
    """None when ``text`` is plain text or SSML this module can read, else a message."""
    if not is_ssml(text):
        return None
    try:
        flatten(parse(text), language=None)
    except SsmlError as exc:
        return str(exc)
    return None


# -- attribute values ----------------------------------------------------------------
def break_ms(node: Node) -> int:
    time = node.attrs.get("time")
    if time is not None:
        m = _TIME.fullmatch(time)
        if m is None:
            raise SsmlError(f"SSML break time {time!r} at line {node.line} is not like 500ms or 1s")
        ms = float(m.group(1)) * (1 if m.group(2).lower() == "ms" else 1000)
        if ms > MAX_PAUSE_MS:
            raise SsmlError(f"SSML break time at line {node.line} is over {MAX_PAUSE_MS} ms")
        return round(ms)
    strength = node.attrs.get("strength", "medium")
    if strength not in BREAK_STRENGTH_MS:
        raise SsmlError(
            f"SSML break strength {strength!r} at line {node.line} is not one of "
            + ", ".join(BREAK_STRENGTH_MS)
        )
    return BREAK_STRENGTH_MS[strength]


def _relative(value: str, names: dict[str, float], *, semitones: bool) -> float | None:
    """A multiplier: a name, ``80%`` (of normal), ``+10%``/``-10%`` (a change), ``1.2``,
    or for pitch ``+2st`` (semitones)."""
    if value.strip() in names:
        return names[value.strip()]
    m = _RELATIVE.fullmatch(value)
    if m is None or (m.group(3) == "st" and not semitones):
        return None
    sign, number, unit = m.group(1), float(m.group(2)), m.group(3)
    amount = -number if sign == "-" else number
    if unit == "st":
        # Past +-10 octaves the voice is clamped anyway; 2 ** (99999 / 12) overflows.
        return float(2 ** (max(-120.0, min(120.0, amount)) / 12))
    if unit == "%":
        return 1 + amount / 100 if sign else amount / 100
    return 1 + amount if sign else amount


def prosody(node: Node, style: Style) -> Style:
    rate, pitch = style.rate, style.pitch
    if "rate" in node.attrs:
        factor = _relative(node.attrs["rate"], RATES, semitones=False)
        if factor is None or factor <= 0:
            raise SsmlError(
                f"SSML prosody rate {node.attrs['rate']!r} at line {node.line} is not one of "
                f"{', '.join(RATES)}, a percentage (80%, +10%) or a number (1.2)"
            )
        rate = min(MAX_SPEED, max(MIN_SPEED, rate * factor))
    if "pitch" in node.attrs:
        factor = _relative(node.attrs["pitch"], PITCHES, semitones=True)
        if factor is None or factor < 0:
            raise SsmlError(
                f"SSML prosody pitch {node.attrs['pitch']!r} at line {node.line} is not one of "
                f"{', '.join(PITCHES)}, a percentage (90%, +10%), semitones (+2st) or a number"
            )
        pitch = min(MAX_PITCH, max(MIN_PITCH, pitch * factor))
    return replace(style, rate=rate, pitch=pitch)


# -- say-as --------------------------------------------------------------------------
def _cardinal(text: str) -> str | None:
    m = re.fullmatch(r"([+-]?)(\d+)(?:\.(\d+))?", re.sub(r"[\s,_]", "", text))
    if m is None:
        return None
    words = numbers.cardinal_of(m.group(2)) + (
        f" point {numbers.digits(m.group(3))}" if m.group(3) else ""
    )
    return ("minus " if m.group(1) == "-" else "") + words


def _ordinal(text: str) -> str | None:
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th|\.)?", re.sub(r"[\s,]", "", text), re.IGNORECASE)
    return numbers.ordinal_of(m.group(1)) if m else None


_MONTHS = "January February March April May June July August September October November December"


def _date(text: str, fmt: str) -> str | None:
    parts = re.findall(r"\d+", text)
    order = fmt.lower() if fmt else ("ymd" if parts and len(parts[0]) == 4 else "mdy")
    if len(parts) != len(order) or set(order) - set("ymd"):
        return None
    read = {key: numbers.value(part) for key, part in zip(order, parts, strict=True)}
    values = {key: number for key, number in read.items() if number is not None}
    if len(values) != len(read):
        return None  # a number too long for a date: read as written
    month, day = values.get("m"), values.get("d")
    if (month is not None and not 1 <= month <= 12) or (day is not None and not 1 <= day <= 31):
        return None
    words = []
    if month is not None:
        words.append(_MONTHS.split()[month - 1])
    if day is not None:
        words.append(numbers.ordinal(day) if month is not None else f"the {numbers.ordinal(day)}")
    if "y" in values:
        words[-1:] = [words[-1] + ","] if words else []
        words.append(numbers.year(values["y"]))
    return " ".join(words)


def _telephone(text: str) -> str | None:
    groups = re.findall(r"\d+", text)
    if not groups:
        return None
    plus = "plus " if text.strip().startswith("+") else ""
    return plus + ", ".join(numbers.digits(group) for group in groups)


def say_as(node: Node, language: str | None) -> str | None:
    """Words for a say-as element we read ourselves, or None to read its text."""
    kind = node.attrs.get("interpret-as", "")
    content = node.text().strip()
    english = language is None or language.lower().startswith("en")
    if not english:
        return None  # our words are English; other languages read the text as written
    if kind in ("cardinal", "number"):
        return _cardinal(content)
    if kind == "ordinal":
        return _ordinal(content)
    if kind == "digits":
        return numbers.digits(content) if re.fullmatch(r"[\d\s]+", content) else None
    if kind == "date":
        return _date(content, node.attrs.get("format", ""))
    if kind == "telephone":
        return _telephone(content)
    return None


# -- flattening ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Style:
    rate: float = 1.0  # multipliers of the voice's speed and pitch
    pitch: float = 1.0
    emphasis: str | None = None
    spell: bool = False  # read letter by letter
    phoneme: str | None = None  # IPA: how to say the token (its text is the written word)


@dataclass(frozen=True, slots=True)
class Token:
    """One word (no whitespace inside) and whether whitespace comes before it."""

    text: str
    space: bool
    style: Style


@dataclass(frozen=True, slots=True)
class Boundary:
    kind: str  # "p", "s" or "break"
    ms: int = 0


Item = Token | Boundary


class _Flattener:
    def __init__(self, language: str | None, normalise: bool) -> None:
        self.items: list[Item] = []
        self.space = False
        self.language = language
        self.normalise = normalise

    def text(self, text: str, style: Style) -> None:
        for i, paragraph in enumerate(_PARAGRAPH.split(text)):
            if i:
                self.items.append(Boundary("p"))
            if self.normalise and not style.spell and re.search(r"\w", paragraph):
                paragraph = normalize(paragraph, self.language, fragment=True)
            self.words(paragraph, style)

    def words(self, text: str, style: Style) -> None:
        if text[:1].isspace():
            self.space = True
        for word in text.split():
            self.items.append(Token(word, self.space, style))
            self.space = True
        if text:
            self.space = text[-1].isspace()

    def node(self, node: Node, style: Style) -> None:
        tag = node.tag
        if tag == "break":
            self.items.append(Boundary("break", break_ms(node)))
            return
        if tag in ("p", "s"):
            self.items.append(Boundary(tag))
        if tag == "prosody":
            style = prosody(node, style)
        elif tag == "emphasis":
            level = node.attrs.get("level", "moderate")
            style = replace(style, emphasis=level if level in EMPHASIS_LEVELS else "moderate")
        elif tag == "sub" and "alias" in node.attrs:
            self.text(node.attrs["alias"], style)
            return
        elif tag == "phoneme" and self.phoneme(node, style):
            return
        elif tag == "say-as":
            if node.attrs.get("interpret-as") in SPELLED:
                style = replace(style, spell=True)
            else:
                words = say_as(node, self.language) if self.normalise else None
                if words is not None:
                    self.words(words, style)
                    return
        for child in node.children:
            if isinstance(child, str):
                self.text(child, style)
            else:
                self.node(child, style)
        if tag in ("p", "s"):
            self.items.append(Boundary(tag))

    def phoneme(self, node: Node, style: Style) -> bool:
        """An IPA ``<phoneme>`` as one token; False for another alphabet (read the text)."""
        if node.attrs.get("alphabet", "ipa").lower() != "ipa" or "ph" not in node.attrs:
            return False
        ph = node.attrs["ph"]
        if len(ph) > MAX_PHONEME_CHARS or (bad := ipa.problem(ph)):
            raise SsmlError(
                f"SSML phoneme ph at line {node.line} "
                + (bad or f"is over {MAX_PHONEME_CHARS} characters")
            )
        words = node.text().split()
        if words:
            if node.text()[:1].isspace():
                self.space = True
            self.items.append(Token(" ".join(words), self.space, replace(style, phoneme=ph)))
            self.space = node.text()[-1:].isspace()
        return True


def flatten(root: Node, language: str | None, *, normalise: bool = True) -> list[Item]:
    """Words and boundaries of an SSML document, in reading order. Text is normalised for
    ``language`` (as plain chapters are) unless ``normalise`` is False."""
    flattener = _Flattener(language, normalise)
    flattener.node(root, Style())
    return flattener.items
