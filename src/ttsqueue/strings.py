"""One rule for every string a caller sends: no NUL, no lone surrogate, no control
character. Text meant to be read aloud (a chapter) may hold line breaks and tabs.

Such characters cannot be stored by every store (PostgreSQL refuses NUL in text and
JSON, and no UTF-8 encoder takes a lone surrogate), and nothing can read them aloud, so
the API refuses them at the door (422 naming the field) instead of failing later.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# C0 controls, DEL, C1 controls and the surrogate range (only lone surrogates can occur
# in a Python str); in text, tab, line feed and carriage return are allowed.
_ANY = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def problem(value: str, *, text: bool = False) -> str | None:
    """What is wrong with ``value`` under the rule, or ``None`` when nothing is."""
    found = (_TEXT if text else _ANY).search(value)
    if found is None:
        return None
    char = found.group()
    code = ord(char)
    if code == 0:
        what = "a NUL character"
    elif 0xD800 <= code <= 0xDFFF:
        what = f"a lone surrogate (U+{code:04X})"
    else:
        what = f"the control character U+{code:04X}"
    allowed = "line breaks and tabs are the only" if text else "no"
    return f"contains {what} at position {found.start()}; {allowed} control characters allowed"


def walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string (keys included) inside JSON-like data, with a dotted path to it."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str):
                yield f"{path}.{k}", k
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}.{i}")
