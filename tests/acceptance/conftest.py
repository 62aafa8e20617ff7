"""The real CLI, in subprocesses, on a SQLite store in a temporary directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.logcheck import logging_errors_in

pytestmark = pytest.mark.slow


@dataclass
class Cli:
    """Runs ``python -m ttsqueue`` with a private store and data directory."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "TTSQUEUE_DATABASE_URL": f"sqlite:///{self.root / 'queue.db'}",
                "TTSQUEUE_DATA_DIR": str(self.data_dir),
                "TTSQUEUE_LEASE_S": "3",
                "TTSQUEUE_HEARTBEAT_S": "0.5",
                "TTSQUEUE_REAP_INTERVAL_S": "0.5",
                "TTSQUEUE_POLL_INTERVAL_S": "0.2",
                "TTSQUEUE_RETRY_BASE_S": "0.2",
                "TTSQUEUE_SHUTDOWN_GRACE_S": "20",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def run(self, *args: str, input: str | None = None, timeout: float = 60) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "ttsqueue", *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        assert done.returncode == 0, f"ttsqueue {' '.join(args)} failed:\n{done.stderr}"
        return done.stdout

    def start(self, *args: str) -> subprocess.Popen[str]:
        with open(self.root / f"proc-{len(self.procs)}.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ttsqueue", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=self.root,
            )
        self.procs.append(proc)
        return proc

    def log_of(self, proc: subprocess.Popen[str]) -> str:
        return (self.root / f"proc-{self.procs.index(proc)}.log").read_text()

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(10)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    c = Cli(tmp_path)
    c.run("migrate")
    try:
        yield c
    finally:
        c.stop_all()
    errors = logging_errors_in(*sorted(tmp_path.glob("proc-*.log")))
    assert not errors, "a process logged a logging error:\n" + "\n".join(errors)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
