"""The voices the installed engines offer."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ttsqueue import tts
from ttsqueue.api.deps import CurrentUser
from ttsqueue.api.errors import responses
from ttsqueue.api.schemas import VoiceInfoPublic

router = APIRouter(tags=["voices"])


@router.get("/v1/voices", response_model=list[VoiceInfoPublic], responses=responses(401))
async def list_voices(user: CurrentUser) -> list[VoiceInfoPublic]:
    """Every voice of every available engine; `engine` and `name` go in a job's voice."""
    voices = await run_in_threadpool(tts.list_voices)
    return [
        VoiceInfoPublic(
            engine=v.engine,
            name=v.name,
            language=v.language,
            gender=v.gender,
            description=v.description,
        )
        for v in voices
    ]
