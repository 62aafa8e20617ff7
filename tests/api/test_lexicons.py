"""/v1/lexicons: a user's stored pronunciations, applied to every book they submit."""

from __future__ import annotations

import httpx

from tests.api.conftest import ADMIN, ALICE, BOB
from ttsqueue.backends import Backend
from ttsqueue.lexicons import MAX_LEXICONS_PER_USER
from ttsqueue.models import TaskKind

NAMES = {"name": "names", "entries": [{"grapheme": "Kvothe", "alias": "Kuh-voath"}]}


async def create(client: httpx.AsyncClient, headers: dict[str, str], body: object = None) -> str:
    r = await client.post("/v1/lexicons", json=body or NAMES, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_create_get_list_update_delete_own_only(client: httpx.AsyncClient) -> None:
    mine = await create(client, ALICE)
    r = await client.get(f"/v1/lexicons/{mine}", headers=ALICE)
    assert r.status_code == 200
    assert r.json()["entries"] == [
        {"grapheme": "Kvothe", "alias": "Kuh-voath", "phoneme": None, "match_case": False}
    ]
    assert r.json()["user_id"] == "alice"
    theirs = await create(client, BOB)

    for method in ("GET", "PUT", "DELETE"):  # someone else's is a 404, and stays as it was
        r = await client.request(method, f"/v1/lexicons/{theirs}", json=NAMES, headers=ALICE)
        assert r.status_code == 404, (method, r.text)
        assert r.json()["detail"][0]["loc"] == ["path", "lexicon_id"]
    assert [x["id"] for x in (await client.get("/v1/lexicons", headers=ALICE)).json()["items"]] == [
        mine
    ]

    changed = {"name": "renamed", "entries": [{"grapheme": "Io", "phoneme": "ˈaɪoʊ"}]}  # noqa: RUF001
    r = await client.put(f"/v1/lexicons/{mine}", json=changed, headers=ALICE)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "renamed" and r.json()["entries"][0]["phoneme"] == "ˈaɪoʊ"  # noqa: RUF001

    every = (await client.get("/v1/lexicons?all_users=true", headers=ADMIN)).json()["items"]
    assert {x["id"] for x in every} == {mine, theirs}
    bobs = (await client.get("/v1/lexicons?user=bob", headers=ADMIN)).json()["items"]
    assert [x["id"] for x in bobs] == [theirs]
    # all_users from a user who is not an admin: still only their own
    own = (await client.get("/v1/lexicons?all_users=true", headers=BOB)).json()["items"]
    assert [x["id"] for x in own] == [theirs]

    assert (await client.delete(f"/v1/lexicons/{mine}", headers=ALICE)).status_code == 204
    assert (await client.get(f"/v1/lexicons/{mine}", headers=ALICE)).status_code == 404
    assert (await client.delete(f"/v1/lexicons/{theirs}", headers=ADMIN)).status_code == 204


async def test_bad_lexicons_are_a_422_naming_the_field(client: httpx.AsyncClient) -> None:
    for body, loc in (
        (
            {"name": "x", "entries": [{"grapheme": "a(b", "alias": "x"}]},
            ["body", "entries", 0, "grapheme"],
        ),
        ({"name": "x", "entries": [{"grapheme": "a"}]}, ["body", "entries", 0]),
        ({"name": "", "entries": []}, ["body", "name"]),
        ({"name": "a\x07b", "entries": []}, ["body", "name"]),
    ):
        r = await client.post("/v1/lexicons", json=body, headers=ALICE)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == loc


async def test_the_number_of_lexicons_is_capped(client: httpx.AsyncClient) -> None:
    for _ in range(MAX_LEXICONS_PER_USER):
        await create(client, ALICE)
    r = await client.post("/v1/lexicons", json=NAMES, headers=ALICE)
    assert r.status_code == 429
    assert "lexicons" in r.json()["detail"][0]["msg"]
    await create(client, BOB)  # per user


async def test_stored_lexicons_apply_to_every_book_and_the_job_lexicon_wins(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await create(client, ALICE)
    await create(
        client, ALICE, {"name": "more", "entries": [{"grapheme": "Io", "alias": "Eye oh"}]}
    )
    body = {
        "chapters": [{"title": "One", "text": "Kvothe and Io met Bast."}],
        "lexicon": [{"grapheme": "io", "alias": "Ee oh"}],
    }
    r = await client.post("/v1/jobs", json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    r = await client.post("/v1/jobs", json=body | {"lexicon": None}, headers=BOB)  # not Bob's
    tasks = await backend.claim(worker_id="w", limit=10, lease_s=60)
    texts = {t.user_id: t.payload["text"] for t in tasks if t.kind is TaskKind.SYNTHESIZE}
    assert texts["alice"] == (
        '<speak><sub alias="Kuh-voath">Kvothe</sub> and '
        '<sub alias="Ee oh">Io</sub> met Bast.</speak>'
    )
    assert texts["bob"] == "Kvothe and Io met Bast."
