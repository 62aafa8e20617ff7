"""``python -m bench all|queue|tts|api [--quick]``: run suites, write bench/results/."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bench import api_suite, queue_suite, report, tts_suite
from bench.common import RESULTS, log, machine, read_results, write_results

Suite = tuple[
    Callable[[bool], Coroutine[Any, Any, dict[str, Any]]], Callable[[dict[str, Any]], str]
]
SUITES: dict[str, Suite] = {
    "queue": (queue_suite.run, report.queue_md),
    "tts": (tts_suite.run, report.tts_md),
    "api": (api_suite.run, report.api_md),
}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("suite", choices=["all", *SUITES])
    p.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke test")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    names = list(SUITES) if args.suite == "all" else [args.suite]
    suffix = "-quick" if args.quick else ""
    start = time.perf_counter()
    for name in names:
        run, to_md = SUITES[name]
        info = machine()
        t = time.perf_counter()
        log(f"suite {name}{' (quick)' if args.quick else ''}")
        data = asyncio.run(run(args.quick))
        data = {
            "suite": name,
            "quick": args.quick,
            "machine": info,
            "suite_seconds": time.perf_counter() - t,
            **data,
        }
        write_results(f"{name}{suffix}", data, to_md(data))
    latest = report.latest_md(
        read_results(f"queue{suffix}"), read_results(f"tts{suffix}"), read_results(f"api{suffix}")
    )
    (RESULTS / f"latest{suffix}.md").write_text(latest + "\n")
    log(f"done in {time.perf_counter() - start:.0f}s; see bench/results/latest{suffix}.md")


if __name__ == "__main__":
    main()
