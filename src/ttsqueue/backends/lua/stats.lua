-- stats: counts by job and task status. ARGV[5] = user or '' (all).
-- Returns {counts as a flat field/value list, users, oldest pending run_at or ''}.
local now = clock()
if RETENTION > 0 then prune_before(now - RETENTION) end
local user = ARGV[5]
local counts, users, pk
if user == '' then
  counts = redis.call('HGETALL', key('counts'))
  users = redis.call('HLEN', key('users'))
  pk = key('pending')
else
  counts = redis.call('HGETALL', key('user_counts', user))
  users = redis.call('HEXISTS', key('users'), user)
  pk = key('user_pending', user)
end
local oldest = ''
local head = redis.call('ZRANGEBYSCORE', pk, '-inf', num(now), 'WITHSCORES', 'LIMIT', 0, 1)
if head[1] then oldest = head[2] end
return reply({counts, users, oldest})
