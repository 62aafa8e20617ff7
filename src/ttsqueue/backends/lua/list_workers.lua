-- list_workers: workers seen within ARGV[5] seconds; older entries are dropped.
-- Returns {worker JSON, last seen}... by id.
local now = clock()
local since = now - tonumber(ARGV[5])
local seen = key('workers_seen')
for _, id in ipairs(redis.call('ZRANGEBYSCORE', seen, '-inf', '(' .. num(since))) do
  redis.call('HDEL', key('workers'), id)
  redis.call('ZREM', seen, id)
end
local out = {}
local v = redis.call('ZRANGE', seen, 0, -1, 'WITHSCORES')
for i = 1, #v, 2 do
  local info = redis.call('HGET', key('workers'), v[i])
  if info then out[#out + 1] = {info, v[i + 1]} end
end
return reply(out)
