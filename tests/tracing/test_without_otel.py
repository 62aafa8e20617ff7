"""Without the otel extra, and with tracing off, everything works and ttsqueue imports
no opentelemetry.

A fresh interpreter in which any opentelemetry import fails enqueues a book through the
Queue facade and reads it with a worker. (The HTTP API runs on FastAPI, which itself
depends on opentelemetry-api and imports it; ttsqueue's own modules import it only
inside :mod:`ttsqueue.tracing`'s functions, while tracing is on — checked below.)
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import ttsqueue

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from concurrent.futures import ThreadPoolExecutor

    class NoOtel:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ImportError("opentelemetry is not installed")
            return None

    sys.meta_path.insert(0, NoOtel())

    from ttsqueue import tts
    from ttsqueue.backends import open_backend
    from ttsqueue.models import Chapter, User
    from ttsqueue.queue import BookRequest, Queue
    from ttsqueue.settings import Settings
    from ttsqueue.worker import Worker

    async def main():
        settings = Settings(
            _env_file=None, database_url="memory://", data_dir=sys.argv[1],
            default_format="mp3", heartbeat_s=0.2, poll_interval_s=0.1,
        )
        async with open_backend("memory://") as backend:
            queue = Queue(backend, settings, check_voice=tts.check_voice)
            book = BookRequest(chapters=[Chapter(title="One", text="Hello there.")])
            job_id = (await queue.add_job(User(id="alice"), book)).job.id
            with ThreadPoolExecutor(1) as pool:
                worker = Worker(backend, settings, concurrency=1, pool=pool)
                running = asyncio.create_task(worker.run())
                for _ in range(600):
                    job = await backend.get(job_id)
                    if job.status.terminal:
                        break
                    await asyncio.sleep(0.1)
                worker.stop()
                await running
            assert job.status.value == "completed", job.error
            assert "traceparent" not in job.metadata
        loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
        assert not loaded, loaded
        print("ok")

    asyncio.run(main())
    """
)


def test_a_book_is_read_with_no_opentelemetry_anywhere(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"


def test_only_tracing_functions_import_opentelemetry() -> None:
    root = Path(ttsqueue.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n.split(".")[0] == "opentelemetry" for n in names):
                found.append((path.relative_to(root).as_posix(), node.lineno, node.col_offset))
    assert found, "tracing imports opentelemetry somewhere"
    assert {p for p, _, _ in found} == {"tracing.py"}
    assert all(col > 0 for _, _, col in found), "a module-level opentelemetry import"
