-- complete: finish tasks held with their current token.
-- ARGV[5..] = quadruples (task id, token, result JSON, duration_s JSON or '').
-- Returns 1 (done) or 0 (stale token, or the task is not running) per completion.
local now = clock()
local at = num(now)
defer_zadds() -- nothing below reads back the sorted sets it adds to
local out = {}
-- Running tasks that stopped: their leases are dropped and their users' running counts
-- lowered in one command each at the end (nothing below reads them).
local STOPPED, STOPPED_BY_USER, USERS_SEEN = {}, {}, {}

local function complete_assemble(j, result)
  set_job_status(j, 'completed')
  jset(j, 'result', result, 'finished_at', at, 'updated_at', at, 'message', 'Completed')
  refresh_progress(j)
  emit(j, 'job.completed', jobj({'result', {raw = result}}), now)
  finish(j, now)
end

local function complete_chapter(j, idx, task, duration)
  j.completed = j.completed + 1
  jset(j, 'completed', j.completed, 'updated_at', at)
  refresh_progress(j)
  local data = {'index', idx, 'title', task.title}
  if duration ~= '' then
    data[#data + 1] = 'duration_s'
    data[#data + 1] = {raw = duration}
  end
  emit(j, 'chapter.completed', jobj(data), now)
  if j.completed == j.n then
    local atid = j.id .. '.' .. j.n
    redis.call('HSET', key('tasks', j.id), tf(j.n, 's'), 'pending', tf(j.n, 'ra'), at)
    count(j.user, 't:waiting', -1)
    count(j.user, 't:pending', 1)
    pending_add(j, atid, j.n, now, now)
    set_job_status(j, 'assembling')
    jset(j, 'message', 'Assembling audiobook')
    emit(j, 'job.assembling', '{}', now)
  end
end

for i = 5, #ARGV, 4 do
  local tid, token, result, duration = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local j, idx, task = held(tid, token)
  if not j then
    out[#out + 1] = 0
  else
    STOPPED[#STOPPED + 1] = tid
    local u = j.user
    if not STOPPED_BY_USER[u] then
      STOPPED_BY_USER[u] = 0
      USERS_SEEN[#USERS_SEEN + 1] = u
    end
    STOPPED_BY_USER[u] = STOPPED_BY_USER[u] + 1
    redis.call('HSET', key('tasks', j.id), tf(idx, 's'), 'completed', tf(idx, 'r'), result,
      tf(idx, 'p'), '1', tf(idx, 'ft'), at)
    count(u, 't:running', -1)
    count(u, 't:completed', 1)
    if idx == j.n then
      complete_assemble(j, result)
    else
      complete_chapter(j, idx, task, duration)
    end
    out[#out + 1] = 1
  end
end
if #STOPPED > 0 then
  call_many('ZREM', key('leases'), STOPPED)
  for _, u in ipairs(USERS_SEEN) do
    redis.call('HINCRBY', key('user', u), 'running', -STOPPED_BY_USER[u])
    if not WAKE and redis.call('EXISTS', key('user_pending', u)) == 1 then WAKE = true end
  end
end
return reply(out)
