-- put_lexicon: ARGV[5] = lexicon id, ARGV[6] = user id, ARGV[7] = JSON (user, name,
-- entries, updated_at), ARGV[8] = created_at (kept for a new one), ARGV[9] = the user's
-- cap on lexicons. Returns the created_at stored, 'other' when the id is another user's,
-- or 'limit' when a new one would pass the cap.
local mine = key('user_lexicons', ARGV[6])
if redis.call('HEXISTS', key('lexicons'), ARGV[5]) == 1 then
  local created = redis.call('ZSCORE', mine, ARGV[5])
  if not created then return reply('other') end
  redis.call('HSET', key('lexicons'), ARGV[5], ARGV[7])
  return reply(created)
end
if redis.call('ZCARD', mine) >= tonumber(ARGV[9]) then return reply('limit') end
redis.call('HSET', key('lexicons'), ARGV[5], ARGV[7])
redis.call('ZADD', mine, ARGV[8], ARGV[5])
redis.call('ZADD', key('lexicon_ids'), ARGV[8], ARGV[5])
return reply(ARGV[8])
