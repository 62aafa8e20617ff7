-- revoke_api_key: ARGV[5] = key id. Returns 1, or 0 when there was none.
local h = redis.call('HGET', key('api_key_ids'), ARGV[5])
if not h then return reply(0) end
redis.call('HDEL', key('api_key_ids'), ARGV[5])
redis.call('HDEL', key('api_keys'), h)
return reply(1)
