-- prune: delete finished jobs (finished before ARGV[5]) with their tasks and events,
-- also those whose keys already expired. Returns how many jobs were deleted.
local now = clock()
return reply(prune_before(tonumber(ARGV[5])))
