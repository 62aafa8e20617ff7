"""Check what a user installs, not the developer's editable install.

1. Build the wheel and install it with no extras into a fresh virtual environment
   outside the source tree.
2. Run the sample book end to end with that installation's ``ttsqueue up
   --exit-when-done`` (SQLite, espeak-ng, local files: the defaults).
3. Check the M4B with PyAV and mutagen from this (the checking) environment: it
   decodes, its duration is the sum of its chapters' (within 1 %), and it carries one
   chapter marker per chapter of the book, titled as in the book.
4. Every file of the package that is not Python (SQL, Lua, dashboard, sample book) is
   installed, and the installed app serves its dashboard, OpenAPI and health pages.
5. In the core environment, a store or engine whose extra is missing fails with a
   message naming the extra.
6. Each extra (every one in pyproject.toml but ``dev``) installs alone into its own
   fresh environment, and its module imports and works: a job round trip on
   PostgreSQL and Redis, speech from a tiny piper voice and from the packaged one.

Installs reuse pip's cache, so a second run takes about a minute. Run it with
``make check-install``; ``--keep`` leaves the environments for a look.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import av
from mutagen import mp4

ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"^The sample book is ready: (?P<path>.+?) \(", re.MULTILINE)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Run inside an extra's environment: its module imports and does its job.
STORE_SMOKE = """
import asyncio, sys
from ttsqueue.backends import open_backend
from ttsqueue.models import Chapter, JobSpec

async def main(url: str) -> None:
    async with open_backend(url) as backend:
        (made,) = await backend.enqueue(
            [JobSpec(user_id="check", chapters=(Chapter("One", "Some text."),))]
        )
        job = await backend.get(made.job.id)
        assert job is not None and job.total_chapters == 1, job
        (task,) = await backend.claim(worker_id="check", limit=1, lease_s=30)
        assert task.job_id == made.job.id
        print(f"{type(backend).__name__}: enqueued, read and claimed job {job.id}")

asyncio.run(main(sys.argv[1]))
"""
PIPER_SMOKE = """
from ttsqueue.models import Voice
from ttsqueue.tts import engine_names, get_engine

assert "piper" in engine_names(), engine_names()
speech = get_engine("piper").synthesize("Hello there.", Voice(engine="piper", name="tiny"))
assert speech.pcm and speech.sample_rate > 0
print(f"piper: {speech.duration_s:.2f} s of speech from the tiny voice")
"""
OTEL_SMOKE = """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from ttsqueue import tracing

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracing.configure(True, provider)
with tracing.span("check", book="one"):
    parent = tracing.current_traceparent()
assert parent and [s.name for s in exporter.get_finished_spans()] == ["check"], parent
print(f"otel: a span recorded and carried as {parent}")
"""
# A one-page PDF with a text layer, written by hand (the extra brings no PDF writer).
PDF_SMOKE = r"""
from ttsqueue.books import parse_pdf

objects = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
    b" /Resources << /Font << /F1 5 0 R >> >> >>",
    None,
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
]
stream = b"BT /F1 12 Tf 72 700 Td (It was a bright cold day in April.) Tj ET"
objects[3] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
out, offsets = bytearray(b"%PDF-1.4\n"), []
for number, body in enumerate(objects, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
book = parse_pdf(bytes(out), default_title="Check")
words = " ".join(c.text for c in book.chapters)
assert "bright cold day" in words, words
print(f"pdf: {len(book.chapters)} chapter(s) read from a one-page PDF")
"""
VOICES_SMOKE = """
from ttsqueue.models import Voice
from ttsqueue.tts import get_engine, list_voices

assert "en_US-joe-medium" in {v.name for v in list_voices("piper")}, list_voices("piper")
voice = Voice(engine="piper", name="en_US-joe-medium")
speech = get_engine("piper").synthesize("Hello there.", voice)
assert speech.sample_rate == 22050 and speech.duration_s > 0.5, speech.duration_s
print(f"voices: {speech.duration_s:.2f} s of speech from the packaged en_US-joe-medium")
"""
# Run inside the core environment: what is missing names its extra.
MISSING_EXTRAS = """
import importlib.util
from ttsqueue.backends import BackendConfigError, open_backend
from ttsqueue.models import Voice
from ttsqueue.tts import check_voice

for module in ("numpy", "onnxruntime", "psycopg", "redis"):
    assert importlib.util.find_spec(module) is None, f"{module} is in the core install"
for url, extra in (("postgresql://localhost/x", "postgres"), ("redis://localhost", "redis")):
    try:
        open_backend(url)
    except BackendConfigError as exc:
        assert f"pip install 'ttsqueue[{extra}]'" in str(exc), exc
    else:
        raise AssertionError(f"{url} opened without its extra")
problem = check_voice(Voice(engine="piper", name="tiny"))
assert problem and "pip install 'ttsqueue[piper]'" in problem, problem
print("core: numpy, onnxruntime, psycopg and redis absent; each missing extra names itself")
"""


# Run inside the core environment: the installed app serves its own files.
SERVES_ITS_FILES = """
import os, ttsqueue
from fastapi.testclient import TestClient
from ttsqueue.api.app import create_app
from ttsqueue.settings import Settings

with TestClient(create_app(Settings(database_url="memory://"))) as client:
    for path in ("/dashboard", "/dashboard/static/app.js", "/dashboard/static/app.css",
                 "/openapi.json", "/v1/health"):
        r = client.get(path)
        assert r.status_code == 200 and r.content, (path, r.status_code)
print(os.path.dirname(ttsqueue.__file__))
"""


class CheckFailed(Exception):
    pass


def step(message: str) -> Callable[[], None]:
    print(f"check-install: {message} ...", flush=True)
    started = time.monotonic()

    def done() -> None:
        print(f"check-install:   done in {time.monotonic() - started:.1f} s", flush=True)

    return done


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout's virtualenv or any ttsqueue setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TTSQUEUE_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def run(
    cmd: list[str], *, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        cmd,
        cwd=cwd,
        env=clean_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise CheckFailed(
            f"{' '.join(cmd[:4])} ... exited {done.returncode}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done.stdout


def build_wheel(work: Path) -> Path:
    dist = work / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        cwd=work,
    )
    (wheel,) = dist.glob("ttsqueue-*.whl")
    return wheel


def make_env(work: Path, name: str, requirement: str) -> Path:
    """A fresh virtual environment with ``requirement`` installed; its python."""
    env = work / name
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    run([*pip, requirement], cwd=work)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_sample_book(python: Path, work: Path) -> Path:
    home = work / "user"
    home.mkdir()
    ttsqueue = python.parent / "ttsqueue"
    out = run(
        [str(ttsqueue), "up", "--exit-when-done"],
        cwd=home,
        timeout=600,
        env={"TTSQUEUE_PORT": str(free_port())},
    )
    found = READY.search(out)
    if not found:
        raise CheckFailed(f"no finished book in the output:\n{out[-2000:]}")
    book = (home / found["path"]).resolve()  # relative to where the user ran it
    if not book.is_relative_to(home):
        raise CheckFailed(f"the book is outside the directory the user ran it in: {book}")
    return book


def decoded_seconds(path: Path) -> float:
    """Every audio frame decoded; the samples counted, not the header's word taken."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate


def book_chapter_titles() -> list[str]:
    text = (ROOT / "examples" / "sample-book.md").read_text(encoding="utf-8")
    return re.findall(r"^## (.+)$", text, re.MULTILINE)


def check_book(book: Path) -> str:
    chapters = sorted(book.parent.glob("chapter-*.m4a"))
    titles = book_chapter_titles()
    if len(chapters) != len(titles):
        raise CheckFailed(f"{len(chapters)} chapter files for a book of {len(titles)} chapters")
    total = decoded_seconds(book)
    parts = sum(decoded_seconds(c) for c in chapters)
    if abs(total - parts) > 0.01 * parts:
        raise CheckFailed(f"the book lasts {total:.2f} s, its chapters {parts:.2f} s")
    markers = mp4.MP4(str(book)).chapters  # type: ignore[no-untyped-call]
    found = [c.title for c in markers] if markers is not None else []
    if found != titles:
        raise CheckFailed(f"chapter markers {found}, expected {titles}")
    return f"{book.name}: {total:.1f} s decoded (chapters {parts:.1f} s), {len(found)} markers"


def check_package_data(core: Path, work: Path) -> str:
    """Every file of the package that is not Python (SQL, Lua, the dashboard, the sample
    book) is in the installation, and the app serves its own pages from it."""
    script = work / "serves_its_files.py"
    script.write_text(SERVES_ITS_FILES, encoding="utf-8")
    installed = Path(run([str(core), str(script)], cwd=work).strip().splitlines()[-1])
    source = ROOT / "src" / "ttsqueue"
    wanted = {
        path.relative_to(source).as_posix()
        for path in source.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    } | {"examples/sample-book.md"}
    missing = sorted(name for name in wanted if not (installed / name).is_file())
    if missing:
        raise CheckFailed(f"files missing from the wheel: {missing}")
    return f"{len(wanted)} data files installed; dashboard, OpenAPI and health served"


def extras() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [name for name in project["optional-dependencies"] if name != "dev"]


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 3):
            return True
    except OSError:
        return False


def extra_smoke(name: str, work: Path) -> tuple[str, dict[str, str]]:
    """The smoke script for an extra and what it needs."""
    if name == "postgres":
        url = os.environ.get(
            "TTSQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        )
        schema = f"check_install_{uuid.uuid4().hex[:8]}"
        return STORE_SMOKE, {"URL": f"{url}?schema={schema}", "SCHEMA": schema, "DB": url}
    if name == "redis":
        url = os.environ.get("TTSQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
        prefix = f"check-install-{uuid.uuid4().hex[:8]}"
        return STORE_SMOKE, {"URL": f"{url}?prefix={prefix}", "PREFIX": prefix, "DB": url}
    if name == "piper":
        sys.path.insert(0, str(ROOT))
        from tests.tts.test_piper import write_voice

        write_voice(work / "voices", "tiny")
        return PIPER_SMOKE, {"TTSQUEUE_PIPER_VOICES_DIR": str(work / "voices")}
    if name == "otel":
        return OTEL_SMOKE, {}
    if name == "pdf":
        return PDF_SMOKE, {}
    if name == "voices":
        return VOICES_SMOKE, {}
    raise CheckFailed(f"no smoke test for the extra {name!r}: add one to {Path(__file__).name}")


def clean_store(name: str, env: dict[str, str]) -> None:
    """Drop what a store smoke test left (its own schema or key prefix)."""
    if name == "postgres":
        import psycopg

        with psycopg.connect(env["DB"], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{env["SCHEMA"]}" CASCADE')  # generated name
    elif name == "redis":
        import redis

        client = redis.Redis.from_url(env["DB"])
        for key in client.scan_iter(match=f"{env['PREFIX']}*"):
            client.delete(key)
        client.close()


def check_extra(name: str, wheel: Path, work: Path) -> str:
    python = make_env(work, f"env-{name}", f"{wheel}[{name}]")
    smoke, env = extra_smoke(name, work)
    if "DB" in env and not reachable(env["DB"]):
        where = urlsplit(env["DB"]).netloc
        if IN_CI:
            raise CheckFailed(f"{name}: nothing answers at {where} (CI must provide it)")
        run([str(python), "-c", f"import ttsqueue.backends.{name}"], cwd=work)
        return f"{name}: imports; NOT run: nothing answers at {where}"
    script = work / f"smoke_{name}.py"
    script.write_text(textwrap.dedent(smoke), encoding="utf-8")
    args = [str(python), str(script)] + ([env["URL"]] if "URL" in env else [])
    try:
        settings = {k: v for k, v in env.items() if k.startswith("TTSQUEUE_")}
        return run(args, cwd=work, env=settings)
    finally:
        clean_store(name, env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the environments")
    parser.add_argument("--skip-extras", action="store_true", help="check the core install only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ttsqueue-check-install-"))
    started = time.monotonic()
    try:
        done = step("building the wheel")
        wheel = build_wheel(work)
        done()
        done = step(f"installing {wheel.name} with no extras into a fresh environment")
        core = make_env(work, "env-core", str(wheel))
        done()
        done = step("reading the sample book with the installed `ttsqueue up --exit-when-done`")
        book = run_sample_book(core, work)
        done()
        print(f"check-install:   {check_book(book)}", flush=True)
        print(f"check-install:   {check_package_data(core, work)}", flush=True)
        script = work / "missing_extras.py"
        script.write_text(MISSING_EXTRAS, encoding="utf-8")
        print(f"check-install:   {run([str(core), str(script)], cwd=work).strip()}", flush=True)
        for name in [] if args.skip_extras else extras():
            done = step(f"installing ttsqueue[{name}] alone into a fresh environment")
            print(f"check-install:   {check_extra(name, wheel, work).strip()}", flush=True)
            done()
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        print(f"check-install: FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if args.keep:
            print(f"check-install: environments kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"check-install: passed in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
