"""Markdown tables from the suites' JSON, and the summary of targets in latest.md."""

from __future__ import annotations

from typing import Any

from bench.common import machine_line, ratio, table

PEER_OF = {"postgres": ["pgqueuer"], "redis": ["saq", "arq"]}


def _get(m: dict[str, Any], name: str, measure: str, field: str) -> Any:
    return m.get(name, {}).get(measure, {}).get(field)


def queue_md(data: dict[str, Any]) -> str:
    m = data["median"]
    p = data["params"]
    rows = []
    for name in ("memory", "sqlite", "postgres", "pgqueuer", "redis", "saq", "arq"):
        if name not in m:
            continue
        label = f"ttsqueue · {name}" if name in PEER_OF or name in ("memory", "sqlite") else name
        rows.append(
            [
                label,
                _get(m, name, "enqueue_single", "per_s"),
                _get(m, name, "enqueue_batch", "per_s"),
                _get(m, name, "process_default", "per_s"),
                _get(m, name, "process_tuned", "per_s"),
                _get(m, name, "process_pipeline", "per_s"),
                _get(m, name, "latency", "p50_ms"),
                _get(m, name, "latency", "p95_ms"),
                _get(m, name, "latency", "p99_ms"),
                _get(m, name, "process_default", "all_completed")
                and _get(m, name, "process_tuned", "all_completed"),
            ]
        )
    head = [
        "queue · store",
        "enqueue 1/call (tasks/s)",
        f"enqueue batch {p['batch']} (tasks/s)",
        "processed, default conc. (tasks/s)",
        "processed, tuned conc. (tasks/s)",
        "audiobook pipeline, no-op engine (tasks/s)",
        "enq→start p50 ms",
        "p95 ms",
        "p99 ms",
        "all completed",
    ]
    ratios = []
    for store, peers in PEER_OF.items():
        for peer in peers:
            for measure, label in (
                ("enqueue_single", "enqueue 1/call"),
                ("enqueue_batch", "enqueue batch"),
                ("process_default", "processed, default"),
                ("process_tuned", "processed, tuned"),
            ):
                ratios.append(
                    [
                        f"{store} vs {peer}",
                        label,
                        _get(m, store, measure, "per_s"),
                        _get(m, peer, measure, "per_s"),
                        ratio(_get(m, store, measure, "per_s"), _get(m, peer, measure, "per_s")),
                    ]
                )
    lim = data.get("limits", {})
    pg = lim.get("pgbench_update_one_row", {})
    rb = lim.get("redis_benchmark", {})
    lim_rows = [
        [f"pgbench one-row UPDATE, {c.split('_')[1]} client(s)", v.get("tps"), "tx/s"]
        for c, v in pg.items()
    ]
    for c, cmds in rb.items():
        for cmd, rps in cmds.items():
            lim_rows.append([f"redis-benchmark {cmd}, {c.split('_')[1]} client(s)", rps, "req/s"])
    errors = data.get("errors") or {}
    parts = [
        "# Queue suite",
        "",
        machine_line(data["machine"]),
        "",
        f"N = {p['tasks']:,} tasks, median of {p['runs']} run(s). ttsqueue: a job is 1 chapter + "
        f"1 assemble task (2 tasks), {p['users']} users, worker in its own process "
        f"({p['worker_pool']}). *Processed* runs the real Worker with a no-op handler, as the "
        "peers run a no-op job: claim, heartbeat, progress, batched completion and events are "
        "real, the work is nothing. *Audiobook pipeline* runs the same jobs through the whole "
        "chapter path with the no-op engine: a WAV file written, fsynced and renamed per "
        "chapter, the book joined from it, the job read back for assembly. "
        f"Default concurrency {p['default_concurrency_ours']}, "
        f"tuned {p['tuned_concurrency_ours']}. Peers: one task per job, their own default "
        "concurrency (10) and a tuned one (pgqueuer batch 100, saq/arq 50). "
        f"Latency: {p['latency_jobs']} jobs {p['latency_gap_ms']:.0f} ms apart, idle worker "
        "at the default concurrency.",
        "",
        table(head, rows),
        "",
        "## Ratios (ours / peer, same store)",
        "",
        table(["pair", "measure", "ours", "peer", "ratio"], ratios),
        "",
        "## What the servers can do (same run)",
        "",
        table(["limit", "value", "unit"], lim_rows),
        "",
        f"Peer versions: {data.get('peer_versions')}",
    ]
    if errors:
        parts += ["", "## Failures", ""] + [f"- {k}: `{v[:300]}`" for k, v in errors.items()]
    return "\n".join(parts)


def tts_md(data: dict[str, Any]) -> str:
    p = data["pipeline"]
    secs = p["pool_seconds"]
    n = data["workers"]
    walls = {k: ", ".join(f"{r['wall_s']:.1f}" for r in v) for k, v in data["rounds"].items()}
    targets = [
        [
            "words / chapters / characters",
            f"{data['words']:,} / {data['chapters']} / {data['characters']:,}",
        ],
        ["audio", f"{data['audio_s'] / 3600:.2f} h"],
        ["book to M4B, 1 `ttsqueue worker` process: T1", f"{data['one_worker_wall_s']:.1f} s"],
        [f"book to M4B, {n} `ttsqueue worker` processes: T2", f"{data['wall_s']:.1f} s"],
        ["(every round: 1 worker / 2 workers)", f"{walls['1']} s / {walls[str(n)]} s"],
        [f"**parallel efficiency, T1 / ({n} x T2)**", f"**{data['parallel_efficiency']:.1%}**"],
        [
            f"machine's own ceiling: a chapter's work alone / {n} at once (shared machine)",
            f"{data['machine_scaling']:.0%}",
        ],
        ["assemble task (store's start to finish), 2 workers", f"{data['assemble_task_s']:.2f} s"],
        ["**assembly share of T2**", f"**{data['assembly_share_of_wall']:.2%}**"],
    ]
    breakdown = [
        ["raw espeak-ng, one core, no encoding", f"{data['raw_engine_one_core_s']:.1f} s"],
        [
            f"raw engine 1 core / ({n} x T2) (the old 'efficiency': encoding cost)",
            f"{data['raw_engine_vs_pipeline']:.0%}",
        ],
        [f"in-process worker, pool of {n} (wall)", f"{p['wall_s']:.1f} s"],
        [f"pool busy / ({n} x wall)", f"{data['pool_efficiency']:.0%}"],
        ["pool time: synthesis", f"{secs.get('synthesize_batch', 0):.1f} s"],
        ["pool time: encoding (AAC per chapter)", f"{secs.get('encode_chapter', 0):.1f} s"],
        ["pool time: assembly (M4B)", f"{secs.get('assemble_book', 0):.2f} s"],
        ["encoding share of pool time", f"{data['encoding_share_of_pool_time']:.0%}"],
        ["assembly (pool time) share of this wall", f"{data['pool_assembly_share_of_wall']:.2%}"],
    ]
    t = data["targets"]
    return "\n".join(
        [
            "# TTS suite",
            "",
            machine_line(data["machine"]),
            "",
            "## Targets: real `ttsqueue worker` processes on a SQLite store",
            "",
            f"Fastest of {len(data['rounds']['1'])} round(s) each, run back to back; "
            "timed from enqueue to the completed job, after a warm-up book.",
            "",
            table(["measure", "value"], targets),
            "",
            "- assembly under 2 % of the total: "
            f"**{'met' if t['assembly_under_2pct'] else 'missed'}**",
            f"- parallel efficiency on {n} workers ≥ 90 %: "
            f"**{'met' if t['parallel_efficiency_90pct'] else 'missed'}**",
            "",
            "## Where the time goes (for the record, not the targets)",
            "",
            table(["measure", "value"], breakdown),
        ]
    )


def api_md(data: dict[str, Any]) -> str:
    rows = []
    for key, label in (("post_jobs", "POST /v1/jobs"), ("get_job", "GET /v1/jobs/{id}")):
        r = data[key]
        rows.append([label, r["requests"], r["errors"], r["per_s"], r["p50_ms"], r["p99_ms"]])
    return "\n".join(
        [
            "# API suite",
            "",
            machine_line(data["machine"]),
            "",
            f"{data['server']}; httpx async client, {data['connections']} connections, loopback.",
            "",
            table(["endpoint", "requests", "errors", "req/s", "p50 ms", "p99 ms"], rows),
        ]
    )


def _target(
    label: str, value: float | None, goal: float, unit: str, higher: bool = True
) -> list[Any]:
    if value is None:
        return [label, "n/a", f"{goal:g}{unit}", "not measured"]
    met = value >= goal if higher else value <= goal
    return [
        label,
        f"{value:,.2f}{unit}",
        f"{'≥' if higher else '≤'} {goal:g}{unit}",
        "met" if met else "missed",
    ]


def latest_md(
    queue: dict[str, Any] | None, tts: dict[str, Any] | None, api: dict[str, Any] | None
) -> str:
    rows: list[list[Any]] = []
    if queue:
        m = queue["median"]

        def r(store: str, peer: str) -> float | None:
            return ratio(
                _get(m, store, "process_tuned", "per_s"), _get(m, peer, "process_tuned", "per_s")
            )

        rows += [
            _target(
                "PostgreSQL processed/s vs pgqueuer (tuned)", r("postgres", "pgqueuer"), 2, "x"
            ),
            _target("Redis processed/s vs saq (tuned)", r("redis", "saq"), 2, "x"),
            _target("Redis processed/s vs arq (tuned)", r("redis", "arq"), 4, "x"),
            _target(
                "SQLite processed (tasks/s, tuned)",
                _get(m, "sqlite", "process_tuned", "per_s"),
                5000,
                "",
            ),
            _target(
                "PostgreSQL batch enqueue (tasks/s)",
                _get(m, "postgres", "enqueue_batch", "per_s"),
                20000,
                "",
            ),
            _target(
                "Redis batch enqueue (tasks/s)",
                _get(m, "redis", "enqueue_batch", "per_s"),
                20000,
                "",
            ),
        ]
        for store in ("postgres", "redis"):
            rows.append(
                _target(
                    f"{store} enqueue→start p50 (ms)",
                    _get(m, store, "latency", "p50_ms"),
                    5,
                    "",
                    higher=False,
                )
            )
            rows.append(
                _target(
                    f"{store} enqueue→start p99 (ms)",
                    _get(m, store, "latency", "p99_ms"),
                    20,
                    "",
                    higher=False,
                )
            )
    if tts:
        rows.append(
            _target(
                "TTS assembly share of total (%)",
                100 * tts["assembly_share_of_wall"],
                2,
                "",
                higher=False,
            )
        )
        rows.append(
            _target(
                "TTS parallel efficiency, 2 workers (%)", 100 * tts["parallel_efficiency"], 90, ""
            )
        )
    parts = ["# Benchmarks: latest results", ""]
    src = queue or tts or api
    if src:
        parts += [machine_line(src["machine"]), ""]
    parts += [table(["target", "measured", "goal", "status"], rows), ""]
    if queue:
        parts += [queue_md(queue).split("\n", 4)[4], ""]
    if api:
        parts += ["## API", "", api_md(api).split("\n", 4)[4], ""]
    parts += [
        "Full tables: queue.md, tts.md, api.md beside this file; every run's values in the "
        "JSON files. Profiles of missed targets: PROFILE.md. Command: `make bench` "
        "(`make bench-quick` for a smoke run).",
    ]
    return "\n".join(parts)
