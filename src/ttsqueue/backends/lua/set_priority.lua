-- set_priority: change an unfinished job's priority, moving its pending tasks.
-- ARGV[5] = job id, ARGV[6] = priority. Returns 'ok', 'missing' or the terminal status.
local now = clock()
local j = job_info(ARGV[5])
if not j then return reply('missing') end
if j.status == 'completed' or j.status == 'failed' or j.status == 'cancelled' then
  return reply(j.status)
end
local priority = tonumber(ARGV[6])
local tk = key('tasks', j.id)
local moved = {}
for i = 0, j.n do
  local v = redis.call('HMGET', tk, tf(i, 's'), tf(i, 'ra'))
  if v[1] == 'pending' then
    local tid = j.id .. '.' .. i
    pending_remove(j, tid)
    moved[#moved + 1] = {tid, i, tonumber(v[2])}
  end
end
j.priority = priority
jset(j, 'priority', priority, 'updated_at', num(now))
for _, m in ipairs(moved) do pending_add(j, m[1], m[2], m[3], now) end
emit(j, 'job.priority_changed', jobj({'priority', priority}), now)
return reply('ok')
