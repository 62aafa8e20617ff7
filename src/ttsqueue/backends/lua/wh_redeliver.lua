-- wh_redeliver: ARGV[5] = endpoint id, ARGV[6] = delivery id. A delivery not running
-- turns pending, due now, attempts 0, retry window from now, back in its line. Returns
-- 1, or 0 when the endpoint has no such delivery.
local ep, d = ARGV[5], ARGV[6]
local k = key('wh_delivery', d)
local f = redis.call('HMGET', k, 'endpoint_id', 'job_id', 'status', 'seq')
if f[1] ~= ep then return reply(0) end
if f[3] == 'running' then return reply(1) end
local line = key('wh_line', ep, f[2])
local old_head = redis.call('ZRANGE', line, 0, 0)[1]
local now = num(clock())
redis.call('HSET', k, 'status', 'pending', 'attempts', 0, 'run_at', now, 'window_start', now,
  'updated_at', now)
redis.call('HDEL', k, 'delivered_at')
redis.call('ZREM', key('wh_done'), d)
redis.call('ZADD', line, f[4], d)
if old_head and old_head ~= d then redis.call('ZREM', key('wh_due'), old_head) end
wh_promote(ep, f[2])
return reply(1)
