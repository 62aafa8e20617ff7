"""Skips: only tests/skips.py may skip, and under CI only a declared capability may."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.skips import CAPABILITY, unsupported
from ttsqueue.backends import BackendOptions, open_backend

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
BARE_SKIP = re.compile(r"pytest\.(skip\(|importorskip\(|mark\.skip|mark\.skipif)")


def test_no_test_skips_except_through_the_helper() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "skips.py" and path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if BARE_SKIP.search(line)
    ]
    assert offenders == []


async def test_a_capability_skip_names_the_capability() -> None:
    async with open_backend("memory://", BackendOptions()) as memory:
        with pytest.raises(pytest.skip.Exception, match=f"^{CAPABILITY} MemoryBackend has no"):
            unsupported(memory, "shared")
        unsupported(memory, "push_wakeups")  # it has it: no skip
        with pytest.raises(AssertionError, match="not a declared capability"):
            unsupported(memory, "teleportation")


# Probes, collected only by the runs below (``-o python_functions=probe_*``).
async def probe_capability_skip() -> None:
    async with open_backend("memory://", BackendOptions()) as memory:
        unsupported(memory, "shared")


def probe_bare_skip() -> None:
    pytest.skip("something is not installed")


def probe_missing_service() -> None:
    from tests.skips import missing

    missing("a service is down")


def run_probe(name: str, *, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "-o", "python_functions=probe_*", f"{Path(__file__).relative_to(ROOT)}::{name}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["probe_bare_skip", "probe_missing_service"])
def test_under_ci_only_a_capability_may_skip(name: str) -> None:
    local = run_probe(name, ci=False)
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout
    ci = run_probe(name, ci=True)
    assert ci.returncode == 1 and "1 failed" in ci.stdout, ci.stdout
    assert "skipped" not in ci.stdout.splitlines()[-1]


def test_under_ci_a_capability_skip_stays_a_skip() -> None:
    ci = run_probe("probe_capability_skip", ci=True)
    assert ci.returncode == 0, ci.stdout
    assert f"{CAPABILITY} MemoryBackend has no shared" in ci.stdout
    assert "1 skipped" in ci.stdout.splitlines()[-1]
