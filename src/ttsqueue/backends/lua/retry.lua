-- retry: run a failed or cancelled job again, redoing only unfinished chapters.
-- ARGV[5] = job id, ARGV[6] = owner or '', ARGV[7] = the owner's cap on unfinished jobs
-- or ''. Returns 'ok', 'missing' or the status that forbids it, or the error
-- 'active jobs limit <active> <cap> <user>'.
local now = clock()
local j = job_info(ARGV[5])
if not j or (ARGV[6] ~= '' and j.user ~= ARGV[6]) then return reply('missing') end
if j.status ~= 'failed' and j.status ~= 'cancelled' then return reply(j.status) end
if ARGV[7] ~= '' then
  local n, cap = active_jobs(j.user), tonumber(ARGV[7])
  if n >= cap then return active_limit_error(j.user, n, cap) end
end
unfinish(j)
local tk, jk = key('tasks', j.id), key('job', j.id)
local all_done = true
for i = 0, j.n do
  local s = redis.call('HGET', tk, tf(i, 's'))
  if s ~= 'completed' then
    if i < j.n then all_done = false end
    local to = 'waiting'
    if i < j.n or all_done then to = 'pending' end
    set_task_status(j, i, s, to)
    redis.call('HSET', tk, tf(i, 'ra'), num(now), tf(i, 'a'), 0, tf(i, 'p'), '0')
    redis.call('HDEL', tk, tf(i, 'e'), tf(i, 'ft'))
    if to == 'pending' then pending_add(j, j.id .. '.' .. i, i, now, now) end
  end
end
set_job_status(j, 'queued')
redis.call('HDEL', jk, 'error', 'finished_at')
jset(j, 'updated_at', num(now))
refresh_progress(j)
emit(j, 'job.retried', '{}', now)
WAKE = true
return reply('ok')
