from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest

from tests.logcheck import LoggingErrors
from tests.skips import CAPABILITY, under_ci
from tests.stores import STORES
from ttsqueue.backends import Backend, BackendOptions


@pytest.fixture
def backend_options() -> BackendOptions:
    """Override in a test module (or with indirect parametrization) to tune a backend."""
    return BackendOptions(event_poll_s=0.05)


@pytest.fixture(params=STORES)
def store_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def backend(
    store_name: str, tmp_path: Path, backend_options: BackendOptions
) -> AsyncIterator[Backend]:
    module = importlib.import_module(f"tests.stores.{store_name}")
    async with module.store(tmp_path, backend_options) as b:
        yield b


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Under CI the only skip allowed is a declared capability (see tests/skips.py)."""
    outcome = yield
    report = outcome.get_result()
    if not (under_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if not reason.removeprefix("Skipped: ").startswith(CAPABILITY):
        report.outcome = "failed"
        report.longrepr = f"a skip under CI that is not a declared capability: {reason}"


@pytest.fixture(autouse=True)
def no_logging_errors() -> Iterator[LoggingErrors]:
    """Every test fails on a log call that cannot be formatted (a ``%d`` given a string,
    a missing argument), which logging itself would only print as a traceback."""
    check = LoggingErrors()
    root = logging.getLogger()
    root.addHandler(check)
    try:
        with check.watch_handlers():
            yield check
    finally:
        root.removeHandler(check)
    if check.failures:
        pytest.fail("logging errors:\n" + "\n".join(check.failures), pytrace=False)
