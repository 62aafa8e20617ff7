-- init_schema: set the schema version when missing. Returns {created (1/0), version}.
local created = schema_check()
return reply({created, redis.call('GET', KEYS[1])})
