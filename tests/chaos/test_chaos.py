"""The short chaos run, on every store (``make chaos`` runs the full one): real
processes, real signals, real store faults, then every invariant.

The seed is random and printed in the failure; ``TTSQUEUE_CHAOS_SEED=N`` replays it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from tests.chaos.__main__ import QUICK
from tests.chaos.report import render
from tests.chaos.run import Plan, new_seed, run
from tests.chaos.stores import STORES

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
@pytest.mark.parametrize("store", list(STORES))
def test_chaos(store: str, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    seed = int(os.environ.get("TTSQUEUE_CHAOS_SEED") or new_seed())
    record_property("chaos_seed", seed)
    print(f"chaos seed {seed}: replay with TTSQUEUE_CHAOS_SEED={seed}")
    plan = dataclasses.replace(Plan(store=store, seed=seed), **QUICK)  # type: ignore[arg-type]
    outcome = run(plan, tmp_path)
    report = render(outcome)
    assert outcome.ok, f"seed {seed} (TTSQUEUE_CHAOS_SEED={seed} replays it):\n{report}"
    # the run did what it claims: every fault, and work through all of them
    kinds = {f.kind for f in outcome.faults}
    assert kinds >= {"kill worker", "kill api", "freeze worker"}
    assert {k.removeprefix("store: ") for k in kinds if k.startswith("store: ")} == set(
        outcome.store_faults
    )
    assert outcome.findings.completed >= plan.books
