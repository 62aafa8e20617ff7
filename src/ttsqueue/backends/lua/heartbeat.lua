-- heartbeat: extend the leases still held; record in-task progress.
-- ARGV[5] = lease seconds; then triples (task id, token, progress or '').
-- Returns {extended ids, cancelled ids, lost ids}.
local now = clock()
local lease_s = tonumber(ARGV[5])
local extended, cancelled, lost = {}, {}, {}
local moved, moved_order = {}, {}
for i = 6, #ARGV, 3 do
  local tid, token, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local jid, idx = split_task(tid)
  local j = jid and job_info(jid)
  local v = j and redis.call('HMGET', key('tasks', jid), tf(idx, 's'), tf(idx, 'k'), tf(idx, 'p'))
  if not j or not v[2] or v[2] ~= token then
    lost[#lost + 1] = tid
  elseif j.status == 'cancelled' or j.status == 'failed' then
    cancelled[#cancelled + 1] = tid
  elseif v[1] ~= 'running' then
    lost[#lost + 1] = tid
  else
    redis.call('ZADD', key('leases'), num(now + lease_s), tid)
    extended[#extended + 1] = tid
    if value ~= '' then
      local p = math.min(1.0, math.max(0.0, tonumber(value)))
      if p ~= tonumber(v[3]) then
        redis.call('HSET', key('tasks', jid), tf(idx, 'p'), num(p))
        if not moved[jid] then
          moved[jid] = true
          moved_order[#moved_order + 1] = j
        end
      end
    end
  end
end
for _, j in ipairs(moved_order) do
  jset(j, 'updated_at', num(now))
  local pct = refresh_progress(j)
  local v = redis.call('HMGET', key('job', j.id), 'message', 'current')
  local current = cjson.null
  if v[2] then current = tonumber(v[2]) end
  emit(j, 'job.progress', jobj({'progress_percent', pct, 'progress_message', v[1] or '',
    'current_chapter', current}), now)
end
return reply({extended, cancelled, lost})
