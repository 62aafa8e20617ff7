# IPA symbols look like Latin letters on purpose here.
# ruff: noqa: RUF001
"""A job's own lexicon: applied to its chapters before any worker reads them; bad
entries are a 422 naming the entry and field."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.conftest import ALICE
from ttsqueue.backends import Backend
from ttsqueue.models import TaskKind


async def chapter_texts(backend: Backend) -> list[str]:
    tasks = await backend.claim(worker_id="test-worker", limit=50, lease_s=60)
    return [
        str(t.payload["text"])
        for t in sorted(tasks, key=lambda t: t.index)
        if t.kind is TaskKind.SYNTHESIZE
    ]


async def test_the_lexicon_reaches_the_worker_in_the_chapter_text(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    body = {
        "title": "Lexicon",
        "chapters": [
            {"title": "One", "text": "Hermione met Kvothe."},
            {"title": "Two", "text": "Nobody here."},
        ],
        "lexicon": [
            {"grapheme": "Hermione", "phoneme": "hɜːˈmaɪəni"},
            {"grapheme": "Kvothe", "alias": "Kuh-voath"},
        ],
    }
    r = await client.post("/v1/jobs", json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    one, two = await chapter_texts(backend)
    assert one == (
        '<speak><phoneme alphabet="ipa" ph="hɜːˈmaɪəni">Hermione</phoneme> met '
        '<sub alias="Kuh-voath">Kvothe</sub>.</speak>'
    )
    assert two == "Nobody here."  # no match: as submitted


@pytest.mark.parametrize(
    ("entry", "loc"),
    [
        ({"grapheme": "a|b", "alias": "x"}, ["body", "lexicon", 0, "grapheme"]),
        ({"grapheme": "word"}, ["body", "lexicon", 0]),
        ({"grapheme": "word", "phoneme": "qq"}, ["body", "lexicon", 0, "phoneme"]),
        ({"grapheme": "word", "alias": "x" * 201}, ["body", "lexicon", 0, "alias"]),
    ],
)
async def test_bad_entries_are_a_422(
    client: httpx.AsyncClient, entry: dict[str, str], loc: list[object]
) -> None:
    body = {"chapters": [{"title": "One", "text": "word"}], "lexicon": [entry]}
    r = await client.post("/v1/jobs", json=body, headers=ALICE)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


async def test_an_upload_takes_its_lexicon_in_a_form_part(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    md = b"# Book\n\n## One\n\nKvothe sang.\n"
    lexicon = json.dumps([{"grapheme": "Kvothe", "alias": "Kuh-voath"}])
    r = await client.post(
        "/v1/jobs",
        files={"file": ("book.md", md, "text/markdown")},
        data={"lexicon": lexicon},
        headers=ALICE,
    )
    assert r.status_code == 201, r.text
    assert await chapter_texts(backend) == [
        '<speak><sub alias="Kuh-voath">Kvothe</sub> sang.</speak>'
    ]

    for bad, loc in (
        ("not json", ["body", "lexicon"]),
        ('[{"grapheme": "x"}]', ["body", "lexicon", 0]),
        ('[{"alias": "x"}]', ["body", "lexicon", 0, "grapheme"]),
    ):
        r = await client.post(
            "/v1/jobs",
            files={"file": ("book.md", md, "text/markdown")},
            data={"lexicon": bad},
            headers=ALICE,
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][: len(loc)] == loc
