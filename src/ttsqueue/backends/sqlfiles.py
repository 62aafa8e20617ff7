"""Named query blocks and numbered migrations, read from package data.

A query file holds blocks that start with a ``-- name: NAME`` line; a migration is a
file ``NNN_description.sql``. Python code never holds SQL or Lua text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{3})_(\w+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def _dir(dialect: str) -> resources.abc.Traversable:
    return resources.files("ttsqueue.backends").joinpath("sql", dialect)


@cache
def queries(dialect: str, filename: str = "queries.sql") -> dict[str, str]:
    """All ``-- name:`` blocks of ``sql/<dialect>/<filename>``, by name."""
    text = _dir(dialect).joinpath(filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    blocks: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"{dialect}/{filename}: query {name!r} defined twice")
        blocks[name] = body.strip()
    return blocks


@cache
def migrations(dialect: str) -> tuple[Migration, ...]:
    """The dialect's migrations in version order; versions must run 1, 2, 3… with no gap."""
    found: list[Migration] = []
    for entry in _dir(dialect).joinpath("migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise ValueError(
                f"{dialect} migrations: expected version {expected}, found {migration.version}"
            )
    return tuple(found)


@cache
def lua(name: str) -> str:
    """The text of ``lua/<name>.lua``."""
    return (
        resources.files("ttsqueue.backends")
        .joinpath("lua", f"{name}.lua")
        .read_text(encoding="utf-8")
    )
