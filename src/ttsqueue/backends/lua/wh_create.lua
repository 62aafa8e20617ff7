-- wh_create: ARGV[5] = endpoint id, ARGV[6] = user id, ARGV[7] = "<progress s>|<types>",
-- then field, value pairs of the endpoint. Returns 1, or 0 when the id exists already.
local id, user = ARGV[5], ARGV[6]
if redis.call('SADD', key('wh_endpoints'), id) == 0 then return reply(0) end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', key('wh_endpoint', id), unpack(fields))
redis.call('HSET', key('wh_user', user), id, ARGV[7])
return reply(1)
