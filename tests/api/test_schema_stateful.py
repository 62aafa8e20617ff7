"""The job routes' success paths against the OpenAPI document, with real job ids.

A Hypothesis state machine creates jobs (bodies generated from the schema, and books
built to be accepted), plays the worker, and calls every route that takes a job id —
get, list, events (SSE), book and chapter audio, cancel, retry, priority, the legacy
routes and the admin view — in generated orders. Every response goes through
schemathesis' checks (status code, content type, headers and body as documented, no
5xx), and each call must also give the status the job's state calls for, so the 2xx
answers are really reached and validated. Bounded: ``RUNS`` sequences of up to
``STEPS`` calls each (the count is in the settings below).
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.api.conftest import SECRET, make_jwt, run_job
from ttsqueue.api.app import create_app
from ttsqueue.backends import open_backend
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

RUNS = 100
STEPS = 14

_ROOT = Path(tempfile.mkdtemp(prefix="ttsqueue-schema-stateful-"))
atexit.register(shutil.rmtree, _ROOT, True)
SETTINGS = Settings(
    _env_file=None,  # type: ignore[call-arg]
    database_url=f"sqlite:///{_ROOT / 'queue.db'}",
    data_dir=_ROOT / "data",
    jwt_secret=SECRET,
    default_format="mp3",
    max_body_bytes=256 * 1024,
    submissions_per_minute=1_000_000,
    max_active_jobs=1_000_000,
)
app = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
USER = {"Authorization": f"Bearer {make_jwt('stateful-user', exp_in=24 * 3600)}"}
ADMIN = {"Authorization": f"Bearer {make_jwt('stateful-admin', role='service_role', exp_in=86400)}"}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]
FORMATS = ("mp3", "m4b", "opus", "wav")
TERMINAL = {"completed", "failed", "cancelled"}
reached: dict[tuple[str, str], set[int]] = {}  # (method, path) -> statuses seen
calls = [0]  # validated calls made
runs = [0]


def call(method: str, path: str, headers: dict[str, str] = USER, **parts: Any) -> Any:
    case = schema[path][method].Case(headers=dict(headers), **parts)
    response = case.call_and_validate(checks=CHECKS)
    reached.setdefault((method, path), set()).add(response.status_code)
    calls[0] += 1
    return response


def play_worker(job_id: str, fmt: str) -> None:
    """Claim and complete tasks (of whichever of the user's jobs come first, within the
    user's concurrency cap) until this job is finished."""

    async def run() -> None:
        async with open_backend(SETTINGS.database_url) as backend:
            storage = Storage(SETTINGS.audio_dir)
            for _ in range(50):  # each round finishes up to 20 claims' worth of tasks
                try:
                    await run_job(backend, storage, job_id, fmt)
                    return
                except AssertionError:
                    continue  # the user's older jobs went first
            raise AssertionError(f"job {job_id} did not finish")

    asyncio.run(run())


books = st.builds(
    lambda chapters, fmt, priority: {
        "title": "A Generated Book",
        "author": "A. Writer",
        "output_format": fmt,
        "priority": priority,
        "chapters": [{"title": f"Part {i}", "text": f"Words of part {i}."} for i in chapters],
    },
    st.lists(st.integers(1, 99), min_size=1, max_size=3),
    st.sampled_from(FORMATS),
    st.integers(0, 9),
)


class JobRoutes(RuleBasedStateMachine):
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        # A user of its own for every run: its listings and backlog are this run's.
        runs[0] += 1
        USER["Authorization"] = f"Bearer {make_jwt(f'stateful-{runs[0]}', exp_in=86400)}"
        self.status: dict[str, str] = {}
        self.format: dict[str, str] = {}
        self.chapters: dict[str, int] = {}

    def _created(self, body: dict[str, Any]) -> Any:
        job = body
        self.status[job["id"]] = job["status"]
        self.format[job["id"]] = job["output_format"]
        self.chapters[job["id"]] = job["total_chapters"]
        return job["id"]

    @initialize(target=jobs, body=books)
    def first_book(self, body: dict[str, Any]) -> Any:
        return self.create_book(body)

    @rule(target=jobs, body=books)
    def create_book(self, body: dict[str, Any]) -> Any:
        r = call("POST", "/v1/jobs", body=body, media_type="application/json")
        assert r.status_code == 201, r.text
        return self._created(r.json())

    @rule(target=jobs, data=st.data())
    def create_generated(self, data: st.DataObject) -> Any:
        case = data.draw(schema["/v1/jobs"]["POST"].as_strategy())
        case.headers = {**(case.headers or {}), **USER}
        r = case.call_and_validate(checks=CHECKS)
        reached.setdefault(("POST", "/v1/jobs"), set()).add(r.status_code)
        assert r.status_code < 500
        if r.status_code in (200, 201) and isinstance(r.json(), dict):
            return self._created(r.json())
        return multiple()

    @rule(job=jobs)
    def get(self, job: str) -> None:
        r = call("GET", "/v1/jobs/{job_id}", path_parameters={"job_id": job})
        assert r.status_code == 200
        assert r.json()["id"] == job
        self.status[job] = r.json()["status"]

    def _refresh(self, job: str, finish: bool) -> None:
        if finish:
            self.work(job)
        else:
            self.get(job)

    @rule(job=jobs)
    def admin_get(self, job: str) -> None:
        r = call("GET", "/v1/admin/jobs/{job_id}", ADMIN, path_parameters={"job_id": job})
        assert r.status_code == 200 and r.json()["job"]["id"] == job

    @rule(job=jobs)
    def legacy_get(self, job: str) -> None:
        r = call("GET", "/api/tts/queue", query={"jobId": job})
        assert r.status_code == 200

    @rule(status=st.sampled_from([None, "queued", "completed", "cancelled"]))
    def list_jobs(self, status: str | None) -> None:
        query = {"limit": 5} if status is None else {"limit": 5, "status": status}
        r = call("GET", "/v1/jobs", query=query)
        assert r.status_code == 200

    @rule(job=jobs)
    def work(self, job: str) -> None:
        self.get(job)
        if self.status[job] in ("queued", "processing", "assembling"):
            play_worker(job, self.format[job])
            self.get(job)
            assert self.status[job] == "completed"

    @rule(job=jobs, finish=st.booleans())
    def events(self, job: str, finish: bool) -> None:
        self._refresh(job, finish)
        if self.status[job] not in TERMINAL:
            return  # a live stream ends only with the job
        r = call("GET", "/v1/jobs/{job_id}/events", path_parameters={"job_id": job})
        assert r.status_code == 200
        assert "text/event-stream" in str(r.headers.get("content-type"))
        assert f"event: job.{self.status[job]}" in r.text

    @rule(job=jobs, finish=st.booleans())
    def book_audio(self, job: str, finish: bool) -> None:
        self._refresh(job, finish)
        r = call("GET", "/v1/jobs/{job_id}/audio", path_parameters={"job_id": job})
        assert r.status_code == (200 if self.status[job] == "completed" else 404), r.text
        if r.status_code == 200:
            assert len(r.content) > 0

    @rule(job=jobs, finish=st.booleans(), data=st.data())
    def chapter_audio(self, job: str, finish: bool, data: st.DataObject) -> None:
        self._refresh(job, finish)
        n = data.draw(st.integers(1, self.chapters[job]))
        r = call(
            "GET",
            "/v1/jobs/{job_id}/chapters/{n}/audio",
            path_parameters={"job_id": job, "n": n},
        )
        assert r.status_code == (200 if self.status[job] == "completed" else 404), r.text

    @rule(target=jobs, body=books, legacy=st.booleans())
    def create_and_cancel(self, body: dict[str, Any], legacy: bool) -> Any:
        job = self.create_book(body)
        self.cancel(job, legacy)
        self.cancel(job, not legacy)  # already cancelled: 409 by either route
        return job

    @rule(job=jobs, legacy=st.booleans())
    def cancel(self, job: str, legacy: bool) -> None:
        self.get(job)
        if legacy:
            r = call("DELETE", "/api/tts/queue", query={"jobId": job})
        else:
            r = call("DELETE", "/v1/jobs/{job_id}", path_parameters={"job_id": job})
        assert r.status_code == (409 if self.status[job] in TERMINAL else 200), r.text
        self.get(job)
        if r.status_code == 200:
            assert self.status[job] == "cancelled"

    @rule(job=jobs)
    def retry(self, job: str) -> None:
        self.get(job)
        r = call("POST", "/v1/jobs/{job_id}/retry", path_parameters={"job_id": job})
        retryable = self.status[job] in ("failed", "cancelled")
        assert r.status_code == (200 if retryable else 409), r.text
        self.get(job)
        if retryable:
            assert self.status[job] in ("queued", "scheduled")

    @rule(job=jobs, priority=st.integers(0, 99))
    def set_priority(self, job: str, priority: int) -> None:
        self.get(job)
        r = call(
            "PATCH",
            "/v1/jobs/{job_id}",
            ADMIN,
            path_parameters={"job_id": job},
            body={"priority": priority},
            media_type="application/json",
        )
        assert r.status_code == (409 if self.status[job] in TERMINAL else 200), r.text

    @precondition(lambda self: bool(self.status))
    @invariant()
    def statuses_are_known(self) -> None:
        assert set(self.status.values()) <= TERMINAL | {
            "queued", "scheduled", "processing", "assembling"
        }  # fmt: skip


SETTINGS_RUN = settings(
    max_examples=RUNS,
    stateful_step_count=STEPS,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, unshrunk
)


def test_every_job_route_answers_2xx_as_documented() -> None:
    run_state_machine_as_test(JobRoutes, settings=SETTINGS_RUN)
    success = {op for op, codes in reached.items() if any(200 <= c < 300 for c in codes)}
    job_routes = {
        ("GET", "/v1/jobs/{job_id}"),
        ("DELETE", "/v1/jobs/{job_id}"),
        ("PATCH", "/v1/jobs/{job_id}"),
        ("POST", "/v1/jobs/{job_id}/retry"),
        ("GET", "/v1/jobs/{job_id}/events"),
        ("GET", "/v1/jobs/{job_id}/audio"),
        ("GET", "/v1/jobs/{job_id}/chapters/{n}/audio"),
        ("GET", "/v1/admin/jobs/{job_id}"),
        ("GET", "/api/tts/queue"),
        ("DELETE", "/api/tts/queue"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
    }
    assert job_routes <= success, sorted(job_routes - success)
    assert calls[0] >= 10 * RUNS  # sequences long enough to matter
