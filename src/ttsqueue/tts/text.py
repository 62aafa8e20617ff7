"""Text normalisation for speech: what a narrator would say, not what is printed.

``normalize`` expands abbreviations, reads numbers, money, percentages, dates, times and
Roman-numeral headings as words, drops footnote markers, bare URLs and scene-break
lines, and tidies whitespace (paragraphs stay separated by a blank line). Splitting into
chunks lives in :mod:`ttsqueue.tts.splitting` and is re-exported here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from ttsqueue.tts import numbers
from ttsqueue.tts.splitting import split_sentences, split_text

__all__ = ["normalize", "split_sentences", "split_text"]

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# -- markup that is not read ---------------------------------------------------------
_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"'\u201c\u201d]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)]}'\"\u201d\u2019"
_FOOTNOTE = re.compile(
    r"\[\^?\d{1,3}\]|(?<=\S)\^\d{1,3}\b|(?<=\S)[\u00b9\u00b2\u00b3\u2070\u2074-\u2079]+"
)
_SCENE_BREAK = re.compile(r"^[^\w\n]+$", re.MULTILINE)
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def _drop_url(m: re.Match[str]) -> str:
    url = m.group(0)
    tail = len(url) - len(url.rstrip(_URL_TAIL))
    return url[len(url) - tail :] if tail else ""


# -- Roman numerals in headings ------------------------------------------------------
_HEADING_WORDS = r"Chapter|Book|Part|Volume|Section|Act|Scene|Canto|Letter|Appendix|Stave"
_ROMAN_HEADING = re.compile(
    rf"\b({_HEADING_WORDS})(\s+)([IVXLCDM]+|[ivxlcdm]+)\b(?!['\u2019])", re.I
)
_ROMAN_LINE = re.compile(r"^([ \t]*)([IVXLCDM]{1,8})(\.?)([ \t]*)$", re.MULTILINE)


def _roman_heading(m: re.Match[str]) -> str:
    value = numbers.roman_to_int(m.group(3))
    return m.group(0) if value is None else f"{m.group(1)}{m.group(2)}{value}"


def _roman_line(m: re.Match[str]) -> str:
    value = numbers.roman_to_int(m.group(2))
    return m.group(0) if value is None else f"{m.group(1)}{value}{m.group(3)}{m.group(4)}"


# -- abbreviations ---------------------------------------------------------------------
_TITLES = {
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "Prof": "Professor",
    "Capt": "Captain", "Lt": "Lieutenant", "Col": "Colonel", "Gen": "General",
    "Sgt": "Sergeant", "Rev": "Reverend", "Hon": "Honourable", "Gov": "Governor",
    "Sen": "Senator", "Fr": "Father", "Mt": "Mount", "Ft": "Fort", "St": "Saint",
    "Messrs": "Messieurs", "Mme": "Madame", "Mlle": "Mademoiselle",
}  # fmt: skip
_BARE_TITLES = ("Mr", "Mrs", "Ms", "Dr", "St")  # British style, without the period
_TITLE = re.compile(
    rf"\b(?:({'|'.join(_TITLES)})\.(\s*$)?|({'|'.join(_BARE_TITLES)})(?=\s+[A-Z\d]))", re.MULTILINE
)
_STREETS = {"St": "Street", "Rd": "Road", "Ave": "Avenue", "Blvd": "Boulevard", "Dr": "Drive"}
_STREET = re.compile(r"\b([A-Z][a-z]+ )(St|Rd|Ave|Blvd)\.(?=(\s+[A-Z]|\s*$)?)", re.MULTILINE)
_SUFFIXES = {"Jr": "Junior", "Sr": "Senior"}
_SUFFIX = re.compile(r"(,?\s)(Jr|Sr)\.(?!\s+[A-Z][a-z])")
_LATIN = re.compile(r"\b(e\.g|i\.e|cf|viz|vs|approx)\.(?=[\s,;:)])", re.IGNORECASE)
_LATIN_WORDS = {
    "e.g": "for example", "i.e": "that is", "cf": "compare", "viz": "namely",
    "vs": "versus", "approx": "approximately",
}  # fmt: skip
# "etc." keeps its full stop only where it ends a sentence: the engine pauses there.
_ETC = re.compile(r"\b(?:etc|Etc|ETC)\.(?=(\s+[A-Z]|\s*$)?)", re.MULTILINE)
_NUMBER_ABBREV = re.compile(r"\b(No|Nos|no|nos|pp|p|ca|c)\.(?=\s?\d)")
_NUMBER_ABBREV_WORDS = {
    "no": "number",
    "nos": "numbers",
    "pp": "pages",
    "p": "page",
    "ca": "circa",
    "c": "circa",
}
_CLOCK_GLUED = re.compile(r"\b(\d{1,2})\s?([aApP])[mM]\b")
_CLOCK = re.compile(r"\b([aApP])\.\s?[mM]\.(?=(\s+[A-Z]|\s*$)?)", re.MULTILINE)


def _title(m: re.Match[str]) -> str:
    if m.group(1):  # "Mr." and friends; the period stays only where it ended the text
        return _TITLES[m.group(1)] + ("." + m.group(2) if m.group(2) is not None else "")
    return _TITLES[m.group(3)]


def _clock(m: re.Match[str]) -> str:
    # "PM." still ends a sentence where "p.m." did; a lone letter would read as an initial.
    return m.group(1).upper() + ("M." if m.group(2) is not None else "M")


# -- numbers -------------------------------------------------------------------------
_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH = "|".join(_MONTHS)
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_SCALE = r"thousand|million|billion|trillion"
# "a $5 bill": after "a"/"an" a whole amount describes the noun that follows, read in
# the singular ("a five dollar bill", "a three million dollar deal").
_MONEY = re.compile(
    rf"(\b[Aa]n?\s+)?([$£€])\s?(\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.(\d{{1,2}}))?(?!\d)(?:\s+({_SCALE})\b)?"
)
_PERCENT = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)\s?(?:%|percent\b|per cent\b)")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_MONTH_DAY = re.compile(
    rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?![:\d])(,?\s+(\d{{4}})\b)?"
)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b")
_TIME = re.compile(r"\b([01]?\d|2[0-4]):([0-5]\d)\b(?!:\d)")
_DECADE = re.compile(r"(?<![\w'\u2019])['\u2019]?(\d{2})?(\d)0s\b")
_ORDINAL = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_GROUPED = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?(?![\d,]\d)")
_DECIMAL = re.compile(r"(?<![\d.,])(\d+)\.(\d+)(?!\.?\d)")
_YEAR = re.compile(r"(?<![\w.,])(1\d{3}|20\d{2})(?![\d%]|[.,]\d)")
_NEGATIVE = re.compile(r"(?<![\w\d.,-])-(?=\d)")
_RANGE = re.compile(r"(?<=\d)\s?\u2013\s?(?=\d)")
_INTEGER = re.compile(r"(?<![\w.,])(\d+)(?!\w|[.,]\d)")


def _money(m: re.Match[str]) -> str:
    article = m.group(1) or ""
    one, many, sub_one, sub_many = _CURRENCIES[m.group(2)]
    whole, cents, scale = m.group(3), m.group(4), m.group(5)
    if scale:
        amount = numbers.cardinal_of(whole) + (f" point {numbers.digits(cents)}" if cents else "")
        return f"{article}{amount} {scale} {one if article else many}"
    if article and not cents:
        return f"{article}{numbers.cardinal_of(whole)} {one}"
    cent_value = int(cents.ljust(2, "0")) if cents else 0
    whole_value = numbers.value(whole)
    parts = []
    if whole_value != 0 or not cent_value:
        parts.append(f"{numbers.cardinal_of(whole)} {one if whole_value == 1 else many}")
    if cent_value:
        parts.append(f"{numbers.cardinal(cent_value)} {sub_one if cent_value == 1 else sub_many}")
    return article + " and ".join(parts)


def _number_words(text: str) -> str:
    whole, _, frac = text.lstrip("-").partition(".")
    words = numbers.cardinal_of(whole) + (f" point {numbers.digits(frac)}" if frac else "")
    return f"minus {words}" if text.startswith("-") else words


def _date(year: int, month: int, day: int) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{_MONTHS[month - 1]} {numbers.ordinal(day)}, {numbers.year(year)}"


def _iso_date(m: re.Match[str]) -> str:
    return _date(int(m.group(1)), int(m.group(2)), int(m.group(3))) or m.group(0)


def _slash_date(m: re.Match[str]) -> str:
    a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    month, day = (b, a) if a > 12 else (a, b)  # day/month only when it cannot be month/day
    return _date(y, month, day) or m.group(0)


def _month_day(m: re.Match[str]) -> str:
    day = int(m.group(2))
    if not 1 <= day <= 31:
        return m.group(0)
    year = f", {numbers.year(int(m.group(4)))}" if m.group(4) else ""
    return f"{m.group(1)} {numbers.ordinal(day)}{year}"


def _day_month(m: re.Match[str]) -> str:
    day = int(m.group(1))
    return f"the {numbers.ordinal(day)} of {m.group(2)}" if 1 <= day <= 31 else m.group(0)


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    if minute == 0:
        return (
            f"{numbers.cardinal(hour)} o'clock"
            if hour <= 12
            else f"{numbers.cardinal(hour)} hundred"
        )
    if minute < 10:
        return f"{numbers.cardinal(hour)} oh {numbers.cardinal(minute)}"
    return f"{numbers.cardinal(hour)} {numbers.cardinal(minute)}"


def _decade(m: re.Match[str]) -> str:
    value = int((m.group(1) or "") + m.group(2) + "0")
    words = numbers.year(value) if m.group(1) else numbers.cardinal(value)
    return numbers.plural(words)


def _integer(m: re.Match[str]) -> str:
    text = m.group(1)
    if len(text) > 1 and text.startswith("0"):
        return numbers.digits(text)
    return numbers.cardinal_of(text)


# Rules for any language: markup that is not read, Roman numerals alone on a line.
_NEUTRAL_RULES: tuple[_Rule, ...] = (
    (_URL, _drop_url),
    (_FOOTNOTE, lambda m: ""),
    (_SCENE_BREAK, lambda m: ""),
    (_ROMAN_HEADING, _roman_heading),
    (_ROMAN_LINE, _roman_line),
)
_FRAGMENT_RULES: tuple[_Rule, ...] = (
    (_URL, _drop_url),
    (_FOOTNOTE, lambda m: ""),
    (_ROMAN_HEADING, _roman_heading),
)
# English words for abbreviations, numbers, money, dates and times.
_ENGLISH_RULES: tuple[_Rule, ...] = (
    (
        _STREET,
        lambda m: m.group(1) + _STREETS[m.group(2)] + ("." if m.group(3) is not None else ""),
    ),
    (_TITLE, _title),
    (_SUFFIX, lambda m: m.group(1) + _SUFFIXES[m.group(2)]),
    (_LATIN, lambda m: _LATIN_WORDS[m.group(1).lower()]),
    (_ETC, lambda m: "et cetera." if m.group(1) is not None else "et cetera"),
    (_NUMBER_ABBREV, lambda m: _NUMBER_ABBREV_WORDS[m.group(1).lower()]),
    (_CLOCK_GLUED, lambda m: f"{m.group(1)} {m.group(2).upper()}M"),
    (_CLOCK, _clock),
    (_MONEY, _money),
    (_PERCENT, lambda m: f"{_number_words(m.group(1))} percent"),
    (_ISO_DATE, _iso_date),
    (_SLASH_DATE, _slash_date),
    (_MONTH_DAY, _month_day),
    (_DAY_MONTH, _day_month),
    (_TIME, _time),
    (_DECADE, _decade),
    (_ORDINAL, lambda m: numbers.ordinal_of(m.group(1))),
    (_NEGATIVE, lambda m: "minus "),  # before the numbers it signs are read as words
    (_GROUPED, lambda m: _number_words(m.group(1) + (f".{m.group(2)}" if m.group(2) else ""))),
    (_DECIMAL, lambda m: _number_words(m.group(0))),
    (_YEAR, lambda m: numbers.year(int(m.group(1)))),
    (_RANGE, lambda m: " to "),
    (_INTEGER, _integer),
)


def _tidy(text: str) -> str:
    text = re.sub(r"[^\S\n]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r" +([,;:.!?])(?=\s|$)", r"\1", text)  # left by a removed footnote or URL
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _tidy_fragment(text: str) -> str:
    """Whitespace runs become one space, kept at either end (the text sits between
    markup: its edges decide whether words are glued to their neighbours)."""
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"(?<=\S) +([,;:.!?])(?=\s|$)", r"\1", text)


def normalize(text: str, language: str | None = "en", *, fragment: bool = False) -> str:
    """``text`` as it should be read aloud. Paragraphs are separated by one blank line.

    Abbreviations and numbers become English words only for English (``language``
    starting with ``en``, or None when unknown); other languages keep their digits for
    the engine, which reads them in its own language.

    ``fragment`` is for a piece of text between SSML markup: lines mean nothing there
    (no scene-break lines or Roman numerals alone on a line), whitespace is collapsed
    to single spaces and kept at the ends.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _FOOTNOTE.sub("", text)  # before NFKC turns superscript digits into digits
    text = unicodedata.normalize("NFKC", text)
    english = language is None or language.lower().startswith("en")
    neutral = _FRAGMENT_RULES if fragment else _NEUTRAL_RULES
    for pattern, replace in neutral + (_ENGLISH_RULES if english else ()):
        text = pattern.sub(replace, text)
    return _tidy_fragment(text) if fragment else _tidy(text)
