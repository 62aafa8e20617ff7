-- enqueue: insert jobs and their tasks in one step.
-- ARGV[5] = number of specs; then per spec: its JSON (id, user_id, priority, title,
-- author, work_id, voice, output_format, run_at, idem, max_attempts, max_concurrency,
-- metadata, titles), then one payload JSON per task (chapters, then assemble).
-- Returns {job id, created (1/0)} per spec, or the error 'duplicate id'.
local now = clock()
schema_check()
local count_ = tonumber(ARGV[5])
local specs, at = {}, 6
for s = 1, count_ do
  local spec = cjson.decode(ARGV[at])
  spec.payload_at = at + 1
  at = at + 2 + #spec.titles
  specs[s] = spec
end

-- Refuse the whole batch up front, so that a bad spec inserts nothing.
local seen = {}
for _, spec in ipairs(specs) do
  if spec.idem == cjson.null then
    if seen[spec.id] or redis.call('EXISTS', key('job', spec.id)) == 1 then
      return redis.error_reply('duplicate id')
    end
    seen[spec.id] = true
  end
end

local out = {}
for _, spec in ipairs(specs) do
  local jid, user = spec.id, spec.user_id
  local existing
  if spec.idem ~= cjson.null then
    existing = redis.call('HGET', key('idem'), user .. '\n' .. spec.idem)
    if existing and redis.call('EXISTS', key('job', existing)) == 0 then existing = nil end
  end
  if existing then
    out[#out + 1] = {existing, 0}
  else
    local n = #spec.titles
    local run_at = spec.run_at
    local scheduled = run_at ~= cjson.null and run_at > now
    local due = now
    if run_at ~= cjson.null then due = run_at end
    local order = redis.call('INCR', key('jobseq'))
    local status = scheduled and 'scheduled' or 'queued'
    local jk = key('job', jid)
    redis.call('HSET', jk, 'id', jid, 'user_id', user, 'status', status,
      'priority', spec.priority, 'title', spec.title, 'author', spec.author,
      'voice', spec.voice, 'output_format', spec.output_format, 'total', n, 'completed', 0,
      'progress', '0', 'message', '', 'attempts', 0, 'created_at', num(now),
      'updated_at', num(now), 'metadata', spec.metadata, 'max_attempts', spec.max_attempts,
      'order', order, 'seq', 0)
    if spec.work_id ~= cjson.null then redis.call('HSET', jk, 'work_id', spec.work_id) end
    if run_at ~= cjson.null then redis.call('HSET', jk, 'run_at', num(run_at)) end
    if spec.idem ~= cjson.null then
      redis.call('HSET', jk, 'idem', spec.idem)
      redis.call('HSET', key('idem'), user .. '\n' .. spec.idem, jid)
    end
    local tk, xk = key('tasks', jid), key('text', jid)
    for i = 0, n do
      local title = spec.title
      if i < n then title = spec.titles[i + 1] end
      redis.call('HSET', tk, tf(i, 's'), i < n and 'pending' or 'waiting', tf(i, 'a'), 0,
        tf(i, 'k'), 0, tf(i, 'p'), '0', tf(i, 't'), title, tf(i, 'ra'), num(due))
      redis.call('HSET', xk, i, ARGV[spec.payload_at + i])
    end
    local uk = key('user', user)
    redis.call('HSET', uk, 'cap', spec.max_concurrency)
    redis.call('HSETNX', uk, 'running', 0)
    redis.call('HSETNX', uk, 'last_served', 0)
    redis.call('ZADD', key('jobs'), 0, jid)
    redis.call('ZADD', key('user_jobs', user), 0, jid)
    redis.call('HINCRBY', key('users'), user, 1)
    count(user, 'j:' .. status, 1)
    count(user, 't:pending', n)
    count(user, 't:waiting', 1)
    local j = job_info(jid)
    for i = 0, n - 1 do pending_add(j, jid .. '.' .. i, i, due, now) end
    if scheduled then
      redis.call('ZADD', key('scheduled'), num(run_at), jid)
      emit(j, 'job.scheduled', jobj({'run_at', run_at}), now)
    else
      emit(j, 'job.queued', jobj({'priority', spec.priority, 'total_chapters', n}), now)
    end
    out[#out + 1] = {jid, 1}
  end
end
return reply(out)
