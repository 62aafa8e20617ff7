"""What clients do during a chaos run: users submit books (with idempotency keys, some
sent twice) to any API process, and an SSE follower per book reads its events to the
end, reconnecting with Last-Event-ID to another API process when its stream is cut."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ttsqueue.models import TERMINAL_EVENTS

SENTENCES = (
    "The keeper climbed the stairs at dusk and wound the clock with a brass key.",
    "Every morning it was exactly nine minutes slow, and nobody knew why.",
    "Rain drummed on the copper roof while the harbour lights went out one by one.",
    "She counted the ships twice, and each time there was one more than before.",
)


def book(rng: random.Random, title: str, chapters: int) -> dict[str, Any]:
    return {
        "title": title,
        "author": "Chaos Test",
        "output_format": "m4b",
        "voice": {"engine": "espeak", "name": "en-us", "speed": 1.6},
        "chapters": [
            {
                "title": f"Part {i + 1}",
                "text": " ".join(rng.sample(SENTENCES, rng.randint(2, 4))),
            }
            for i in range(chapters)
        ],
    }


@dataclass
class Accepted:
    key: str
    user: str
    job_id: str
    chapters: int
    resubmits: list[str] = field(default_factory=list)  # ids answered to the same key


@dataclass
class Frame:
    seq: int
    type: str
    at: float  # the event's time in the store
    received: float  # wall clock when the follower read it


@dataclass
class Follower:
    job_id: str
    user: str
    frames: list[Frame] = field(default_factory=list)
    reconnects: int = 0
    unavailable: int = 0  # answered 503 when (re)connecting
    cuts: list[tuple[int, float]] = field(default_factory=list)  # (API port, when) it ended
    problems: list[str] = field(default_factory=list)
    done: bool = False


class Traffic:
    def __init__(
        self,
        rng: random.Random,
        api_ports: Callable[[], list[int]],
        tokens: dict[str, str],
    ) -> None:
        self.rng = rng
        self._rng_lock = threading.Lock()
        self.api_ports = api_ports
        self.tokens = tokens
        self.accepted: list[Accepted] = []
        self.followers: list[Follower] = []
        self.submit_errors = 0  # attempts that got no answer or a 5xx, then retried
        self._threads: list[threading.Thread] = []
        self.stop = threading.Event()

    def _choice(self, seq: list[Any]) -> Any:
        with self._rng_lock:
            return self.rng.choice(seq)

    def _random(self) -> float:
        with self._rng_lock:
            return self.rng.random()

    def _port(self) -> int:
        while not self.stop.is_set():
            ports = self.api_ports()
            if ports:
                return int(self._choice(ports))
            time.sleep(0.1)
        raise RuntimeError("stopped")

    def _base(self) -> str:
        return f"http://127.0.0.1:{self._port()}"

    def _post(self, user: str, body: dict[str, Any], deadline: float) -> dict[str, Any]:
        """POST a book until an API process answers 200 or 201 (same idempotency key)."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"no API process accepted {body['idempotency_key']}")
            try:
                r = httpx.post(f"{self._base()}/v1/jobs", json=body, headers=headers, timeout=20)
                if r.status_code in (200, 201):
                    return dict(r.json())
                if r.status_code < 500:
                    raise AssertionError(f"submit refused: {r.status_code} {r.text}")
            except httpx.HTTPError:
                pass
            self.submit_errors += 1
            time.sleep(0.2 + self._random() * 0.3)

    def submit(self, user: str, key: str, body: dict[str, Any], deadline: float) -> Accepted:
        body = {**body, "idempotency_key": key}
        job = self._post(user, body, deadline)
        accepted = Accepted(key, user, str(job["id"]), len(body["chapters"]))
        self.accepted.append(accepted)
        self.follow(accepted)
        if self._random() < 0.3:  # a client that did not hear the answer sends it again
            accepted.resubmits.append(str(self._post(user, body, deadline)["id"]))
        return accepted

    def follow(self, accepted: Accepted) -> None:
        follower = Follower(accepted.job_id, accepted.user)
        self.followers.append(follower)
        t = threading.Thread(target=self._follow, args=(follower,), daemon=True)
        self._threads.append(t)
        t.start()

    def _follow(self, f: Follower) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[f.user]}"}
        timeout = httpx.Timeout(10.0, read=60.0)
        first = True
        while not f.done and not self.stop.is_set():
            if not first:
                f.reconnects += 1
                time.sleep(0.1 + self._random() * 0.2)
            first = False
            last = f.frames[-1].seq if f.frames else 0
            try:
                port = self._port()
            except RuntimeError:
                return
            try:
                with httpx.stream(
                    "GET",
                    f"http://127.0.0.1:{port}/v1/jobs/{f.job_id}/events",
                    headers={**headers, "Last-Event-ID": str(last)},
                    timeout=timeout,
                ) as r:
                    if r.status_code != 200:
                        r.read()
                        if r.status_code < 500:
                            f.problems.append(f"{r.status_code}: {r.text[:200]}")
                            return
                        f.unavailable += 1
                        continue
                    self._read(f, r)
            except httpx.HTTPError:
                pass
            if not f.done and not self.stop.is_set():
                f.cuts.append((port, time.time()))  # the stream ended early

    def _read(self, f: Follower, r: httpx.Response) -> None:
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
                continue
            if "data" in fields:
                data = json.loads(fields["data"])
                at = _timestamp(str(data["at"]))
                frame = Frame(int(fields["id"]), fields["event"], at, time.time())
                expected = f.frames[-1].seq + 1 if f.frames else 1
                if frame.seq != expected:
                    f.problems.append(f"got seq {frame.seq}, expected {expected}")
                f.frames.append(frame)
                if frame.type in {str(t) for t in TERMINAL_EVENTS}:
                    f.done = True
                    return
            fields = {}

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.stop.set()


def _timestamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
