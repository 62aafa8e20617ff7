-- next_due: seconds until a delayed task is due or a lease expires ('' when neither).
local now = clock()
local best
for _, name in ipairs({'delayed', 'leases'}) do
  local head = redis.call('ZRANGE', key(name), 0, 0, 'WITHSCORES')
  if head[1] and (not best or tonumber(head[2]) < best) then best = tonumber(head[2]) end
end
if not best then return reply('') end
return reply(num(math.max(0, best - now)))
