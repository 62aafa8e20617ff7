"""The SLA report /metrics shows: cached, refreshed in the background."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ttsqueue import analytics, metrics
from ttsqueue.settings import Settings

if TYPE_CHECKING:
    from ttsqueue.backends.base import Backend

log = logging.getLogger("ttsqueue.api")

SLA_CACHE_S = 30.0


class SlaCache:
    """The last SLA report and a single background refresh."""

    def __init__(self, max_age_s: float = SLA_CACHE_S) -> None:
        self.max_age_s = max_age_s
        self.report: analytics.SlaReport | None = None
        self.at = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    def put(self, report: analytics.SlaReport) -> None:
        self.report, self.at = report, time.monotonic()
        metrics.record_sla(report)

    def current(self, backend: Backend, settings: Settings) -> analytics.SlaReport | None:
        """The cached report; starts a refresh when it is missing or old."""
        stale = self.report is None or time.monotonic() - self.at > self.max_age_s
        if stale and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.create_task(self._refresh(backend, settings))
        return self.report

    async def _refresh(self, backend: Backend, settings: Settings) -> None:
        try:
            self.put(await analytics.sla(backend, settings))
        except Exception as exc:  # the next scrape tries again
            log.warning("SLA refresh for /metrics failed: %s", exc)
