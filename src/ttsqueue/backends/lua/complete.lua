-- complete: finish tasks held with their current token.
-- ARGV[5..] = quadruples (task id, token, result JSON, duration_s JSON or '').
-- Returns 1 (done) or 0 (stale token, or the task is not running) per completion.
local now = clock()
local out = {}

local function complete_assemble(j, tid, idx, result)
  local jk = key('job', j.id)
  set_job_status(j, 'completed')
  redis.call('HSET', jk, 'result', result, 'finished_at', num(now), 'updated_at', num(now),
    'message', 'Completed')
  refresh_progress(j)
  emit(j, 'job.completed', jobj({'result', {raw = result}}), now)
  finish(j, now)
end

local function complete_chapter(j, tid, idx, task, duration)
  local jk = key('job', j.id)
  j.completed = redis.call('HINCRBY', jk, 'completed', 1)
  redis.call('HSET', jk, 'updated_at', num(now))
  refresh_progress(j)
  local data = {'index', idx, 'title', task.title}
  if duration ~= '' then
    data[#data + 1] = 'duration_s'
    data[#data + 1] = {raw = duration}
  end
  emit(j, 'chapter.completed', jobj(data), now)
  if j.completed == j.n then
    local atid = j.id .. '.' .. j.n
    set_task_status(j, j.n, 'waiting', 'pending')
    redis.call('HSET', key('tasks', j.id), tf(j.n, 'ra'), num(now))
    pending_add(j, atid, j.n, now, now)
    set_job_status(j, 'assembling')
    redis.call('HSET', jk, 'message', 'Assembling audiobook')
    emit(j, 'job.assembling', '{}', now)
  end
end

for i = 5, #ARGV, 4 do
  local tid, token, result, duration = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local j, idx, task = held(tid, token)
  if not j then
    out[#out + 1] = 0
  else
    stop_running(j, tid)
    set_task_status(j, idx, 'running', 'completed')
    redis.call('HSET', key('tasks', j.id), tf(idx, 'r'), result, tf(idx, 'p'), '1',
      tf(idx, 'ft'), num(now))
    if idx == j.n then
      complete_assemble(j, tid, idx, result)
    else
      complete_chapter(j, tid, idx, task, duration)
    end
    out[#out + 1] = 1
  end
end
return reply(out)
