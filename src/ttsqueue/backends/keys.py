"""Every Redis key ttsqueue uses, in one place.

All keys live under a configurable prefix (URL query parameter ``prefix``, default
``ttsqueue``). A job's keys carry its id as a hash tag (``{<job id>}``) so that they
share one Cluster slot. Global keys (the queue structures) carry no tag of their own;
a prefix that is itself a hash tag (``{tq}``) puts every key in one slot, which is the
only way the claim script runs on Redis Cluster (see docs/redis.md).

The Lua scripts build keys with the same templates: :data:`TEMPLATES` is rendered into
the shared prelude (``lua/_prelude.lua``) at load time, and the prefix is passed as the
first argument of every call, so one script text (one SHA) serves every prefix.
"""

from __future__ import annotations

DEFAULT_PREFIX = "ttsqueue"
SCHEMA_VERSION = 1

# name -> key template after the prefix; ``%s`` placeholders are filled in order.
TEMPLATES: dict[str, str] = {
    # global
    "schema": ":schema_version",  # integer: the layout version of these keys
    "claims": ":claims",  # the claim counter (see backends/base.py)
    "jobseq": ":jobseq",  # enqueue counter, the FIFO order of jobs
    "eventid": ":eventid",  # store-wide event order
    "prios": ":prios",  # zset: priorities with ready work, scored by priority
    "rr": ":rr:%s",  # zset per priority: users with ready work, scored by last_served
    "ready": ":ready:%s:%s",  # zset per (priority, user): ready task ids, FIFO score
    "fifo": ":fifo",  # zset: every ready task id, FIFO score (the starvation slot)
    "pending": ":pending",  # zset: every pending task id, scored by run_at
    "user_pending": ":pending:%s",  # the same per user
    "delayed": ":delayed",  # zset: pending task ids not yet due, scored by run_at
    "scheduled": ":scheduled",  # zset: scheduled job ids, scored by run_at
    "leases": ":leases",  # zset: running task ids, scored by lease expiry
    "user": ":user:%s",  # hash per user: running, cap, last_served
    "jobs": ":jobs",  # zset (lex): every job id, for admin listings
    "user_jobs": ":user_jobs:%s",  # zset (lex): one user's job ids
    "counts": ":counts",  # hash: jobs/tasks by status, all users ("j:queued", "t:running")
    "user_counts": ":counts:%s",  # the same per user
    "users": ":users",  # hash: user id -> number of jobs kept
    "idem": ":idem",  # hash: "<user>\n<key>" -> job id
    "done": ":done",  # zset: finished job ids, scored by finished_at
    "done_meta": ":done_meta",  # hash: finished job id -> what prune needs once keys expired
    "workers": ":workers",  # hash: worker id -> JSON WorkerInfo
    "workers_seen": ":workers_seen",  # zset: worker id scored by last_seen_at
    "api_keys": ":api_keys",  # hash: key hash -> JSON ApiKey
    "api_key_ids": ":api_key_ids",  # hash: key id -> key hash
    "pauses": ":pauses",  # hash: engine ("" for every engine) -> paused since
    "drains": ":drains",  # hash: worker id -> when a drain was asked
    "wh_endpoints": ":wh:endpoints",  # set: every webhook endpoint id
    "wh_endpoint": ":wh:ep:%s",  # hash per endpoint: its fields
    "wh_user": ":wh:user:%s",  # hash per user: endpoint id -> "<progress s>|<types>"
    "wh_seq": ":wh:seq",  # webhook delivery counter (creation order)
    "wh_delivery": ":wh:d:%s",  # hash per delivery: its fields
    "wh_log": ":wh:log:%s",  # zset per endpoint: delivery ids by seq
    "wh_line": ":wh:line:%s:%s",  # zset per (endpoint, job): open delivery ids by seq
    "wh_due": ":wh:due",  # zset: pending heads of lines, scored by run_at
    "wh_leases": ":wh:leases",  # zset: running deliveries, scored by lease expiry
    "wh_progress": ":wh:progress:%s",  # hash per endpoint: job id -> last progress sent
    "wh_done": ":wh:done",  # zset: delivered or failed deliveries by when they finished
    "reply": ":reply:%s",  # string per script call: its reply, kept briefly for a resend
    "lexicons": ":lexicons",  # hash: lexicon id -> JSON (user, name, entries, updated_at)
    "lexicon_ids": ":lexicon_ids",  # zset: every lexicon id, scored by created_at
    "user_lexicons": ":lexicons:%s",  # zset per user: their lexicon ids, by created_at
    # per job (one slot: the job id is the hash tag)
    "job": ":job:{%s}",  # hash: the job's fields
    "tasks": ":job:{%s}:tasks",  # hash: "<index>.<field>" for every task
    "text": ":job:{%s}:text",  # hash: chapter index -> text
    "events": ":job:{%s}:events",  # stream: the job's events, id "<seq>-0", capped
    # pub/sub channels
    "wake_channel": ":wake",  # "work may be runnable"
    "event_channel": ":events",  # every event as JSON, for live subscribers
}


class Keys:
    """Key names for one prefix, for the Python side (reads, tests, cleanup)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"invalid Redis key prefix {prefix!r}")
        self.prefix = prefix

    def key(self, name: str, *args: object) -> str:
        template = TEMPLATES[name]
        return self.prefix + (template % args if args else template)

    @property
    def schema(self) -> str:
        return self.key("schema")

    @property
    def wake_channel(self) -> str:
        return self.key("wake_channel")

    @property
    def event_channel(self) -> str:
        return self.key("event_channel")

    def job(self, job_id: str) -> str:
        return self.key("job", job_id)

    def events(self, job_id: str) -> str:
        return self.key("events", job_id)

    def pattern(self) -> str:
        """A SCAN MATCH pattern for every key under this prefix."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)
        return escaped + ":*"


def lua_templates() -> str:
    """The templates as a Lua table constructor, rendered into the prelude."""
    items = ", ".join(f'{name} = "{template}"' for name, template in TEMPLATES.items())
    return "{" + items + "}"
