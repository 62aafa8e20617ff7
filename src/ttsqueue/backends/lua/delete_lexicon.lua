-- delete_lexicon: ARGV[5] = lexicon id. Returns 1, or 0 when there was none.
local text = redis.call('HGET', key('lexicons'), ARGV[5])
if not text then return reply(0) end
local owner = cjson.decode(text)['user_id']
redis.call('HDEL', key('lexicons'), ARGV[5])
redis.call('ZREM', key('user_lexicons', owner), ARGV[5])
redis.call('ZREM', key('lexicon_ids'), ARGV[5])
return reply(1)
