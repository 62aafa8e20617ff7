"""Every row of readings.md: what a listener should hear for printed text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttsqueue.tts.text import normalize

TABLE = Path(__file__).with_name("readings.md")


def readings() -> list[tuple[str, str]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 2 or cells[0] in ("written", "---"):
            continue
        rows.append((cells[0], cells[1]))
    return rows


def test_the_table_is_read_whole() -> None:
    rows = readings()
    assert len(rows) >= 60
    assert len({w for w, _ in rows}) == len(rows), "a written form appears twice"


@pytest.mark.parametrize(("written", "script"), readings(), ids=lambda v: str(v)[:30])
def test_a_listener_hears(written: str, script: str) -> None:
    assert normalize(written) == script
