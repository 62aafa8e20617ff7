-- reap: take back expired leases; scheduled jobs now due turn queued.
-- Returns {schema re-initialised (1/0), requeued, failed}.
local now = clock()
local reinit = schema_check()
local requeued, failed = take_back_expired(now)
if promote_due(now) > 0 then WAKE = true end
local sk = key('scheduled')
for _, jid in ipairs(redis.call('ZRANGEBYSCORE', sk, '-inf', num(now))) do
  redis.call('ZREM', sk, jid)
  local j = job_info(jid)
  if j and j.status == 'scheduled' then
    set_job_status(j, 'queued')
    jset(j, 'updated_at', num(now))
    emit(j, 'job.queued', jobj({'priority', j.priority, 'total_chapters', j.n}), now)
  end
end
return reply({reinit, requeued, failed})
