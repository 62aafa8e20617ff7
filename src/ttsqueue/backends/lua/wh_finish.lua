-- wh_finish: ARGV[5] = delivery id, ARGV[6] = token, ARGV[7] = the new status
-- (delivered, pending or failed), ARGV[8] = retry at (pending), ARGV[9] = the response
-- status or '', ARGV[10] = the error or ''. Returns 1, or 0 for a stale token.
local d = ARGV[5]
local k = key('wh_delivery', d)
local f = redis.call('HMGET', k, 'status', 'token', 'endpoint_id', 'job_id')
if f[1] ~= 'running' or f[2] ~= ARGV[6] then return reply(0) end
local now = num(clock())
local status = ARGV[7]
redis.call('ZREM', key('wh_leases'), d)
redis.call('HDEL', k, 'lease_expires_at')
redis.call('HSET', k, 'status', status, 'updated_at', now)
for _, pair in ipairs({{'response_status', ARGV[9]}, {'error', ARGV[10]}}) do
  if pair[2] == '' then redis.call('HDEL', k, pair[1])
  else redis.call('HSET', k, pair[1], pair[2]) end
end
if status == 'pending' then
  redis.call('HSET', k, 'run_at', ARGV[8])
else
  if status == 'delivered' then redis.call('HSET', k, 'delivered_at', now) end
  redis.call('ZREM', key('wh_line', f[3], f[4]), d)
  redis.call('ZADD', key('wh_done'), now, d)
end
wh_promote(f[3], f[4])
return reply(1)
