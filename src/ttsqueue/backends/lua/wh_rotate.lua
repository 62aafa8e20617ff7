-- wh_rotate: ARGV[5] = endpoint id, ARGV[6] = its owner or '', ARGV[7] = the new secret,
-- ARGV[8] = until when the replaced one still signs. Returns 1, or 0 when none.
local id, owner = ARGV[5], ARGV[6]
local k = key('wh_endpoint', id)
local user = redis.call('HGET', k, 'user_id')
if not user or (owner ~= '' and owner ~= user) then return reply(0) end
redis.call('HSET', k, 'previous_secret', redis.call('HGET', k, 'secret'), 'secret', ARGV[7],
  'previous_until', ARGV[8])
return reply(1)
