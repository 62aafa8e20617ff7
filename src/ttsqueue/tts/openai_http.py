"""Any OpenAI-compatible speech server: ``POST {base_url}/v1/audio/speech``.

Configured from the environment: ``TTSQUEUE_OPENAI_BASE_URL`` (the engine exists only
when it is set), ``TTSQUEUE_OPENAI_API_KEY``, ``TTSQUEUE_OPENAI_MODEL`` (default
``tts-1``), ``TTSQUEUE_OPENAI_VOICES`` (comma-separated voice names the server offers;
OpenAI's by default), ``TTSQUEUE_OPENAI_RESPONSE_FORMAT`` (``wav``, the default, or
``pcm``: raw 16-bit mono at ``TTSQUEUE_OPENAI_PCM_RATE``, default 24000) and
``TTSQUEUE_OPENAI_TIMEOUT_S`` (default 120).

A 429 or 503 answer with ``Retry-After`` raises :class:`EngineBusy`: the worker gives
the chapter back until then without spending an attempt, and holds this engine's calls
back as long. Without the header it is an ordinary failure, retried with backoff.
"""

from __future__ import annotations

import math
import os
import threading
import time
from email.utils import parsedate_to_datetime

import httpx

from ttsqueue.models import Voice
from ttsqueue.tts.base import EngineBusy, EngineError, Speech, VoiceInfo
from ttsqueue.tts.wav import read_wav

MAX_RETRY_AFTER_S = 3600.0  # a server asking for longer is waited on for an hour


def retry_after_s(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), at
    most an hour; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
)  # fmt: skip


class OpenAIEngine:
    name = "openai"
    accepts_ssml = False  # OpenAI's API reads its input as plain text
    max_chunk_chars = 1000  # the API takes 4096; shorter requests fail and retry cheaper

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str = "tts-1",
        voice_names: tuple[str, ...] = OPENAI_VOICES,
        response_format: str = "wav",
        pcm_rate: int = 24000,
        timeout_s: float = 120.0,
    ) -> None:
        if response_format not in ("wav", "pcm"):
            raise EngineError(f"unsupported response format {response_format!r} (wav or pcm)")
        base = base_url.rstrip("/")
        self.url = (base if base.endswith("/v1") else base + "/v1") + "/audio/speech"
        self._api_key = api_key
        self.model = model
        self.voice_names = voice_names
        self.response_format = response_format
        self.pcm_rate = pcm_rate
        self.timeout_s = timeout_s
        self._client: httpx.Client | None = None
        self._client_pid = 0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> OpenAIEngine:
        base_url = os.environ.get("TTSQUEUE_OPENAI_BASE_URL")
        if not base_url:
            raise EngineError("engine 'openai' is not configured (set TTSQUEUE_OPENAI_BASE_URL)")
        voices = os.environ.get("TTSQUEUE_OPENAI_VOICES")
        try:
            return cls(
                base_url,
                api_key=os.environ.get("TTSQUEUE_OPENAI_API_KEY") or None,
                model=os.environ.get("TTSQUEUE_OPENAI_MODEL") or "tts-1",
                voice_names=tuple(v.strip() for v in voices.split(",") if v.strip())
                if voices
                else OPENAI_VOICES,
                response_format=os.environ.get("TTSQUEUE_OPENAI_RESPONSE_FORMAT") or "wav",
                pcm_rate=int(os.environ.get("TTSQUEUE_OPENAI_PCM_RATE") or 24000),
                timeout_s=float(os.environ.get("TTSQUEUE_OPENAI_TIMEOUT_S") or 120),
            )
        except ValueError as exc:
            raise EngineError(f"engine 'openai' is misconfigured: {exc}") from exc

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(
                engine=self.name,
                name=name,
                language="",
                gender=None,
                description=f"{self.model} voice {name}",
            )
            for name in self.voice_names
        ]

    def check_voice_name(self, name: str) -> str | None:
        return None if name in self.voice_names else f"unknown voice {name!r} for engine openai"

    def _http(self) -> httpx.Client:
        # One client per process: a client inherited through fork must not be shared.
        with self._lock:
            if self._client is None or self._client_pid != os.getpid():
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                self._client = httpx.Client(timeout=self.timeout_s, headers=headers)
                self._client_pid = os.getpid()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._client_pid == os.getpid():
                self._client.close()
            self._client = None

    def synthesize(self, text: str, voice: Voice) -> Speech:
        problem = self.check_voice_name(voice.name)
        if problem:
            raise EngineError(problem)
        if not text.strip():
            return Speech(b"", self.pcm_rate)
        body = {
            "model": self.model,
            "input": text,
            "voice": voice.name,
            "response_format": self.response_format,
            "speed": voice.speed,
        }
        try:
            response = self._http().post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise EngineError(f"speech server unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (429, 503):
            wait = retry_after_s(response.headers.get("Retry-After"))
            if wait is not None:
                raise EngineBusy(
                    f"speech server answered {response.status_code}, retry after {wait:.0f} s",
                    wait,
                )
        if response.status_code >= 400:
            detail = response.text.strip().replace("\n", " ")[:200]
            raise EngineError(f"speech server answered {response.status_code}: {detail}")
        if self.response_format == "pcm":
            data = response.content
            return Speech(data[: len(data) - len(data) % 2], self.pcm_rate)
        return read_wav(response.content)
