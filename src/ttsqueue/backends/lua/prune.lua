-- prune: delete finished jobs (finished before ARGV[5]) with their tasks and events,
-- also those whose keys already expired. Returns the ids of the jobs deleted (at most
-- 1000 per call).
local now = clock()
return reply(prune_before(tonumber(ARGV[5])))
