"""Hypothesis strategies for hostile submissions: text, Markdown, SSML, JSON, EPUB.

NUL, lone surrogates and the other control characters (except newline and tab) are left
out of every strategy here: the one rule for strings, enforced where every request is
read, refuses them with 422 in every field of every route and is tested with it. This
suite is about what the parsers make of everything else.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st

from tests.books.epub_builder import CH1, CH2, CH3, build_epub, chapter

# Any character but surrogates and controls (see the module's docstring), plus \n and \t.
SAFE = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t")
MARKUP = "*_~`[]()!<>#-=+.|\\&;:/\"' \n\t0123456789,$%\u00a3\u20ac^\u2013\u2014"
WORDS = [
    "Chapter 1", "CHAPTER IV.", "Prologue", "Mr.", "Dr", "St.", "e.g.", "etc.", "No. 5",
    "1st", "22nd", "2024-01-31", "31/12/1999", "12:30", "7pm", "1,000", "1,000,000.5",
    "$5", "\u00a32.50", "\u20ac1 million", "50%", "-3", "1990s", "'90s", "10\u201320",
    "www.example.org", "https://a.b/c?d", "[^1]", "x\u00b2", "* * *", "---", "***",
    "# ", "## ", "> ", "- ", "1. ", "```", "~~~", "===", "<br>", "<p>", "&amp;", "&nbsp;",
    "\u00ad", "\u200b", "\ufeff", "\ufdfa", "\u0663\u0664", "\U0001f600", "Dr.\n",
    "9" * 40, "9" * 4400, "1," * 30 + "1", ".", "...", "!?", "\u2026", "\u3002",
    "BOOK ONE", "PART II", "Book the First", "IV.", "I", "Title: ", "Author: ",
    "*** START OF THE PROJECT GUTENBERG EBOOK X ***", "*** END OF THIS PROJECT GUTENBERG EBOOK",
    "The Project Gutenberg EBook of ", ", by ", "Produced by", "  ",
    "<h1>", "</h1>", "<h2>", "</h2>", "<nav>", "</nav>", "<header>", "<article>", "<title>",
    "<div role='navigation'>", "<meta charset='utf-16'>",
]  # fmt: skip

pieces = st.one_of(
    st.sampled_from(WORDS),
    st.text(st.sampled_from(MARKUP + "ab"), max_size=12),
    st.text(SAFE, max_size=8),
    st.integers(min_value=0, max_value=10**30).map(str),
)
separators = st.sampled_from(["", " ", "\n", "\n\n", " \n", "\t"])


@st.composite
def prose(draw: st.DrawFn, max_pieces: int = 30) -> str:
    """Text mixing words, numbers, Markdown markup and arbitrary characters."""
    parts = draw(st.lists(st.tuples(pieces, separators), max_size=max_pieces))
    return "".join(p + s for p, s in parts)


# -- SSML ------------------------------------------------------------------------------
TAGS = ["p", "s", "break", "prosody", "emphasis", "say-as", "sub", "phoneme", "voice", "mark"]
ATTRS = ["time", "strength", "rate", "pitch", "level", "interpret-as", "format", "alias"]
VALUES = [
    "500ms", "1s", "0.5s", "99999s", "9" * 400 + "ms", "x-strong", "none", "bogus",
    "+99999st", "-99999st", "+2st", "x-high", "120%", "+10%", "-100%", "-200%", "0", "1.2",
    "+" + "9" * 400 + "%", "strong", "reduced", "characters", "spell-out", "cardinal",
    "ordinal", "digits", "date", "telephone", "number", "mdy", "ymd", "dmy", "yy", "",
]  # fmt: skip
attr_values = st.one_of(st.sampled_from(VALUES), st.text(SAFE, max_size=8))


def _element(tag: str, attrs: dict[str, str], children: list[str]) -> str:
    rendered = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<{tag}{rendered}>{''.join(children)}</{tag}>"


ssml_leaf = st.one_of(prose(max_pieces=6).map(escape), st.sampled_from(["9" * 4400, "&amp;"]))
ssml_body = st.recursive(
    ssml_leaf,
    lambda inner: st.builds(
        _element,
        st.sampled_from(TAGS),
        st.dictionaries(st.sampled_from(ATTRS), attr_values, max_size=3),
        st.lists(inner, max_size=4),
    ),
    max_leaves=16,
)


@st.composite
def ssml(draw: st.DrawFn) -> str:
    """An SSML document; now and then with a cut or a stray character (malformed)."""
    text = f"<speak>{draw(ssml_body)}</speak>"
    if draw(st.booleans()) and draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = (
            text[:at]
            + draw(st.sampled_from(["", "<", "&", "<!DOCTYPE x>", "</p>"]))
            + (text[at + draw(st.integers(0, 3)) :])
        )
    return text


chapter_text = st.one_of(prose(), ssml(), st.sampled_from(["* * *", "---", "\n", " ", ""]))

# -- JSON --------------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(SAFE, max_size=12),
)
json_any = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(SAFE, max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``value``; one time in twelve, any JSON at all in its place."""
    return st.integers(0, 11).flatmap(lambda i: json_any if i == 0 else value)


engines = _maybe(st.sampled_from(["espeak", "espeak", "noop", "piper", "openai", "nope", ""]))
voice_names = _maybe(
    st.sampled_from(["en-us", "en", "de", "silence", "../../etc/passwd", "x" * 600])
)
speeds = _maybe(
    st.floats(min_value=0.25, max_value=4.0) | st.sampled_from([0.0, -1.0, 1e309, float("nan")])
)
good_voices = st.one_of(
    st.fixed_dictionaries(
        {"engine": st.just("espeak"), "name": st.sampled_from(["en-us", "en", "de", "fr"])},
        optional={
            "speed": st.floats(min_value=0.5, max_value=2.0),
            "pitch": st.floats(min_value=0.5, max_value=1.5),
            "sentence_pause_ms": st.integers(0, 2000),
        },
    ),
    st.just({"engine": "noop", "name": "silence"}),
)
voices = st.one_of(
    good_voices,
    good_voices,
    st.fixed_dictionaries(
        {},
        optional={
            "engine": engines,
            "name": voice_names,
            "speed": speeds,
            "pitch": speeds,
            "sentence_pause_ms": _maybe(st.integers(-10, 10**6)),
            "paragraph_pause_ms": _maybe(st.integers(-10, 10**6)),
        },
    ),
)
chapters = st.fixed_dictionaries(
    {"text": _maybe(chapter_text)},
    optional={"title": _maybe(prose(max_pieces=3)), "id": _maybe(st.text(SAFE, max_size=10))},
)
short_titles = prose(max_pieces=3).map(lambda t: t[:200])
good_chapters = st.fixed_dictionaries({"text": chapter_text}, optional={"title": short_titles})
good_jobs = st.fixed_dictionaries(
    {"chapters": st.lists(good_chapters, min_size=1, max_size=4)},
    optional={
        "title": short_titles,
        "voice": good_voices,
        "output_format": st.sampled_from(["m4b", "mp3", "opus", "m4a", "flac", "wav"]),
        "priority": st.integers(0, 9),
    },
)
wild_jobs = st.fixed_dictionaries(
    {"chapters": _maybe(st.lists(chapters, min_size=1, max_size=4))},
    optional={
        "title": _maybe(prose(max_pieces=3)),
        "author": _maybe(st.text(SAFE, max_size=20)),
        "voice": _maybe(voices),
        "output_format": _maybe(
            st.sampled_from(["m4b", "mp3", "opus", "m4a", "flac", "wav", "MP3", "exe"])
        ),
        "priority": _maybe(st.integers(-5, 20)),
        "run_at": _maybe(
            st.sampled_from(["2030-01-01T00:00:00Z", "0001-01-01T00:00:00", "9999-12-31", "x"])
            | st.floats(allow_nan=False)
        ),
        "idempotency_key": _maybe(st.text(SAFE, max_size=250)),
        "work_id": _maybe(st.text(SAFE, max_size=250)),
    },
)
legacy_chapters = st.fixed_dictionaries(
    {"text": _maybe(chapter_text)},
    optional={
        "id": _maybe(st.integers(-(2**70), 2**70) | st.text(SAFE, max_size=10)),
        "title": _maybe(prose(max_pieces=3)),
    },
)
legacy_voices = st.one_of(
    st.fixed_dictionaries({"voice": st.sampled_from(["en-us", "en"])}, optional={"speed": speeds}),
    st.fixed_dictionaries(
        {}, optional={"voice": voice_names, "engine": engines, "name": voice_names, "speed": speeds}
    ),
)
good_legacy = st.fixed_dictionaries(
    {
        "chapters": st.lists(
            st.fixed_dictionaries(
                {"text": chapter_text},
                optional={"id": st.integers(0, 10**6), "title": short_titles},
            ),
            min_size=1,
            max_size=4,
        )
    },
    optional={
        "workId": st.text(SAFE, max_size=20),
        "title": short_titles,
        "voiceSettings": st.fixed_dictionaries({"voice": st.sampled_from(["en-us", "en"])}),
    },
)
wild_legacy = st.fixed_dictionaries(
    {"chapters": _maybe(st.lists(legacy_chapters, min_size=1, max_size=4))},
    optional={
        "workId": _maybe(st.integers(-(2**70), 2**70) | st.text(SAFE, max_size=20)),
        "title": _maybe(prose(max_pieces=3)),
        "author": _maybe(st.text(SAFE, max_size=20)),
        "voiceSettings": _maybe(legacy_voices),
        "outputFormat": _maybe(st.sampled_from(["mp3", "m4b", "ogg"])),
        "idempotencyKey": _maybe(st.text(SAFE, max_size=250)),
        "jobType": _maybe(st.text(SAFE, max_size=20)),
    },
)


job_bodies = st.one_of(good_jobs, wild_jobs)
legacy_bodies = st.one_of(good_legacy, wild_legacy)


@st.composite
def json_payloads(draw: st.DrawFn, bodies: st.SearchStrategy[Any]) -> bytes:
    """A JSON body (sometimes not an object, sometimes not JSON at all)."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.binary(max_size=64))
    value = draw(json_any if choice == 1 else bodies)
    return json.dumps(value, allow_nan=True).encode()


# -- text uploads --------------------------------------------------------------------------
query_values = st.one_of(
    st.text(SAFE, max_size=12),
    st.sampled_from(["1", "0", "-1", "2.5", "nan", "inf", "1e309", "true", "en-us", "noop", "mp3"]),
)
queries = st.dictionaries(
    st.sampled_from(
        ["title", "author", "voice", "engine", "speed", "pitch", "output_format", "priority",
         "run_at", "markdown", "sentence_pause_ms", "paragraph_pause_ms", "idempotency_key",
         "work_id"]
    ),
    query_values,
    max_size=4,
)  # fmt: skip
text_bodies = st.one_of(
    prose(max_pieces=60).map(str.encode),
    st.tuples(prose(max_pieces=60), st.sampled_from(["utf-16", "utf-16-le", "utf-8-sig"])).map(
        lambda t: t[0].encode(t[1])
    ),
    prose(max_pieces=60).map(lambda t: t.encode("cp1252", "replace")),
    ssml().map(str.encode),
    st.binary(max_size=128),
    st.sampled_from(
        [
            b"* * *",
            b"# Title\n\n## One\n\n* * *\n",
            b"\xef\xbb\xbf",
            b"\xff\xfe" + "x".encode("utf-16-le"),
        ]
    ),
)

# -- EPUB -------------------------------------------------------------------------------


def _xhtml_body(text: str, raw: bool) -> str:
    return chapter(text if raw else f"<p>{escape(text)}</p>")


@st.composite
def generated_epubs(draw: st.DrawFn) -> bytes:
    """An EPUB from the test builder with drawn chapters, table of contents and package."""
    bodies = tuple(
        draw(
            st.one_of(
                st.sampled_from([CH1, CH2, CH3]), st.builds(_xhtml_body, prose(), st.booleans())
            )
        )
        for _ in range(3)
    )
    nav = draw(
        st.one_of(
            st.none(), st.just(None), prose(max_pieces=5), st.sampled_from(["<nav/>", "<html/>"])
        )
    )
    ncx = draw(
        st.one_of(st.none(), prose(max_pieces=5), st.sampled_from(["<ncx/>", "<navPoint/>"]))
    )
    extra: dict[str, str] = {}
    if draw(st.booleans()) and draw(st.booleans()):
        extra["OEBPS/content.opf"] = draw(
            st.sampled_from(
                [
                    "<package><spine/></package>",
                    "<package><manifest><item id='a' href='../../../etc/passwd' "
                    "media-type='application/xhtml+xml'/></manifest><spine><itemref idref='a'/>"
                    "</spine></package>",
                    "<package><manifest/><spine><itemref idref='nope'/></spine></package>",
                    '<!DOCTYPE p [<!ENTITY a "aaaa">]><package>&a;</package>',
                ]
            )
            | prose(max_pieces=5)
        )
    if draw(st.booleans()) and draw(st.booleans()):
        extra["META-INF/container.xml"] = draw(prose(max_pieces=5) | st.just("<container/>"))
    return build_epub(nav=nav, ncx=ncx, chapters=bodies, extra=extra)


@st.composite
def mutated_epubs(draw: st.DrawFn) -> bytes:
    """A valid EPUB with bytes flipped, cut, or inserted (the zip structure broken)."""
    data = bytearray(build_epub())
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 2))
        at = draw(st.integers(0, len(data) - 1))
        if kind == 0:
            data[at] = draw(st.integers(0, 255))
        elif kind == 1:
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        if not data:
            break
    return bytes(data)


@st.composite
def odd_zips(draw: st.DrawFn) -> bytes:
    """Zips holding drawn file names and contents."""
    buffer = io.BytesIO()
    names = st.sampled_from(
        ["mimetype", "META-INF/container.xml", "OEBPS/content.opf", "c.opf", "../x", "/abs", "a"]
    ) | st.text(SAFE, min_size=1, max_size=10)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in draw(st.dictionaries(names, prose(max_pieces=5), max_size=4)).items():
            z.writestr(name, content)
    return buffer.getvalue()


epubs = st.one_of(generated_epubs(), mutated_epubs(), odd_zips(), st.binary(max_size=64))
