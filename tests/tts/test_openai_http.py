"""The OpenAI-compatible engine against a small speech server speaking that protocol."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ttsqueue import tts
from ttsqueue.models import Voice
from ttsqueue.tts import (
    EngineError,
    Speech,
    check_voice,
    engine_names,
    get_engine,
    synthesize_chunk,
)
from ttsqueue.tts.openai_http import OpenAIEngine
from ttsqueue.tts.wav import read_wav, to_wav

API_KEY = "sk-test-123"


@dataclass
class SpeechServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None


def _handler(state: SpeechServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), **body}
            )
            if self.path != "/v1/audio/speech":
                return self._reply(404, b'{"error": "not found"}', "application/json")
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                return self._reply(401, b'{"error": "bad key"}', "application/json")
            if state.fail_with:
                return self._reply(state.fail_with, b'{"error": "overloaded"}', "application/json")
            # Real speech: espeak-ng reads the input, at the requested speed.
            espeak = get_engine("espeak").synthesize(body["input"], Voice(speed=body["speed"]))
            if body["response_format"] == "pcm":
                return self._reply(200, espeak.pcm, "audio/pcm")
            return self._reply(200, to_wav(espeak), "audio/wav")

    return Handler


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    state = SpeechServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def configured(server: SpeechServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SpeechServer]:
    monkeypatch.setenv("TTSQUEUE_OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("TTSQUEUE_OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("TTSQUEUE_OPENAI_MODEL", "kokoro")
    monkeypatch.setenv("TTSQUEUE_OPENAI_VOICES", "af_bella, alloy")
    tts._engines.pop("openai", None)  # the engine reads its settings when created
    yield server
    engine = tts._engines.pop("openai", None)
    if isinstance(engine, OpenAIEngine):
        engine.close()


def test_not_available_without_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTSQUEUE_OPENAI_BASE_URL", raising=False)
    assert "openai" not in engine_names()
    assert "TTSQUEUE_OPENAI_BASE_URL" in (check_voice(Voice(engine="openai", name="alloy")) or "")


def test_speech_from_the_server(configured: SpeechServer) -> None:
    assert "openai" in engine_names()
    voice = Voice(engine="openai", name="af_bella", speed=1.25)
    assert check_voice(voice) is None
    speech = synthesize_chunk("openai", "Hello from the speech server.", voice.to_dict())
    assert speech.sample_rate == 22050
    assert speech.duration_s > 0.5
    [request] = configured.requests
    assert request == {
        "path": "/v1/audio/speech",
        "auth": f"Bearer {API_KEY}",
        "model": "kokoro",
        "input": "Hello from the speech server.",
        "voice": "af_bella",
        "response_format": "wav",
        "speed": 1.25,
    }
    local = get_engine("espeak").synthesize("Hello from the speech server.", Voice(speed=1.25))
    assert speech.duration_s == pytest.approx(local.duration_s, rel=0.1)


def test_speed_reaches_the_server(configured: SpeechServer) -> None:
    engine = get_engine("openai")
    text = "A sentence long enough that speaking it faster is clearly shorter."
    normal = engine.synthesize(text, Voice(engine="openai", name="alloy"))
    fast = engine.synthesize(text, Voice(engine="openai", name="alloy", speed=2.0))
    assert fast.duration_s < 0.7 * normal.duration_s


def test_pcm_response_format(server: SpeechServer) -> None:
    engine = OpenAIEngine(
        server.url + "/v1/", api_key=API_KEY, response_format="pcm", pcm_rate=22050
    )
    try:
        speech = engine.synthesize("Raw samples.", Voice(engine="openai", name="nova"))
    finally:
        engine.close()
    assert speech.sample_rate == 22050 and speech.duration_s > 0.3
    assert server.requests[0]["path"] == "/v1/audio/speech"  # no doubled /v1
    assert server.requests[0]["response_format"] == "pcm"


def test_unknown_voice_is_rejected_before_any_request(configured: SpeechServer) -> None:
    voice = Voice(engine="openai", name="shimmer")  # not in TTSQUEUE_OPENAI_VOICES
    assert check_voice(voice) == "unknown voice 'shimmer' for engine openai"
    with pytest.raises(EngineError, match="unknown voice"):
        get_engine("openai").synthesize("Hi.", voice)
    assert configured.requests == []


def test_server_errors_are_engine_errors(server: SpeechServer) -> None:
    wrong_key = OpenAIEngine(server.url, api_key="sk-wrong")
    server.fail_with = None
    try:
        with pytest.raises(EngineError, match="answered 401"):
            wrong_key.synthesize("Hi.", Voice(engine="openai", name="alloy"))
    finally:
        wrong_key.close()
    server.fail_with = 503
    engine = OpenAIEngine(server.url, api_key=API_KEY)
    try:
        with pytest.raises(EngineError, match=r"answered 503: .*overloaded"):
            engine.synthesize("Hi.", Voice(engine="openai", name="alloy"))
    finally:
        engine.close()


def test_unreachable_server() -> None:
    engine = OpenAIEngine("http://127.0.0.1:9", timeout_s=5)  # discard port: nothing listens
    try:
        with pytest.raises(EngineError, match="unreachable"):
            engine.synthesize("Hi.", Voice(engine="openai", name="alloy"))
    finally:
        engine.close()


def _wav(
    fmt: int, channels: int, rate: int, bits: int, data: bytes, size: int | None = None
) -> bytes:
    block = channels * bits // 8
    header = struct.pack(
        "<4sI4s4sIHHIIHH",
        b"RIFF",
        0,
        b"WAVE",
        b"fmt ",
        16,
        fmt,
        channels,
        rate,
        rate * block,
        block,
        bits,
    )
    extra = struct.pack("<4sI", b"LIST", 3) + b"abc\0"  # odd-sized chunk, padded
    return header + extra + struct.pack("<4sI", b"data", len(data) if size is None else size) + data


def test_read_wav_variants() -> None:
    speech = Speech(struct.pack("<4h", 0, 1000, -1000, 32767), 24000)
    assert read_wav(to_wav(speech)) == speech
    stereo = _wav(1, 2, 8000, 16, struct.pack("<4h", 100, 300, -100, -300))
    assert read_wav(stereo) == Speech(struct.pack("<2h", 200, -200), 8000)
    floats = _wav(3, 1, 8000, 32, struct.pack("<3f", 0.5, -1.0, 2.0))
    assert read_wav(floats) == Speech(struct.pack("<3h", 16383, -32767, 32767), 8000)
    streamed = _wav(1, 1, 8000, 16, struct.pack("<2h", 7, 8), size=0xFFFFFFFF)
    assert read_wav(streamed) == Speech(struct.pack("<2h", 7, 8), 8000)
    eight_bit = _wav(1, 1, 8000, 8, bytes([128, 255, 0]))
    assert read_wav(eight_bit) == Speech(struct.pack("<3h", 0, 127 << 8, -128 << 8), 8000)
    with pytest.raises(EngineError, match="not return a WAV"):
        read_wav(b'{"error": "json"}')
