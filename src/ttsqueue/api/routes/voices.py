"""The voices the installed engines offer, and a short preview of each."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ttsqueue import tts
from ttsqueue.api.deps import CurrentUser, StateDep
from ttsqueue.api.errors import ApiError, responses
from ttsqueue.api.preview import DEFAULT_TEXT, MEDIA_TYPE, make_clip
from ttsqueue.api.schemas import VoiceInfoPublic
from ttsqueue.audio.loudness import Target
from ttsqueue.models import Voice
from ttsqueue.tts.base import MAX_SPEED, MIN_SPEED

router = APIRouter(tags=["voices"])

PREVIEW_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An MP3 clip of the voice",
        "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    },
    **responses(401, 404, 422, 429),
}


@router.get("/v1/voices", response_model=list[VoiceInfoPublic], responses=responses(401))
async def list_voices(user: CurrentUser) -> list[VoiceInfoPublic]:
    """Every voice of every available engine; `engine` and `name` go in a job's voice,
    `id` in a preview's address."""
    voices = await run_in_threadpool(tts.list_voices)
    return [
        VoiceInfoPublic(
            id=f"{v.engine}:{v.name}",
            engine=v.engine,
            name=v.name,
            language=v.language,
            gender=v.gender,
            description=v.description,
        )
        for v in voices
    ]


def _voice(voice_id: str, speed: float) -> Voice:
    engine, sep, name = voice_id.partition(":")
    voice = Voice(engine=engine, name=name, speed=speed)
    if not sep or not name or tts.check_voice(voice) is not None:
        raise ApiError(
            404,
            f"no voice {voice_id!r}: use an id from GET /v1/voices (engine:name)",
            loc=["path", "voice_id"],
            type="not_found",
        )
    return voice


@router.get(
    "/v1/voices/{voice_id}/preview",
    response_class=Response,
    responses=PREVIEW_RESPONSES,
    summary="Hear a voice",
)
async def preview(
    voice_id: Annotated[
        str, PathParam(min_length=1, max_length=300, description="engine:name, from /v1/voices")
    ],
    state: StateDep,
    user: CurrentUser,
    text: Annotated[
        str | None, Query(max_length=5000, description="what to read (a short default)")
    ] = None,
    speed: Annotated[float, Query(ge=MIN_SPEED, le=MAX_SPEED)] = 1.0,
) -> Response:
    """A short MP3 of the voice reading `text` (at most `TTSQUEUE_PREVIEW_MAX_CHARS`
    characters; the clip is cut at 20 seconds). The same preview asked again comes from
    a cache; new ones count against `TTSQUEUE_PREVIEWS_PER_MINUTE` (429 past it)."""
    limit = state.settings.preview_max_chars
    line = DEFAULT_TEXT if text is None or not text.strip() else text.strip()
    if len(line) > limit:
        raise ApiError(
            422,
            f"at most {limit} characters in a preview",
            loc=["query", "text"],
            type="string_too_long",
        )
    voice = await run_in_threadpool(_voice, voice_id, speed)
    key = (voice.engine, voice.name, voice.speed, line)
    clip = state.clips.get(key)
    if clip is None:
        wait = 0.0 if user.admin else state.previews.hit(user.id)
        if wait:
            raise ApiError(
                429,
                f"at most {state.previews.limit} voice previews per minute",
                type="rate_limited",
                headers={"Retry-After": state.previews.retry_after(wait)},
            )
        target = Target(state.settings.loudness_lufs, state.settings.true_peak_db)
        async with state.preview_slots:
            clip = await run_in_threadpool(make_clip, voice, line, target)
        state.clips.put(key, clip)
    return Response(
        clip, media_type=MEDIA_TYPE, headers={"Cache-Control": "private, max-age=86400"}
    )
