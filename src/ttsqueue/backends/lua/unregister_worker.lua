-- unregister_worker: ARGV[5] = worker id.
redis.call('HDEL', key('workers'), ARGV[5])
redis.call('ZREM', key('workers_seen'), ARGV[5])
return reply(0)
