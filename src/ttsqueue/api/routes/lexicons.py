"""Lexicons: a user's stored pronunciations, applied to every book they submit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from ttsqueue.api.deps import CurrentUser, QueueDep
from ttsqueue.api.errors import responses
from ttsqueue.api.schemas import LexiconIn, LexiconList, LexiconPublic
from ttsqueue.api.submit import lexicon_entries
from ttsqueue.lexicons import Lexicons
from ttsqueue.models import StoredLexicon

router = APIRouter(prefix="/v1/lexicons", tags=["lexicons"])

LexiconId = Annotated[str, Path(min_length=1, max_length=100, description="the lexicon's id")]


def get_lexicons(queue: QueueDep) -> Lexicons:
    return Lexicons(queue.backend)


LexiconsDep = Annotated[Lexicons, Depends(get_lexicons)]


def _public(lexicon: StoredLexicon) -> LexiconPublic:
    return LexiconPublic.model_validate(
        {
            "id": lexicon.id,
            "user_id": lexicon.user_id,
            "name": lexicon.name,
            "entries": list(lexicon.entries),
            "created_at": datetime.fromtimestamp(lexicon.created_at, UTC),
            "updated_at": datetime.fromtimestamp(lexicon.updated_at, UTC),
        }
    )


@router.post(
    "", status_code=201, response_model=LexiconPublic, responses=responses(400, 401, 413, 422, 429)
)
async def create_lexicon(
    body: LexiconIn, lexicons: LexiconsDep, user: CurrentUser
) -> LexiconPublic:
    """Store a lexicon; every book you submit from now on is read with it (at most 20
    lexicons per user: 429 beyond)."""
    return _public(await lexicons.create(user, body.name, lexicon_entries(body.entries)))


@router.get("", response_model=LexiconList, responses=responses(401))
async def list_lexicons(
    lexicons: LexiconsDep,
    user: CurrentUser,
    all_users: Annotated[bool, Query(description="admins: every user's")] = False,
    owner: Annotated[
        str | None, Query(alias="user", max_length=200, description="admins: this user's")
    ] = None,
) -> LexiconList:
    """Your lexicons, oldest first (the order they are applied in: a later entry for the
    same words wins)."""
    found = await lexicons.list(user, owner=owner, all_users=all_users)
    return LexiconList(items=[_public(x) for x in found])


@router.get("/{lexicon_id}", response_model=LexiconPublic, responses=responses(401, 404))
async def get_lexicon(
    lexicon_id: LexiconId, lexicons: LexiconsDep, user: CurrentUser
) -> LexiconPublic:
    """One of your lexicons (someone else's is a 404)."""
    return _public(await lexicons.get(user, lexicon_id))


@router.put(
    "/{lexicon_id}", response_model=LexiconPublic, responses=responses(400, 401, 404, 413, 422)
)
async def update_lexicon(
    lexicon_id: LexiconId, body: LexiconIn, lexicons: LexiconsDep, user: CurrentUser
) -> LexiconPublic:
    """Replace a lexicon's name and entries."""
    return _public(
        await lexicons.update(user, lexicon_id, body.name, lexicon_entries(body.entries))
    )


@router.delete("/{lexicon_id}", status_code=204, responses=responses(401, 404))
async def delete_lexicon(
    lexicon_id: LexiconId, lexicons: LexiconsDep, user: CurrentUser
) -> Response:
    """Delete a lexicon; books submitted later are read without it."""
    await lexicons.delete(user, lexicon_id)
    return Response(status_code=204)
