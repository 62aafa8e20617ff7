"""Users' stored lexicons: the facade the API (``/v1/lexicons``) and the queue use.

A user keeps up to :data:`MAX_LEXICONS_PER_USER` lexicons (the store enforces the cap
atomically); every book they submit is read with all of them, oldest first, and then the
book's own lexicon, so a later entry for the same words wins. A user reads and changes
only their own; admins reach everyone's. Entries are checked with the rules of
:mod:`ttsqueue.tts.lexicon` before they are stored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ttsqueue import strings
from ttsqueue.backends.base import Backend, LexiconLimit, LexiconNotFound
from ttsqueue.models import StoredLexicon, User, new_id
from ttsqueue.queue import LimitExceeded, NotFound, QueueError
from ttsqueue.tts.lexicon import Entry, LexiconError, check_entries

MAX_LEXICONS_PER_USER = 20
MAX_NAME_CHARS = 200


def _checked(name: str, entries: Sequence[Entry]) -> tuple[dict[str, object], ...]:
    if not name.strip() or len(name) > MAX_NAME_CHARS:
        raise QueueError("name", f"1 to {MAX_NAME_CHARS} characters")
    if bad := strings.problem(name):
        raise QueueError("name", bad)
    try:
        return tuple(e.to_dict() for e in check_entries(entries, "entries"))
    except LexiconError as exc:
        raise QueueError(exc.field, exc.message) from None


class Lexicons:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def create(self, user: User, name: str, entries: Sequence[Entry]) -> StoredLexicon:
        now = time.time()
        lexicon = StoredLexicon(new_id(), user.id, name.strip(), _checked(name, entries), now, now)
        try:
            return await self.backend.put_lexicon(lexicon, max_per_user=MAX_LEXICONS_PER_USER)
        except LexiconLimit as exc:
            raise LimitExceeded(
                "max_lexicons", f"at most {exc.limit} lexicons per user; delete one first"
            ) from None

    async def get(self, user: User, lexicon_id: str) -> StoredLexicon:
        lexicon = await self.backend.get_lexicon(lexicon_id)
        if lexicon is None or not (user.admin or lexicon.user_id == user.id):
            raise NotFound("lexicon_id", f"no lexicon {lexicon_id}")
        return lexicon

    async def update(
        self, user: User, lexicon_id: str, name: str, entries: Sequence[Entry]
    ) -> StoredLexicon:
        old = await self.get(user, lexicon_id)
        checked = _checked(name, entries)
        new = StoredLexicon(old.id, old.user_id, name.strip(), checked, old.created_at, time.time())
        try:
            return await self.backend.put_lexicon(new, max_per_user=MAX_LEXICONS_PER_USER)
        except (LexiconNotFound, LexiconLimit):  # deleted meanwhile and the cap reached
            raise NotFound("lexicon_id", f"no lexicon {lexicon_id}") from None

    async def delete(self, user: User, lexicon_id: str) -> None:
        await self.get(user, lexicon_id)
        if not await self.backend.delete_lexicon(lexicon_id):
            raise NotFound("lexicon_id", f"no lexicon {lexicon_id}")

    async def list(
        self, user: User, *, owner: str | None = None, all_users: bool = False
    ) -> list[StoredLexicon]:
        """The caller's lexicons; admins may ask for one user's or everyone's."""
        if user.admin and all_users:
            return await self.backend.list_lexicons(None)
        return await self.backend.list_lexicons(owner if user.admin and owner else user.id)
