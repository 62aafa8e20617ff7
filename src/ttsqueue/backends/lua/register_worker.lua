-- register_worker: ARGV[5] = worker id, ARGV[6] = its JSON. Returns now.
local now = clock()
redis.call('HSET', key('workers'), ARGV[5], ARGV[6])
redis.call('ZADD', key('workers_seen'), num(now), ARGV[5])
return reply(num(now))
