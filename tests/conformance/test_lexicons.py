"""A user's stored lexicons: create, read, list, update, delete, and the per-user cap
held by the store under concurrent creation."""

from __future__ import annotations

import asyncio

import pytest

from ttsqueue.backends import Backend
from ttsqueue.backends.base import LexiconLimit, LexiconNotFound
from ttsqueue.models import StoredLexicon, new_id

ENTRIES = ({"grapheme": "Hermione", "phoneme": "hɜːˈmaɪəni"}, {"grapheme": "Dr", "alias": "Doctor"})  # noqa: RUF001


def lexicon(
    user: str = "alice", name: str = "names", at: float = 100.0, **kw: object
) -> StoredLexicon:
    fields: dict[str, object] = {
        "id": new_id(),
        "user_id": user,
        "name": name,
        "entries": ENTRIES,
        "created_at": at,
        "updated_at": at,
    }
    fields.update(kw)
    return StoredLexicon(**fields)  # type: ignore[arg-type]


async def test_create_get_list_update_delete(backend: Backend) -> None:
    first = await backend.put_lexicon(lexicon(at=100.0), max_per_user=5)
    second = await backend.put_lexicon(lexicon(name="places", at=101.0), max_per_user=5)
    other = await backend.put_lexicon(lexicon("bob", at=99.0), max_per_user=5)
    assert await backend.get_lexicon(first.id) == first
    assert (await backend.get_lexicon(first.id)).entries == ENTRIES  # type: ignore[union-attr]
    assert await backend.get_lexicon("no-such-id") is None
    assert [x.id for x in await backend.list_lexicons("alice")] == [first.id, second.id]
    assert [x.id for x in await backend.list_lexicons(None)] == [other.id, first.id, second.id]

    changed = await backend.put_lexicon(
        lexicon(id=first.id, name="renamed", entries=(ENTRIES[1],), at=200.0), max_per_user=5
    )
    assert (changed.name, changed.entries, changed.created_at, changed.updated_at) == (
        "renamed",
        (ENTRIES[1],),
        100.0,
        200.0,
    )
    assert await backend.get_lexicon(first.id) == changed

    with pytest.raises(LexiconNotFound):  # another user's id
        await backend.put_lexicon(lexicon("bob", id=first.id), max_per_user=5)
    assert (await backend.get_lexicon(first.id)) == changed

    assert await backend.delete_lexicon(first.id) is True
    assert await backend.delete_lexicon(first.id) is False
    assert [x.id for x in await backend.list_lexicons("alice")] == [second.id]


async def test_the_cap_holds_under_concurrent_creation(backend: Backend) -> None:
    results = await asyncio.gather(
        *(backend.put_lexicon(lexicon(at=float(i)), max_per_user=3) for i in range(12)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, StoredLexicon) for r in results) == 3
    assert all(isinstance(r, StoredLexicon | LexiconLimit) for r in results), results
    assert len(await backend.list_lexicons("alice")) == 3
    # an update of an existing one is not a new one
    kept = (await backend.list_lexicons("alice"))[0]
    await backend.put_lexicon(lexicon(id=kept.id, name="again"), max_per_user=3)
    assert await backend.put_lexicon(lexicon("bob"), max_per_user=3)
