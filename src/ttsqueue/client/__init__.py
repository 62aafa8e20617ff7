"""Python clients for the ttsqueue HTTP API: :class:`Client` (blocking) and
:class:`AsyncClient` (asyncio), over httpx, with the same calls::

    from ttsqueue.client import Client

    with Client("https://tts.example.com", token="tq_...") as tts:
        job = tts.add_job({"title": "Tales", "chapters": [{"title": "One", "text": "..."}]})
        for event in tts.events(job.id):  # live, resumed after a dropped connection
            print(event.seq, event.type)
        tts.download_audio(job.id, "tales.m4b")

Answers are the server's own response models (:mod:`ttsqueue.api.schemas`); an error
answer raises :class:`ClientError`.
"""

from ttsqueue.api.schemas import (
    BatchItem,
    BatchResult,
    ChapterIn,
    ChapterPublic,
    EventPublic,
    HealthPublic,
    JobCreate,
    JobPage,
    JobPublic,
    JobSummary,
    StatsPublic,
    VoiceIn,
    VoiceInfoPublic,
)
from ttsqueue.client._async import AsyncClient
from ttsqueue.client._calls import ClientError
from ttsqueue.client._sync import Client
from ttsqueue.models import JobStatus

__all__ = [
    "AsyncClient",
    "BatchItem",
    "BatchResult",
    "ChapterIn",
    "ChapterPublic",
    "Client",
    "ClientError",
    "EventPublic",
    "HealthPublic",
    "JobCreate",
    "JobPage",
    "JobPublic",
    "JobStatus",
    "JobSummary",
    "StatsPublic",
    "VoiceIn",
    "VoiceInfoPublic",
]
