"""Plain text and Markdown books: chapters split at headings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ttsqueue.models import Chapter

from .model import Book, BookError
from .plaintext import join_wrapped, strip_gutenberg

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    "eighty|ninety|hundred"
)
# "Chapter 1", "CHAPTER IV.", "Chapter One: Title", "Chapter Twenty-One - Title", "Prologue".
_PLAIN_HEADING = re.compile(
    rf"""^(?:
        chapter\s+(?:\d+|[ivxlcdm]+|(?:{_NUMBER_WORDS})(?:[\s-]+(?:{_NUMBER_WORDS}))*)\b\.?
        (?:\s*[:.\-\u2013\u2014]\s*\S.*)?
      | (?:prologue|epilogue|preface|foreword|introduction|afterword|interlude)
        (?:\s*[:.\-\u2013\u2014]\s*\S.*)?
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_MAX_PLAIN_HEADING = 100
# Headings a plain-text book splits at only when they stand alone, a blank line (or the
# start or end of the text) above and below: "BOOK ONE", "Part II: The Return",
# "Book the First", and a Roman numeral alone ("IV." or "IV").
_ORDINALS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last"
_PART_HEADING = re.compile(
    rf"""^(?:book|part|volume)\s+(?:
        \d+|[ivxlcdm]+|(?:{_NUMBER_WORDS})(?:[\s-]+(?:{_NUMBER_WORDS}))*|the\s+(?:{_ORDINALS})
    )\b\.?(?:\s*[:.\-\u2013\u2014]\s*\S.*)?$""",
    re.IGNORECASE | re.VERBOSE,
)
_ROMAN_HEADING = re.compile(r"^[IVXLC]{1,8}\.?$")
# "# Title", "## Title ##": the opening hashes; the closing ones are stripped by hand
# (a pattern with a lazy title and optional closing runs backtracks cubically).
_ATX_OPEN = re.compile(r" {0,3}(#{1,6})[ \t]+")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_BLANK_RUN = re.compile(r"\n{3,}")
_BYLINE = re.compile(r"^by\s+(\S.{0,100})$", re.IGNORECASE)

# Inline Markdown that should not be read aloud. Every pattern runs in time linear in
# the line: what may stand between two delimiters never holds the opening delimiter, so a
# failed attempt stops at the next opener instead of scanning to the end of the line.
_INLINE = (
    (re.compile(r"!\[([^\[\]]*)\]\([^()\[\]]*\)"), r"\1"),  # images: keep the alt text
    (re.compile(r"\[([^\[\]]+)\]\([^()\[\]]*\)"), r"\1"),  # links: keep the text
    (re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<[^<>\n]+>"), ""),  # inline HTML tags
    (re.compile(r"\*\*(?=\S)((?:[^*]|\*(?!\*))*?\S)\*\*"), r"\1"),  # strong
    (re.compile(r"__(?=\S)((?:[^_]|_(?!_))*?\S)__"), r"\1"),
    (re.compile(r"(?<![\w*])\*([^*\s](?:[^*]*[^*\s])?)\*(?![\w*])"), r"\1"),  # emphasis
    (re.compile(r"(?<![\w*])_([^_\s](?:[^_]*[^_\s])?)_(?![\w*])"), r"\1"),
    (re.compile(r"~~((?:[^~]|~(?!~))+?)~~"), r"\1"),  # strikethrough
    (re.compile(r"`([^`]*)`"), r"\1"),  # code spans
)
_LINE_MARKERS = re.compile(r"^ {0,3}>[> \t]*|^[ \t]*(?:[-*+]|\d+[.)])[ \t]+")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s+\S+")


@dataclass(slots=True)
class _Section:
    title: str
    level: int  # heading level; 0 for text before the first heading
    lines: list[str] = field(default_factory=list)
    part: bool = False  # a plain-text "BOOK ONE" or "PART II" over chapters


def parse_text(text: str, *, markdown: bool, default_title: str = "") -> Book:
    """Split a plain-text or Markdown book into chapters at its headings.

    Markdown splits at ``#`` and ``##`` headings; a single leading ``# Title`` followed
    by ``##`` headings is the book's title instead. Plain text splits at lines such as
    ``Chapter 1``, ``CHAPTER IV``, ``Chapter One: Title``, ``Prologue``. Text before the
    first heading is an untitled first chapter if it has any content; a book without
    headings is one chapter. Raises :class:`BookError` if there is no text at all.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    title, author = default_title, ""
    if markdown:
        sections = _markdown_sections(text)
        title, sections = _book_title(sections, default_title)
        author = _byline(sections)
    else:
        unwrapped = strip_gutenberg(text)
        title, author = unwrapped.title or default_title, unwrapped.author
        sections = _plain_sections(unwrapped.text)
    chapters = []
    part = ""  # the title of a part with no text of its own, prefixed to its first chapter
    for section in sections:
        body = _clean_body(section.lines, markdown=markdown)
        if not body:
            part = section.title if section.part else part
            continue
        chapter_title = section.title
        if part:
            chapter_title = f"{part}: {chapter_title}" if chapter_title else part
            part = ""
        chapters.append(Chapter(title=chapter_title, text=body))
    if not chapters:
        raise BookError("the book has no text")
    return Book(title=title, author=author, chapters=chapters)


def _plain_sections(text: str) -> list[_Section]:
    sections = [_Section("", 0)]
    lines = text.split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        if len(stripped) > _MAX_PLAIN_HEADING or not stripped:
            sections[-1].lines.append(line)
        elif _PLAIN_HEADING.match(stripped):
            sections.append(_Section(" ".join(stripped.split()), 1))
        elif _alone(lines, index) and _PART_HEADING.match(stripped):
            sections.append(_Section(" ".join(stripped.split()), 1, part=True))
        elif _alone(lines, index) and _ROMAN_HEADING.match(stripped):
            sections.append(_Section(stripped, 1))
        else:
            sections[-1].lines.append(line)
    return sections


def _alone(lines: list[str], index: int) -> bool:
    """Whether ``lines[index]`` has a blank line (or the text's edge) above and below."""
    above = index == 0 or not lines[index - 1].strip()
    below = index + 1 == len(lines) or not lines[index + 1].strip()
    return above and below


def _markdown_sections(text: str) -> list[_Section]:
    sections = [_Section("", 0)]
    in_fence = False
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            sections[-1].lines.append(line)
            continue
        heading = _atx(line)
        setext = _setext_level(lines, index)
        if setext:
            sections.append(_Section(_inline(line.strip()), setext))
            continue
        if heading and heading[0] <= 2:
            sections.append(_Section(_inline(heading[1]), heading[0]))
        elif heading:
            sections[-1].lines.append(_inline(heading[1]))
        elif not _is_setext_underline(lines, index):
            sections[-1].lines.append(line)
    return sections


def _atx(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading line (``## Title ##``), else None."""
    opening = _ATX_OPEN.match(line)
    if opening is None:
        return None
    title = line[opening.end() :].rstrip(" \t").rstrip("#").rstrip(" \t")
    return len(opening.group(1)), title


def _setext_level(lines: list[str], index: int) -> int:
    """1 or 2 if ``lines[index]`` is a setext heading (text over ``===`` or ``---``)."""
    if index + 1 >= len(lines) or not lines[index].strip():
        return 0
    if _atx(lines[index]) is not None or _LINE_MARKERS.match(lines[index]):
        return 0
    if index > 0 and lines[index - 1].strip():
        return 0  # the last line of a paragraph: "---" under it is Markdown's h2, rare
    underline = lines[index + 1].strip()
    if underline and set(underline) == {"="}:
        return 1
    if len(underline) >= 3 and set(underline) == {"-"}:
        return 2
    return 0


def _is_setext_underline(lines: list[str], index: int) -> bool:
    return index > 0 and _setext_level(lines, index - 1) > 0


def _book_title(sections: list[_Section], default_title: str) -> tuple[str, list[_Section]]:
    """A lone leading ``# Title`` over ``##`` chapters names the book, not a chapter."""
    level_one = [s for s in sections if s.level == 1]
    has_level_two = any(s.level == 2 for s in sections)
    leading = not "".join(sections[0].lines).strip() and sections[1:2] == level_one[:1]
    if len(level_one) == 1 and has_level_two and leading:
        first_heading = sections[1]
        if first_heading is level_one[0]:
            title = first_heading.title
            # Its text (a foreword, a dedication) stays as an untitled first chapter.
            first_heading.title = ""
            return title or default_title, sections
    return default_title, sections


def _byline(sections: list[_Section]) -> str:
    """``*by Ann Writer*`` alone under the book's title names the author (and is not read)."""
    untitled = [s for s in sections[:2] if s.level == 1 and not s.title]
    lines = [line for line in untitled[0].lines if line.strip()] if untitled else []
    if len(lines) != 1:
        return ""
    match = _BYLINE.match(_inline(lines[0]))
    if match is None:
        return ""
    untitled[0].lines = []
    return match.group(1).strip()


def _inline(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text.replace("\\", "").strip()


def _clean_body(lines: list[str], *, markdown: bool) -> str:
    if markdown:
        lines = [
            "" if _RULE.match(line) else _inline(_LINE_MARKERS.sub("", line))
            for line in lines
            if not _LINK_DEFINITION.match(line)
        ]
    else:
        lines = join_wrapped(lines)
    body = "\n".join(line.rstrip() for line in lines)
    return _BLANK_RUN.sub("\n\n", body).strip("\n").strip()
