"""The worker's side of tracing: each job's trace, continued from its enqueue.

The API's enqueue span leaves its context in the job's metadata (``traceparent``); a
worker reads it once per job (while tracing is on, never otherwise) and makes the
claim, synthesize and assemble spans its children. See :mod:`ttsqueue.tracing`.
"""

from __future__ import annotations

import logging

from ttsqueue import tracing
from ttsqueue.backends.base import Backend
from ttsqueue.models import ClaimedTask

log = logging.getLogger("ttsqueue.worker")

MAX_REMEMBERED = 10_000


class JobTraces:
    def __init__(self, backend: Backend, worker_id: str) -> None:
        self.backend = backend
        self.worker_id = worker_id
        self._parents: dict[str, str | None] = {}  # job id -> traceparent

    async def claimed(self, task: ClaimedTask, claimed_during: tuple[float, float]) -> str | None:
        """The task's trace (None while tracing is off, or for a job without one), with
        a span for the claim call that took it (``claimed_during``: wall clock)."""
        if not tracing.enabled():
            return None
        parent = await self._parent(task.job_id)
        start, end = claimed_during
        if end:
            tracing.record(
                "ttsqueue.claim",
                parent=parent,
                start=start,
                end=end,
                **{"ttsqueue.job_id": task.job_id, "ttsqueue.worker_id": self.worker_id},
            )
        return parent

    async def _parent(self, job_id: str) -> str | None:
        if job_id in self._parents:
            return self._parents[job_id]
        if len(self._parents) >= MAX_REMEMBERED:
            self._parents.clear()
        try:
            job = await self.backend.get(job_id)
        except Exception as exc:  # tracing never stops the work
            log.warning("no trace for job %s: %s", job_id, exc)
            return None
        value = job.metadata.get(tracing.TRACEPARENT) if job is not None else None
        parent = self._parents[job_id] = str(value) if value else None
        return parent
