"""File housekeeping beside the store's own maintenance: the audio of pruned jobs,
directories that belong to no job, temporary files of killed workers.

The store is the truth about which jobs exist; the files follow it. Pruning deletes a
job's directory right after the store deleted the job; :func:`collect_garbage` catches
what a crash between the two (or a store that expires jobs by itself) left behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ttsqueue.backends.base import Backend
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

log = logging.getLogger("ttsqueue.maintenance")

# A job's directory appears before the job does (a cover is saved before enqueue), so
# a young directory without a job is not yet garbage.
ORPHAN_MIN_AGE_S = 600.0
# A temporary file no live process holds is debris; this age guards the writers that
# hold no lock (an older version during a rolling upgrade).
TEMP_MIN_AGE_S = 60.0
BATCH = 500  # directories checked against the store per round trip


@dataclass
class Collected:
    orphans: list[str] = field(default_factory=list)  # job directories removed
    temp_files: list[Path] = field(default_factory=list)  # temporary files removed


async def prune(backend: Backend, storage: Storage, settings: Settings) -> list[str]:
    """Delete the finished jobs past retention from the store, then their files."""
    cutoff = time.time() - settings.retention_days * 86400
    gone = await backend.prune(older_than=cutoff)
    await asyncio.to_thread(_delete_dirs, storage, gone)
    if gone:
        log.info("pruned %d finished jobs and their audio", len(gone))
    return gone


async def collect_garbage(
    backend: Backend,
    storage: Storage,
    *,
    orphan_min_age_s: float = ORPHAN_MIN_AGE_S,
    temp_min_age_s: float = TEMP_MIN_AGE_S,
) -> Collected:
    """Remove audio directories whose job the store does not know, and temporary files
    no live writer holds."""
    result = Collected()
    names = await asyncio.to_thread(storage.job_dirs, min_age_s=orphan_min_age_s)
    for at in range(0, len(names), BATCH):
        batch = names[at : at + BATCH]
        known = await backend.existing_jobs(batch)
        orphans = [name for name in batch if name not in known]
        await asyncio.to_thread(_delete_dirs, storage, orphans)
        result.orphans += orphans
    result.temp_files = await sweep_temp(storage, min_age_s=temp_min_age_s)
    if result.orphans:
        log.info("removed %d audio directories that belong to no job", len(result.orphans))
    return result


async def sweep_temp(storage: Storage, *, min_age_s: float = TEMP_MIN_AGE_S) -> list[Path]:
    swept = await asyncio.to_thread(storage.sweep_temp, min_age_s=min_age_s)
    if swept:
        log.info("removed %d temporary files of stopped writers", len(swept))
    return swept


def _delete_dirs(storage: Storage, job_ids: list[str]) -> None:
    for job_id in job_ids:
        storage.delete_job(job_id)
