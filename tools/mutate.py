"""Mutation testing of the modules that carry the project's promises.

    python tools/mutate.py [--jobs N] [--commit REV] [NAME ...]   # `make mutate`

Each promise-carrying module is mutated on its own, with only the tests that state its
promises (``MODULES`` below), in its own copy of the tree under
``build/mutation/<name>/`` (the working tree is never touched), by mutmut 3 at the
lowest CPU priority. The killed/survived score of each module goes to
``docs/mutation.json``; ``docs/mutation.md`` is rewritten from it, with every
survivor listed and, where it cannot be killed, the reason from
``tools/mutation_equivalent.toml``.

Why mutmut 3: it mutates a copy of the tree (``mutants/``) and switches mutants on
through a trampoline in-process, forking one child per mutant from a warm pytest, and
it runs for each mutant only the tests that reached the mutated function. That makes
a module's run minutes, not hours, on two shared cores; cosmic-ray would start pytest
afresh for each mutant. The catch: code run only in subprocesses (the CLI, a process
pool) is not seen by its coverage, so each module's tests here call it in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "mutation"
SCORES = ROOT / "docs" / "mutation.json"
REPORT = ROOT / "docs" / "mutation.md"
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.toml"
GOAL = 0.90


@dataclass(frozen=True)
class Module:
    files: tuple[str, ...]  # under src/ttsqueue/
    tests: tuple[str, ...]  # pytest arguments: paths and -k expressions
    promise: str


MODULES: dict[str, Module] = {
    "tts.text": Module(
        ("tts/text.py",),
        (
            "tests/tts/test_text.py",
            "tests/tts/test_chunks.py",
            "tests/tts/test_readings.py",
            "tests/tts/test_ssml.py",
        ),
        "what a listener hears for numbers, money, dates, abbreviations",
    ),
    "tts.splitting": Module(
        ("tts/splitting.py",),
        ("tests/tts/test_chunks.py", "tests/tts/test_ssml.py"),
        "every word reaches the engine, in order, in chunks it can read",
    ),
    "api.events": Module(
        ("api/routes/events.py",),
        ("tests/api/test_events.py",),
        "a subscriber sees every event 1..n, in order, live",
    ),
    "audio.assemble": Module(
        ("audio/assemble.py",),
        ("tests/audio/test_assemble.py", "tests/audio/test_splice.py"),
        "an M4B whose chapter markers sit where the chapters begin",
    ),
    "worker": Module(
        ("worker.py",),
        ("tests/unit/test_worker.py", "tests/ops/test_metrics.py"),
        "claim, read, heartbeat, complete or fail; stop a cancelled or lost chapter",
    ),
    "queue": Module(
        ("queue.py",),
        (
            "tests/unit/test_queue_facade.py",
            "tests/unit/test_queue_rules.py",
            "tests/unit/test_queue_scope.py",
            "tests/postgres/test_transactional.py",
            "tests/api/test_auth.py",
            "tests/api/test_jobs.py",
            "tests/api/test_errors.py",
        ),
        "the facade validates, applies policy and scopes every call to its user",
    ),
    "backends.memory": Module(
        ("backends/memory.py", "backends/memory_rows.py"),
        ("tests/conformance", "-k", "memory"),
        "the reference store passes the conformance suite",
    ),
    "backends.sqlite": Module(
        ("backends/sqlite.py", "backends/sqlite_work.py", "backends/sqlite_jobs.py"),
        ("tests/conformance", "-k", "sqlite"),
        "the SQLite store's transitions (fencing, fairness, leases)",
    ),
    "api.auth": Module(
        ("api/auth.py",),
        ("tests/api/test_auth.py",),
        "a token names its user; a bad one is refused",
    ),
}


def run(cmd: list[str], cwd: Path, log: Path) -> int:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        return subprocess.call(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def prepare(name: str, module: Module, commit: str | None) -> Path:
    work = BUILD / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if commit:
        archive = subprocess.run(
            ["git", "archive", commit, "src", "tests", "pyproject.toml"],
            cwd=ROOT, check=True, capture_output=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    else:
        for part in ("src", "tests"):
            shutil.copytree(ROOT / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    only = [f"src/ttsqueue/{f}" for f in module.files]
    tests = [t for t in module.tests if not t.startswith("tests/") or (work / t).exists()]
    config = (
        "\n[tool.mutmut]\n"
        f'source_paths = ["src"]\n'
        f"only_mutate = {json.dumps(only)}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]\n'
    )
    with (work / "pyproject.toml").open("a") as f:
        f.write(config)
    return work


def survivors(work: Path, log: Path) -> list[str]:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "mutmut"), "results"],
        cwd=work, capture_output=True, text=True,
    ).stdout  # fmt: skip
    with log.open("a") as f:
        f.write(out)
    return sorted(m.group(1) for m in re.finditer(r"^\s*(\S+): (survived|no tests)", out, re.M))


def mutate(name: str, jobs: int, commit: str | None) -> dict[str, Any]:
    module = MODULES[name]
    work = prepare(name, module, commit)
    if not any((work / t).exists() for t in module.tests if t.startswith("tests/")):
        return {
            "files": list(module.files),
            "tests": [],
            "killed": 0,
            "survived": None,
            "total": None,
            "score": None,
            "survivors": [],
            "minutes": 0,
            "commit": commit or _head(),
            "note": "no test ran this module in-process",
        }
    log = work / "mutmut.log"
    mutmut = str(Path(sys.executable).parent / "mutmut")
    started = time.monotonic()
    run(["nice", "-n", "19", mutmut, "run", "--max-children", str(jobs)], work, log)
    run([mutmut, "export-cicd-stats"], work, log)
    stats_file = work / "mutants" / "mutmut-cicd-stats.json"
    if not stats_file.exists():
        raise SystemExit(f"{name}: mutmut produced no results, see {log}")
    stats = json.loads(stats_file.read_text())
    left = survivors(work, log)
    killed = int(stats["killed"]) + int(stats.get("timeout", 0))
    total = killed + int(stats["survived"]) + int(stats.get("no_tests", 0))
    return {
        "files": list(module.files),
        "tests": list(module.tests),
        "killed": killed,
        "survived": total - killed,
        "total": total,
        "score": round(killed / total, 4) if total else None,
        "survivors": left,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "commit": commit or _head(),
    }


def _head() -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    return rev.stdout.decode().strip() + ("+" if _dirty() else "")


def _dirty() -> bool:
    return bool(
        subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True).stdout
    )


def write_report(scores: dict[str, dict[str, dict[str, Any]]]) -> None:
    equivalent = tomllib.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    lines = [
        "# Mutation testing",
        "",
        "Generated by `make mutate` (`tools/mutate.py`, mutmut 3) from `docs/mutation.json`;",
        "each module is mutated alone and tested with only its own tests (listed below).",
        "*before* is the tree before the tests that state these promises were added,",
        "*after* the tree now. A mutant counts as killed when a test fails or times out.",
        "mutmut 3 because it mutates a copy of the tree, switches mutants on in-process and",
        "forks each from a warm pytest, running only the tests that reach the mutated",
        "function: a module takes minutes on two shared cores. Code run only in",
        "subprocesses (the CLI, the process pool) is invisible to it, so each module's tests",
        "call it in-process. SQL and Lua are not mutated; the stores' transitions in them",
        "are checked by the conformance suite.",
        "",
        f"Goal: at least {GOAL:.0%} killed in each module. *without equivalents* leaves out",
        "the survivors listed as equivalent (below, with the reason).",
        "",
        "| module | tests | before | after | after, without equivalents | survivors explained |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, module in MODULES.items():
        row = scores.get(name, {})
        after = row.get("after", {})
        left = [str(s) for s in after.get("survivors", [])]
        explained = sum(1 for s in left if s in equivalent)
        net = "not measured"
        if after.get("total"):
            real = int(after["total"]) - explained
            net = f"{after['killed']}/{real} = {int(after['killed']) / real:.0%}"
        lines.append(
            f"| `{name}` | {' '.join(module.tests)} | {_cell(row.get('before'))} "
            f"| {_cell(after or None)} | {net} | {explained} of {len(left)} |"
        )
    lines += ["", "## Survivors", ""]
    for name in MODULES:
        measured = scores.get(name, {}).get("after")
        if not measured:
            continue
        left = [str(s) for s in measured.get("survivors", [])]
        if not left:
            continue
        lines.append(f"### `{name}`")
        lines.append("")
        for s in left:
            lines.append(f"- `{s}`: {equivalent.get(s, 'not yet killed')}")
        lines.append("")
    REPORT.write_text("\n".join(lines).rstrip() + "\n")


def _cell(result: Any) -> str:
    if isinstance(result, dict) and result.get("note"):
        return str(result["note"])
    if not isinstance(result, dict) or result.get("score") is None:
        return "not measured"
    return (
        f"{result['killed']}/{result['total']} = {float(result['score']):.0%} "
        f"({result['commit']}, {result['minutes']} min)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"modules (default all): {', '.join(MODULES)}")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--commit", help="measure this commit's tree (recorded as 'before')")
    parser.add_argument("--report-only", action="store_true", help="rewrite docs/mutation.md")
    args = parser.parse_args()
    scores = json.loads(SCORES.read_text()) if SCORES.exists() else {}
    names = args.names or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        raise SystemExit(f"unknown module(s) {unknown}; known: {', '.join(MODULES)}")
    for name in [] if args.report_only else names:
        print(f"{name}: mutating {', '.join(MODULES[name].files)} ...", flush=True)
        result = mutate(name, args.jobs, args.commit)
        # Re-read before writing: another run may have recorded other modules meanwhile.
        scores = json.loads(SCORES.read_text()) if SCORES.exists() else {}
        scores.setdefault(name, {})["before" if args.commit else "after"] = result
        SCORES.write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
        print(f"{name}: {result['killed']}/{result['total']} killed ({result['minutes']} min)")
    write_report(scores)
    gaps = [
        n for n in names
        if (scores.get(n, {}).get("after") or {}).get("score") is not None
        and float(scores[n]["after"]["score"]) < GOAL
    ]  # fmt: skip
    if gaps:
        print(f"below {GOAL:.0%}: {', '.join(gaps)}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
