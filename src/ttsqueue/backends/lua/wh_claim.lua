-- wh_claim: ARGV[5] = limit, ARGV[6] = lease seconds. Leases up to limit claimable
-- deliveries, oldest first (see backends/base.py). Returns {now, {delivery fields (flat),
-- endpoint url, secret, previous secret, previous until}...}.
local limit, lease_s = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = clock()
local found, seen = {}, {}
for _, zset in ipairs({key('wh_leases'), key('wh_due')}) do
  for _, d in ipairs(redis.call('ZRANGEBYSCORE', zset, '-inf', num(now), 'LIMIT', 0, limit)) do
    if not seen[d] then
      seen[d] = true
      local f = redis.call('HMGET', key('wh_delivery', d), 'seq', 'endpoint_id', 'job_id')
      local head = redis.call('ZRANGE', key('wh_line', f[2], f[3]), 0, 0)[1]
      if head == d then found[#found + 1] = {tonumber(f[1]), d, f[2]} end
    end
  end
end
table.sort(found, function(a, b) return a[1] < b[1] end)
local out = {}
local expires = num(now + lease_s)
for i = 1, math.min(limit, #found) do
  local d, ep = found[i][2], found[i][3]
  local k = key('wh_delivery', d)
  redis.call('HINCRBY', k, 'attempts', 1)
  redis.call('HINCRBY', k, 'token', 1)
  redis.call('HSET', k, 'status', 'running', 'lease_expires_at', expires, 'updated_at', num(now))
  redis.call('ZREM', key('wh_due'), d)
  redis.call('ZADD', key('wh_leases'), expires, d)
  out[#out + 1] = {redis.call('HGETALL', k),
    redis.call('HMGET', key('wh_endpoint', ep), 'url', 'secret', 'previous_secret',
      'previous_until')}
end
return reply({num(now), out})
