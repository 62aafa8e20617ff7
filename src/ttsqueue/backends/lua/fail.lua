-- fail: record a failed run. ARGV[5] = task id, ARGV[6] = token, ARGV[7] = error,
-- ARGV[8] = retry_at or ''. Returns 1, or 0 for a stale token.
local now = clock()
local tid, token, err, retry_at = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local j, idx = held(tid, token)
if not j then return reply(0) end
local attempts = tonumber(redis.call('HGET', key('tasks', j.id), tf(idx, 'a')))
if retry_at ~= '' and attempts < j.max_attempts then
  requeue(j, tid, idx, err, tonumber(retry_at), now)
else
  fail_job(j, tid, idx, err, now)
end
return reply(1)
