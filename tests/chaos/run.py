"""One chaos run: books from several users flow through API processes and workers
(the real CLI) while workers and API processes are SIGKILLed at random moments, a
worker is frozen past its lease, and the store suffers its faults; then the
invariants are checked and the recovery measured. The seed decides every choice, so a
failing run can be replayed with ``python -m tests.chaos --store S --seed N``."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from tests.chaos.cluster import Cluster, Proc, tail
from tests.chaos.invariants import Findings, run_checks, temp_files
from tests.chaos.measure import Measured, measure
from tests.chaos.stores import STORES, ChaosStore
from tests.chaos.traffic import Traffic, book
from tests.logcheck import logging_errors_in
from ttsqueue.backends import open_backend
from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.models import JobFilter, JobStatus, TaskStatus

LEASE_S = 3.0
SECRET = "chaos-secret-that-is-long-enough-for-hs256-0123456789"


@dataclass(frozen=True)
class Plan:
    store: str
    seed: int
    books: int = 40
    users: int = 5
    apis: int = 2
    workers: int = 3
    worker_concurrency: int = 2
    worker_kills: int = 12
    api_kills: int = 2
    freezes: int = 1
    store_fault_rounds: int = 2  # every fault of the store, this many times
    fault_s: float = 3.0  # how long an outage, a stall or a write lock lasts
    gap_s: tuple[float, float] = (0.5, 2.5)  # between two faults
    timeout_s: float = 600.0


@dataclass
class FaultRecord:
    kind: str
    start: float  # wall clock
    end: float
    victim_pid: int | None = None
    port: int | None = None  # a killed API process's port
    healed: float | None = None  # when the killed API process answered again


@dataclass
class Outcome:
    plan: Plan
    findings: Findings
    faults: list[FaultRecord]
    measured: Measured
    exit_codes: dict[str, int | None]
    duration_s: float
    submit_errors: int
    reconnects: int
    store_faults: list[str]  # the faults this store can suffer
    late_writes_refused: int  # a frozen worker's completions refused, or its tasks lost
    temp_files_swept: int  # temporary files left by killed workers, before the sweep
    problems: list[str] = field(default_factory=list)  # everything that failed

    @property
    def ok(self) -> bool:
        return not self.problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(store: ChaosStore, root: Path) -> dict[str, str]:
    return {
        "TTSQUEUE_DATABASE_URL": store.process_url,
        "TTSQUEUE_DATA_DIR": str(root / "data"),
        "TTSQUEUE_JWT_SECRET": SECRET,
        "TTSQUEUE_LEASE_S": str(LEASE_S),
        "TTSQUEUE_HEARTBEAT_S": "0.5",
        "TTSQUEUE_REAP_INTERVAL_S": "0.5",
        "TTSQUEUE_POLL_INTERVAL_S": "0.2",
        "TTSQUEUE_RETRY_BASE_S": "0.2",
        "TTSQUEUE_RETRY_MAX_S": "2",
        "TTSQUEUE_MAX_ATTEMPTS": "8",
        "TTSQUEUE_SHUTDOWN_GRACE_S": "10",
        "TTSQUEUE_SUBMISSIONS_PER_MINUTE": "10000",
        "TTSQUEUE_MAX_ACTIVE_JOBS": "10000",
        "TTSQUEUE_FREE_CONCURRENCY": "4",
        "TTSQUEUE_STORE_RETRY_S": "5",
        "TTSQUEUE_LOG_LEVEL": "INFO",
    }


class Run:
    def __init__(self, plan: Plan, root: Path, store: ChaosStore) -> None:
        self.plan = plan
        self.root = root
        self.store = store
        self.rng = random.Random(plan.seed)
        self.cluster = Cluster(root, environment(store, root))
        self.ports = [free_port() for _ in range(plan.apis)]
        users = [f"user{i}" for i in range(plan.users)]
        expires = int(time.time()) + 86400
        tokens = {
            u: jwt.encode({"sub": u, "premium": i == 0, "exp": expires}, SECRET, "HS256")
            for i, u in enumerate(users)
        }
        self.traffic = Traffic(random.Random(self.rng.random()), self._api_ports, tokens)
        self.apis: dict[int, Proc] = {}
        self.faults: list[FaultRecord] = []
        self.faults_done = threading.Event()
        self.log: list[str] = []
        self.submit_failure: str | None = None  # why the submitting thread stopped
        self.temp_files_before_gc: list[str] = []
        self.gc_output = ""

    def _api_ports(self) -> list[int]:
        return [port for port, p in self.apis.items() if p.alive]

    def say(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {self.plan.store}: {text}"
        self.log.append(line)
        print(line, flush=True)

    # -- processes ---------------------------------------------------------------------

    def cli(self, *args: str) -> str:
        """A one-shot command on the store, directly (not through the proxy)."""
        env = {**self.cluster.env, "TTSQUEUE_DATABASE_URL": self.store.direct_url}
        done = subprocess.run(
            [sys.executable, "-m", "ttsqueue", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )
        assert done.returncode == 0, done.stderr
        with open(self.root / "commands.log", "a") as log:
            log.write(done.stdout + done.stderr)
        return done.stdout

    def start(self) -> None:
        self.cli("migrate")
        for port in self.ports:
            self.apis[port] = self.cluster.start_api(port)
        for _ in range(self.plan.workers):
            self.cluster.start_worker(self.plan.worker_concurrency)
        for p in self.apis.values():
            self.cluster.wait_api(p, 60)

    # -- what users do -----------------------------------------------------------------

    def submit_books(self) -> None:
        try:
            self._submit_books()
        except Exception as exc:
            self.submit_failure = repr(exc)
            self.traffic.stop.set()  # the run cannot go on: end it now
            raise

    def _submit_books(self) -> None:
        rng = random.Random(self.rng.random())
        users = list(self.traffic.tokens)
        deadline = time.monotonic() + self.plan.timeout_s
        n = 0
        # Books keep coming until every fault has happened and the plan's count is in.
        while n < self.plan.books or (not self.faults_done.is_set() and n < 4 * self.plan.books):
            if self.traffic.stop.is_set():
                return
            user = rng.choice(users)
            body = book(rng, f"Book {n}", rng.randint(2, 4))
            self.traffic.submit(user, f"chaos-{self.plan.seed}-{n}", body, deadline)
            n += 1
            time.sleep(rng.uniform(0.2, 1.2))

    # -- faults ------------------------------------------------------------------------

    def schedule(self) -> list[str]:
        p = self.plan
        kinds = ["kill worker"] * p.worker_kills + ["kill api"] * p.api_kills
        kinds += ["freeze worker"] * p.freezes
        kinds += [f"store: {name}" for name in self.store.faults] * p.store_fault_rounds
        self.rng.shuffle(kinds)
        return kinds

    def busy_worker(self) -> Proc:
        """A live worker, preferably one reading a chapter right now (polled a little
        while), so that a kill or a freeze strands work."""
        deadline = time.monotonic() + 3.0
        while True:
            live = self.cluster.live("worker")
            busy = running_worker_pids(self.store.direct_url)
            chosen = [p for p in live if p.popen.pid in busy]
            if chosen or time.monotonic() > deadline:
                return self.rng.choice(chosen or live)
            time.sleep(0.1)

    def inflict(self, kind: str) -> FaultRecord:
        start = time.time()
        victim: int | None = None
        port: int | None = None
        healed: float | None = None
        if kind == "kill worker":
            proc = self.busy_worker()
            victim = proc.popen.pid
            start = time.time()
            self.cluster.kill(proc)
            end = time.time()
            time.sleep(self.rng.uniform(0.2, 1.5))
            self.cluster.start_worker(self.plan.worker_concurrency)
        elif kind == "kill api":
            port = self.rng.choice(self.ports)
            proc = self.apis[port]
            victim = proc.popen.pid
            self.cluster.kill(proc)
            end = time.time()
            time.sleep(self.rng.uniform(0.5, 1.5))
            self.apis[port] = self.cluster.start_api(port)
            self.cluster.wait_api(self.apis[port], 60)
            healed = time.time()
        elif kind == "freeze worker":
            proc = self.busy_worker()
            victim = proc.popen.pid
            start = time.time()
            proc.signal_group(signal.SIGSTOP)
            time.sleep(LEASE_S + 2.0)  # its leases expire; others take its chapters over
            proc.signal_group(signal.SIGCONT)
            end = time.time()
        else:
            name = kind.removeprefix("store: ")
            self.store.faults[name](self.plan.fault_s)
            end = time.time()
        record = FaultRecord(kind, start, end, victim, port, healed)
        self.say(f"{kind} ({end - start:.1f}s)")
        return record

    def chaos(self) -> None:
        try:
            for kind in self.schedule():
                if self.traffic.stop.is_set():
                    return
                time.sleep(self.rng.uniform(*self.plan.gap_s))
                self.faults.append(self.inflict(kind))
        finally:
            self.faults_done.set()

    # -- the whole run -----------------------------------------------------------------

    def late_writes_refused(self) -> int:
        frozen = {f.victim_pid for f in self.faults if f.kind == "freeze worker"}
        n = 0
        for p in self.cluster.procs:
            if p.popen.pid in frozen and p.log.exists():
                text = p.log.read_text(errors="replace")
                n += text.count("completion refused (lease lost)") + text.count("stopped: lost")
        return n

    def unexplained_cuts(self) -> list[str]:
        """An SSE stream may end early only because its API process was killed."""
        kills = [f for f in self.faults if f.kind == "kill api"]
        out = []
        for fo in self.traffic.followers:
            for port, at in fo.cuts:
                if not any(
                    k.port == port and k.start - 0.5 <= at <= (k.healed or k.end) + 1.0
                    for k in kills
                ):
                    out.append(f"the SSE stream of {fo.job_id} on :{port} was cut at {at:.1f}")
        return out

    def wait_finished(self, deadline: float) -> None:
        while time.monotonic() < deadline and not self.traffic.stop.is_set():
            if self.traffic.followers and all(f.done for f in self.traffic.followers):
                return
            time.sleep(0.5)
        self.say("timed out waiting for every book")

    def execute(self) -> Outcome:
        began = time.monotonic()
        self.say(f"seed {self.plan.seed}, {self.plan}")
        self.start()
        submitter = threading.Thread(target=self.submit_books, daemon=True)
        submitter.start()
        try:
            self.chaos()
            submitter.join(self.plan.timeout_s)
            self.wait_finished(began + self.plan.timeout_s)
            # Temporary files of killed workers: the sweep (``ttsqueue gc``, which every
            # worker also runs at start and in maintenance) removes those no live
            # process holds; the age guard is waived, the killed writers are gone.
            self.temp_files_before_gc = temp_files(self.root / "data")
            self.gc_output = self.cli("gc", "--min-age", "0")
            findings = run_checks(
                self.store.direct_url,
                self.traffic,
                self.root / "data",
                random.Random(self.rng.random()),
                self._api_ports()[0],
            )
        finally:
            self.traffic.stop.set()
            codes = self.cluster.stop_all(grace_s=20)
        problems = list(findings.problems)
        if self.submit_failure:
            problems.insert(0, f"submitting books failed: {self.submit_failure}")
        busy = self.store.busy_counters()
        if busy:
            problems.append(f"per-user counters not back at zero: {busy}")
        for p in self.cluster.procs:
            # uvicorn ends by re-raising the SIGTERM it handled: -15 is a clean exit
            clean = (0, -15) if p.role == "api" else (0,)
            if not p.killed and codes.get(p.name) not in clean:
                problems.append(f"{p.name} exited {codes.get(p.name)}:\n{tail(p.log, 15)}")
        logs = [self.root / "commands.log", *(p.log for p in self.cluster.procs)]
        problems += [f"logging error in {e}" for e in logging_errors_in(*logs)]
        problems += self.unexplained_cuts()
        problems += self.cluster.grep_logs("response already started")
        measured = measure(self.faults, findings.events, self.traffic.followers)
        return Outcome(
            plan=self.plan,
            findings=findings,
            faults=self.faults,
            measured=measured,
            exit_codes=codes,
            duration_s=time.monotonic() - began,
            submit_errors=self.traffic.submit_errors,
            reconnects=sum(f.reconnects for f in self.traffic.followers),
            store_faults=sorted(self.store.faults),
            late_writes_refused=self.late_writes_refused(),
            temp_files_swept=len(self.temp_files_before_gc),
            problems=problems,
        )


def running_worker_pids(url: str) -> set[int]:
    """The process ids of the workers holding a running task (from their worker ids,
    ``host-pid-suffix``)."""

    async def read() -> set[int]:
        async with open_backend(url) as backend:
            page = await backend.list_jobs(JobFilter(status=JobStatus.PROCESSING), limit=200)
            pids = set()
            for item in page.items:
                job = await backend.get(item.id)
                for t in job.tasks if job else ():
                    if t.status is TaskStatus.RUNNING and t.worker_id:
                        with contextlib.suppress(ValueError, IndexError):
                            pids.add(int(t.worker_id.rsplit("-", 2)[-2]))
            return pids

    try:
        return asyncio.run(read())
    except StoreUnavailable:
        return set()


def run(plan: Plan, root: Path) -> Outcome:
    root.mkdir(parents=True, exist_ok=True)
    with STORES[plan.store](root) as store:
        return Run(plan, root, store).execute()


def new_seed() -> int:
    return secrets.randbelow(2**31)
