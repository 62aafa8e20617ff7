-- wh_delete: ARGV[5] = endpoint id, ARGV[6] = its owner, or '' for any. Deletes the
-- endpoint with its deliveries. Returns 1, or 0 when there was none (or another's).
local id, owner = ARGV[5], ARGV[6]
local user = redis.call('HGET', key('wh_endpoint', id), 'user_id')
if not user or (owner ~= '' and owner ~= user) then return reply(0) end
local ids = redis.call('ZRANGE', key('wh_log', id), 0, -1)
local lines = {}
for _, d in ipairs(ids) do
  local job = redis.call('HGET', key('wh_delivery', d), 'job_id')
  if job then lines[job] = true end
  redis.call('ZREM', key('wh_due'), d)
  redis.call('ZREM', key('wh_leases'), d)
  redis.call('ZREM', key('wh_done'), d)
  redis.call('DEL', key('wh_delivery', d))
end
for job in pairs(lines) do redis.call('DEL', key('wh_line', id, job)) end
redis.call('DEL', key('wh_log', id), key('wh_progress', id), key('wh_endpoint', id))
redis.call('HDEL', key('wh_user', user), id)
redis.call('SREM', key('wh_endpoints'), id)
return reply(1)
