"""Users' lexicons in PostgreSQL. A create takes a per-user advisory lock for its
transaction, so the count and the insert of concurrent creates (from any process)
cannot interleave."""

from __future__ import annotations

import dataclasses
from typing import Any

from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from ttsqueue.backends.base import LexiconLimit, LexiconNotFound
from ttsqueue.backends.postgres_conn import QB, Conn, Database
from ttsqueue.models import StoredLexicon


def _from_row(row: DictRow) -> StoredLexicon:
    return StoredLexicon(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        entries=tuple(row["entries"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


async def put_lexicon(db: Database, lexicon: StoredLexicon, cap: int) -> StoredLexicon:
    params: dict[str, Any] = {
        "id": lexicon.id,
        "user_id": lexicon.user_id,
        "name": lexicon.name,
        "entries": Jsonb(list(lexicon.entries)),
        "created_at": lexicon.created_at,
        "updated_at": lexicon.updated_at,
    }

    async def work(conn: Conn) -> StoredLexicon:
        async with conn.transaction():
            await conn.execute(QB["lock_user_lexicons"], params)
            cur = await conn.execute(QB["lexicon_by_id"], params)
            old = await cur.fetchone()
            if old is not None:
                if old["user_id"] != lexicon.user_id:
                    raise LexiconNotFound(lexicon.id)
                await conn.execute(QB["update_lexicon"], params)
                return dataclasses.replace(lexicon, created_at=float(old["created_at"]))
            cur = await conn.execute(QB["count_user_lexicons"], params)
            count = await cur.fetchone()
            if count is not None and int(count["n"]) >= cap:
                raise LexiconLimit(lexicon.user_id, cap)
            await conn.execute(QB["insert_lexicon"], params)
            return lexicon

    return await db.run(work)


async def get_lexicon(db: Database, lexicon_id: str) -> StoredLexicon | None:
    row = await db.one("lexicon_by_id", {"id": lexicon_id})
    return None if row is None else _from_row(row)


async def list_lexicons(db: Database, user_id: str | None) -> list[StoredLexicon]:
    if user_id is None:
        return [_from_row(r) for r in await db.all("all_lexicons")]
    return [_from_row(r) for r in await db.all("lexicons_of_user", {"user_id": user_id})]


async def delete_lexicon(db: Database, lexicon_id: str) -> bool:
    return await db.execute("delete_lexicon", {"id": lexicon_id}) > 0
