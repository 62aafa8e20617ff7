-- cancel: the job and every unfinished task turn cancelled.
-- ARGV[5] = job id, ARGV[6] = owner or '' (any). Returns 'ok', 'missing' or the
-- terminal status the job already has.
local now = clock()
local j = job_info(ARGV[5])
if not j or (ARGV[6] ~= '' and j.user ~= ARGV[6]) then return reply('missing') end
if j.status == 'completed' or j.status == 'failed' or j.status == 'cancelled' then
  return reply(j.status)
end
cancel_unfinished(j, now)
set_job_status(j, 'cancelled')
jset(j, 'finished_at', num(now), 'updated_at', num(now))
redis.call('ZREM', key('scheduled'), j.id)
refresh_progress(j)
emit(j, 'job.cancelled', '{}', now)
finish(j, now)
return reply('ok')
