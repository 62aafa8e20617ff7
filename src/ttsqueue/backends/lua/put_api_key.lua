-- put_api_key: ARGV[5] = key id, ARGV[6] = key hash, ARGV[7] = JSON.
-- Returns 1, or 0 when the id or the hash exists already.
if redis.call('HEXISTS', key('api_key_ids'), ARGV[5]) == 1
  or redis.call('HEXISTS', key('api_keys'), ARGV[6]) == 1 then
  return reply(0)
end
redis.call('HSET', key('api_key_ids'), ARGV[5], ARGV[6])
redis.call('HSET', key('api_keys'), ARGV[6], ARGV[7])
return reply(1)
