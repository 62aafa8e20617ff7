"""The chaos run's report: what happened, what held, and how long recovery took."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence

from tests.chaos.run import Outcome


def _fmt(values: Sequence[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    if len(got) == 1:
        return f"{got[0]:.1f}"
    return f"{statistics.median(got):.1f} / {max(got):.1f}"


def render(outcome: Outcome) -> str:
    p = outcome.plan
    f = outcome.findings
    lines = [
        f"### {p.store} — seed {p.seed}: {'passed' if outcome.ok else 'FAILED'}",
        "",
        f"{len(f.events)} books accepted ({f.completed} completed, {f.failed} failed by "
        f"exhausted attempts), {f.chapters} chapters, {len(outcome.faults)} faults in "
        f"{outcome.duration_s:.0f} s; {p.apis} API processes, {p.workers} workers x "
        f"{p.worker_concurrency}; {outcome.submit_errors} submissions retried, "
        f"{outcome.reconnects} SSE reconnections; a frozen worker's late writes refused: "
        f"{outcome.late_writes_refused}; temporary files of killed workers: "
        f"{outcome.temp_files_swept} before the sweep, {len(f.temp_files)} after.",
        "",
        "| fault | times | lasted s | work resumed after s | chapters taken over after s "
        "| longest SSE pause around it s | longest event→follower delay s |",
        "|---|---|---|---|---|---|---|",
    ]
    by_kind = defaultdict(list)
    for m in outcome.measured.faults:
        by_kind[m.kind].append(m)
    for kind, ms in sorted(by_kind.items()):
        lines.append(
            f"| {kind} | {len(ms)} | {_fmt([m.lasted_s for m in ms])} "
            f"| {_fmt([m.resumed_s for m in ms])} | {_fmt([m.takeover_s for m in ms])} "
            f"| {max(m.pause_s for m in ms):.1f} | {max(m.lag_s for m in ms):.1f} |"
        )
    lines += [
        "",
        f"Longest pause between two events of one SSE follower over the whole run: "
        f"{outcome.measured.longest_pause_s:.1f} s; longest delay from an event's store "
        f"time to its follower: {outcome.measured.longest_lag_s:.1f} s. (Two values: "
        "median / max.)",
    ]
    if outcome.problems:
        lines += ["", "Problems:", ""] + [f"- {x}" for x in outcome.problems[:50]]
    return "\n".join(lines) + "\n"
