"""Users' lexicons in SQLite: each call one transaction (``BEGIN IMMEDIATE``, so the
per-user count and the insert cannot interleave with another writer's)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

from ttsqueue.backends.base import LexiconLimit, LexiconNotFound
from ttsqueue.backends.sqlite_db import Q, transaction
from ttsqueue.models import StoredLexicon


def _from_row(row: sqlite3.Row) -> StoredLexicon:
    return StoredLexicon(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        entries=tuple(json.loads(row["entries"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def put_lexicon(conn: sqlite3.Connection, lexicon: StoredLexicon, cap: int) -> StoredLexicon:
    params = {
        "id": lexicon.id,
        "user_id": lexicon.user_id,
        "name": lexicon.name,
        "entries": json.dumps(list(lexicon.entries), ensure_ascii=False),
        "created_at": lexicon.created_at,
        "updated_at": lexicon.updated_at,
    }
    with transaction(conn):
        old = conn.execute(Q["lexicon_by_id"], {"id": lexicon.id}).fetchone()
        if old is not None:
            if old["user_id"] != lexicon.user_id:
                raise LexiconNotFound(lexicon.id)
            conn.execute(Q["update_lexicon"], params)
            return dataclasses.replace(lexicon, created_at=old["created_at"])
        count = conn.execute(Q["count_user_lexicons"], {"user_id": lexicon.user_id}).fetchone()
        if int(count[0]) >= cap:
            raise LexiconLimit(lexicon.user_id, cap)
        conn.execute(Q["insert_lexicon"], params)
        return lexicon


def get_lexicon(conn: sqlite3.Connection, lexicon_id: str) -> StoredLexicon | None:
    row = conn.execute(Q["lexicon_by_id"], {"id": lexicon_id}).fetchone()
    return None if row is None else _from_row(row)


def list_lexicons(conn: sqlite3.Connection, user_id: str | None) -> list[StoredLexicon]:
    if user_id is None:
        return [_from_row(r) for r in conn.execute(Q["all_lexicons"])]
    return [_from_row(r) for r in conn.execute(Q["lexicons_of_user"], {"user_id": user_id})]


def delete_lexicon(conn: sqlite3.Connection, lexicon_id: str) -> bool:
    with transaction(conn):
        return conn.execute(Q["delete_lexicon"], {"id": lexicon_id}).rowcount > 0
