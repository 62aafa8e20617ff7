"""The real CLI as separate processes: API processes and workers, each in its own
process group (a worker's synthesis pool dies with it, as on a crashed machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Proc:
    role: str  # "api" or "worker"
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None
    killed: bool = False  # SIGKILLed by the run

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)
    starts: int = 0

    def _spawn(self, role: str, args: list[str], extra: dict[str, str]) -> Proc:
        self.starts += 1
        name = f"{role}-{self.starts}"
        log = self.root / f"{name}.log"
        env = {**os.environ, **self.env, **extra, "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "ttsqueue", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
            )
        proc = Proc(role, name, popen, log)
        self.procs.append(proc)
        return proc

    def start_api(self, port: int) -> Proc:
        proc = self._spawn("api", ["api"], {"TTSQUEUE_PORT": str(port)})
        proc.port = port
        return proc

    def start_worker(self, concurrency: int) -> Proc:
        return self._spawn("worker", ["worker", "--concurrency", str(concurrency)], {})

    def live(self, role: str) -> list[Proc]:
        return [p for p in self.procs if p.role == role and p.alive]

    def kill(self, proc: Proc) -> None:
        """SIGKILL the process and everything it started."""
        proc.killed = True
        proc.signal_group(signal.SIGKILL)
        proc.popen.wait(10)

    def wait_api(self, proc: Proc, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive:
                raise AssertionError(f"{proc.name} exited:\n{tail(proc.log)}")
            try:
                r = httpx.get(f"http://127.0.0.1:{proc.port}/v1/health", timeout=2)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{proc.name} did not answer in {timeout}s:\n{tail(proc.log)}")

    def stop_all(self, grace_s: float) -> dict[str, int | None]:
        """SIGTERM every live process (SIGCONT first), then SIGKILL what is left.
        Returns each process's exit code (None: it had to be killed)."""
        codes: dict[str, int | None] = {}
        for p in self.procs:
            if p.killed:
                codes[p.name] = p.popen.returncode
                continue
            if p.alive:
                p.signal_group(signal.SIGCONT)
                p.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p in self.procs:
            if p.killed:
                continue
            try:
                code: int | None = p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                code = None
            p.signal_group(signal.SIGKILL)  # the process group, pool children too
            if code is None:
                p.popen.wait(10)
            codes[p.name] = code
        return codes

    def grep_logs(self, text: str) -> list[str]:
        """``text`` found in a process's log, with the lines before it."""
        out = []
        for p in self.procs:
            lines = p.log.read_text(errors="replace").splitlines() if p.log.exists() else []
            for i, line in enumerate(lines):
                if text in line:
                    out.append(f"{p.name}: " + "\n".join(lines[max(0, i - 10) : i + 1]))
                    break
        return out


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
