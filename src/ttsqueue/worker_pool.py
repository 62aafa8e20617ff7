"""Process slots for the worker, and the time limit each task runs under.

A worker's synthesis runs in child processes. A plain process pool cannot stop one call:
an engine that hangs (a speech server that never answers, a stuck native library) keeps
its process, and the worker's heartbeat keeps that task's lease alive for ever. So each
concurrency slot is its own one-process executor: a task holds one slot while it runs,
and when it passes its time limit the slot's process is killed and replaced, the other
slots carry on untouched, and the task fails with an error the user sees (and is
retried like any failure).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ttsqueue.models import ClaimedTask, TaskKind
from ttsqueue.settings import Settings

log = logging.getLogger("ttsqueue.worker")

KILL_WAIT_S = 5.0


class TaskTimeout(Exception):
    """A task ran past its time limit and was stopped."""


def time_limit(task: ClaimedTask, settings: Settings) -> float:
    """Seconds ``task`` may run: a fixed part plus, for a chapter, a part per 1000
    characters of its text at its engine's rate (``task_timeout_per_kchar_s``, or that
    engine's entry in ``task_timeout_per_kchar_by_engine``). An assemble task gets the
    fixed part plus ``assemble_timeout_s``."""
    if task.kind is TaskKind.ASSEMBLE:
        return settings.task_timeout_base_s + settings.assemble_timeout_s
    voice = task.payload.get("voice")
    engine = str(voice.get("engine", "")) if isinstance(voice, dict) else ""
    per_kchar = settings.task_timeout_per_kchar_by_engine.get(
        engine, settings.task_timeout_per_kchar_s
    )
    chars = len(str(task.payload.get("text", "")))
    return settings.task_timeout_base_s + per_kchar * chars / 1000.0


def _slot_init() -> None:
    # Ctrl-C reaches the whole process group; only the parent decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _new_executor() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_slot_init,
    )


class ProcessSlots:
    """``size`` one-process executors; a task checks one out for its whole run."""

    def __init__(self, size: int) -> None:
        self._executors = [_new_executor() for _ in range(size)]
        self._free = list(range(size))
        self.killed = 0

    def checkout(self) -> int:
        """A free slot's number. The worker never runs more tasks than it has slots."""
        return self._free.pop()

    def checkin(self, slot: int) -> None:
        self._free.append(slot)

    def executor(self, slot: int) -> ProcessPoolExecutor:
        return self._executors[slot]

    def pids(self, slot: int) -> list[int]:
        """The process ids running in ``slot`` (none before its first call)."""
        processes: dict[int, Any] = getattr(self._executors[slot], "_processes", None) or {}
        return list(processes)

    def kill(self, slot: int) -> None:
        """Kill the process in ``slot`` and put a fresh executor in its place."""
        old = self._executors[slot]
        self._executors[slot] = _new_executor()
        self.killed += 1
        _kill_executor(old)

    def shutdown(self) -> None:
        """Stop every slot; a call still running (a hung engine) is killed."""
        for executor in self._executors:
            _kill_executor(executor)


def _kill_executor(executor: ProcessPoolExecutor) -> None:
    processes: dict[int, Any] = dict(getattr(executor, "_processes", None) or {})
    for process in processes.values():
        with contextlib.suppress(Exception):
            process.kill()
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes.values():
        with contextlib.suppress(Exception):
            process.join(KILL_WAIT_S)
    if processes:
        log.info("killed pool process(es) %s", ", ".join(str(p) for p in processes))
