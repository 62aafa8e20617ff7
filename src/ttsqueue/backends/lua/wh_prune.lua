-- wh_prune: ARGV[5] = older than, ARGV[6] = limit. Deletes up to limit delivered or
-- failed deliveries that finished before then (and the progress throttle of a job
-- whose progress delivery goes). Returns how many.
local old = redis.call('ZRANGEBYSCORE', key('wh_done'), '-inf', '(' .. ARGV[5], 'LIMIT', 0,
  tonumber(ARGV[6]))
for _, d in ipairs(old) do
  local k = key('wh_delivery', d)
  local f = redis.call('HMGET', k, 'endpoint_id', 'job_id', 'type')
  if f[1] then
    redis.call('ZREM', key('wh_log', f[1]), d)
    if f[3] == 'job.progress' then redis.call('HDEL', key('wh_progress', f[1]), f[2]) end
  end
  redis.call('DEL', k)
  redis.call('ZREM', key('wh_done'), d)
end
return reply(#old)
