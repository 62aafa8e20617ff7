"""Configuration from the environment (prefix ``TTSQUEUE_``) or a ``.env`` file."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ttsqueue.backends.base import BackendOptions

MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TTSQUEUE_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    # where things live
    database_url: str = "sqlite:///./ttsqueue-data/ttsqueue.db"
    data_dir: Path = Path("./ttsqueue-data")

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: str | None = Field(None, description="HS256 shared secret, at least 32 bytes")
    jwt_jwks_url: str | None = Field(None, description="the identity provider's public keys")
    jwt_issuer: str | None = Field(None, description="required iss claim, when set")
    jwt_audience: str | None = Field(None, description="required aud claim, when set")
    jwt_require_exp: bool = Field(True, description="refuse tokens without exp")
    jwt_leeway_s: float = Field(5.0, ge=0, le=300, description="clock skew allowed on exp")
    jwks_cache_s: float = Field(600.0, gt=0, description="how long fetched keys are trusted")
    jwks_refetch_min_s: float = Field(30.0, ge=0, description="at most one refetch this often")
    jwks_timeout_s: float = Field(5.0, gt=0, le=60)
    premium_lookup: str | None = Field(
        None, description="PostgreSQL [schema.]table.column deciding premium per user"
    )
    premium_lookup_key: str = Field("id", description="the lookup table's user id column")
    premium_lookup_cache_s: float = Field(60.0, ge=0)
    metrics_token: str | None = Field(None, description="a bearer token /metrics requires")
    metrics_port: int = Field(0, ge=0, le=65535, description="serve /metrics apart, on this port")
    request_timeout_s: float = Field(
        20.0,
        gt=0,
        description="a request must arrive within this, plus 1 s per 16 KiB it has sent",
    )

    # leases and retries
    lease_s: float = Field(15.0, gt=0, description="a dead worker's task is taken over after this")
    heartbeat_s: float = Field(5.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    retry_base_s: float = Field(2.0, ge=0)
    retry_max_s: float = Field(300.0, ge=0)
    shutdown_grace_s: float = Field(30.0, ge=0)
    reap_interval_s: float = Field(5.0, gt=0)
    poll_interval_s: float = Field(1.0, gt=0, description="backstop poll when idle")
    startup_wait_s: float = Field(
        60.0, ge=0, description="a worker or API process waits this long for the store at start"
    )
    store_retry_s: float = Field(
        5.0, ge=0, description="an API read retries an unreachable store this long, then 503"
    )
    retention_days: float = Field(
        30.0, ge=0, description="finished jobs older than this are pruned"
    )
    gc_interval_s: float = Field(
        3600.0, gt=0, description="how often a worker prunes and removes file garbage"
    )

    # fairness and priority
    free_concurrency: int = Field(2, ge=1, description="running chapters per free user")
    premium_concurrency: int = Field(8, ge=1, description="running chapters per premium user")
    premium_priority_boost: int = Field(10, ge=0)
    starvation_every: int = Field(5, ge=0, description="one claim in N ignores priority")

    # workers
    worker_concurrency: int = Field(0, ge=0, description="0: one per CPU core")
    task_timeout_base_s: float = Field(
        300.0, gt=0, description="every task's time limit starts from this"
    )
    task_timeout_per_kchar_s: float = Field(
        60.0, ge=0, description="a chapter's limit grows by this per 1000 characters"
    )
    task_timeout_per_kchar_by_engine: dict[str, float] = Field(
        default_factory=dict,
        description='per engine, as JSON, replacing the above: {"openai": 120}',
    )
    engine_concurrency: dict[str, int] = Field(
        default_factory=dict,
        description='per engine, as JSON: chapters one worker runs on it at once {"openai": 4}',
    )
    engine_calls_per_minute: dict[str, float] = Field(
        default_factory=dict,
        description='per engine, as JSON: calls one worker makes to it a minute {"openai": 50}',
    )
    assemble_timeout_s: float = Field(
        1800.0, ge=0, description="an assemble task's limit, on top of the base"
    )

    # limits on what users submit
    max_chapters: int = Field(500, ge=1)
    max_chapter_chars: int = Field(200_000, ge=1)
    max_book_chars: int = Field(2_000_000, ge=1)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    submissions_per_minute: int = Field(30, ge=1)
    previews_per_minute: int = Field(20, ge=1, description="voice previews a user may make")
    preview_max_chars: int = Field(300, ge=1, le=5000, description="text of one preview")
    max_active_jobs: int = Field(20, ge=1)
    parse_concurrency: int = Field(2, ge=1, description="books parsed at once, off the event loop")
    parse_queue: int = Field(
        64, ge=0, description="submissions waiting to be parsed before more answer 503"
    )
    max_batch_jobs: int = Field(100, ge=1, description="books in one batch submission")

    # defaults for a job
    default_engine: str = "espeak"
    default_voice: str = "en-us"
    default_format: str = "m4b"
    loudness_lufs: float = Field(
        -18.0, ge=-40.0, le=-10.0, description="integrated loudness of every chapter (LUFS)"
    )
    true_peak_db: float = Field(-3.0, ge=-9.0, le=0.0, description="true-peak ceiling (dBTP)")
    normalize_loudness: bool = Field(True, description="bring every chapter to loudness_lufs")
    chapter_start_ms: int = Field(500, ge=0, le=10_000, description="silence before a chapter")
    chapter_end_ms: int = Field(1500, ge=0, le=10_000, description="silence after a chapter")

    # operations: cost and service levels (docs/operations.md)
    price_per_million_chars: dict[str, float] = Field(
        default_factory=lambda: {"espeak": 0.0, "piper": 0.0, "openai": 15.0},
        description='per engine, as JSON: {"espeak": 0, "openai": 15}',
    )
    sla_premium_wait_p95_s: float = Field(60.0, gt=0, description="premium queue wait target")
    sla_free_wait_p95_s: float = Field(600.0, gt=0, description="free queue wait target")
    sla_window_s: float = Field(3600.0, gt=0, description="jobs created this recently count")
    analytics_max_jobs: int = Field(20_000, ge=1, description="jobs one report reads at most")

    # webhooks (docs/api.md)
    webhooks_enabled: bool = Field(True, description="workers deliver webhooks")
    webhooks_allow_private: bool = Field(
        False, description="allow private, loopback and link-local targets (tests only)"
    )
    webhooks_allow_http: bool = Field(True, description="allow http:// targets (https advised)")
    webhooks_timeout_s: float = Field(10.0, gt=0, le=120, description="one attempt's deadline")
    webhooks_retry_for_s: float = Field(
        86400.0, ge=0, description="retry a failing delivery this long, then give up"
    )
    webhooks_retry_base_s: float = Field(5.0, ge=0, description="first retry after about this")
    webhooks_retry_max_s: float = Field(3600.0, ge=0, description="longest wait between tries")
    webhooks_progress_interval_s: float = Field(
        10.0, ge=0, description="job.progress at most this often per job and endpoint"
    )
    webhooks_rotation_overlap_s: float = Field(
        86400.0, ge=0, description="the replaced secret still signs this long after rotation"
    )
    webhooks_concurrency: int = Field(8, ge=1, le=256, description="deliveries at once per worker")
    webhooks_poll_s: float = Field(1.0, gt=0, description="how often an idle worker looks")
    webhooks_max_per_user: int = Field(10, ge=1, description="endpoints one user may register")
    tracing: bool = Field(False, description="OpenTelemetry spans (pip install 'ttsqueue[otel]')")

    log_level: str = "INFO"

    @field_validator("jwt_secret")
    @classmethod
    def _long_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"TTSQUEUE_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes "
                "(a short HS256 secret can be guessed offline from any token)"
            )
        return value

    @field_validator(
        "task_timeout_per_kchar_by_engine", "engine_concurrency", "engine_calls_per_minute"
    )
    @classmethod
    def _non_negative_per_engine(cls, value: dict[str, float]) -> dict[str, float]:
        for engine, amount in value.items():
            if not amount >= 0:  # also refuses NaN
                raise ValueError(f"the value for engine {engine!r} must be 0 or more")
        return value

    @field_validator("jwt_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("https", "http"):
            raise ValueError("TTSQUEUE_JWT_JWKS_URL must be an https:// (or http://) URL")
        return value

    @cached_property
    def backend_options(self) -> BackendOptions:
        return BackendOptions(
            starvation_every=self.starvation_every, retention_days=self.retention_days
        )

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"
