-- release: give running tasks back without spending an attempt.
-- ARGV[5] = when they are due again ('' for now), ARGV[6..] = pairs (task id, token).
-- Returns how many were released.
local now = clock()
local due = now
if ARGV[5] ~= '' then due = math.max(now, tonumber(ARGV[5])) end
local released = 0
for i = 6, #ARGV, 2 do
  local tid = ARGV[i]
  local j, idx = held(tid, ARGV[i + 1])
  if j then
    local tk = key('tasks', j.id)
    stop_running(j, tid)
    set_task_status(j, idx, 'running', 'pending')
    redis.call('HINCRBY', tk, tf(idx, 'a'), -1)
    redis.call('HSET', tk, tf(idx, 'ra'), num(due), tf(idx, 'p'), '0')
    pending_add(j, tid, idx, due, now)
    jset(j, 'updated_at', num(now))
    refresh_progress(j)
    emit(j, 'task.released', jobj({'index', idx}), now)
    released = released + 1
  end
end
return reply(released)
