-- enqueue: insert jobs and their tasks in one step.
-- ARGV[5] = number of specs; then per spec: its JSON (id, user_id, priority, title,
-- author, work_id, voice, output_format, run_at, idem, max_attempts, max_concurrency,
-- max_active_jobs, metadata, titles), then one payload JSON per task (chapters, then assemble).
-- Returns {the clock reading written as created_at, {job id, created (1/0), status}
-- per spec}, or the error 'duplicate id' or 'active jobs limit <active> <cap> <user>'.
local now = clock()
local at = num(now)
schema_check()
local count_ = tonumber(ARGV[5])
local specs, argi = {}, 6
for s = 1, count_ do
  local spec = cjson.decode(ARGV[argi])
  spec.payload_at = argi + 1
  argi = argi + 2 + #spec.titles
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

-- The cap on unfinished jobs: a spec that inserts a job (no idempotency key, or a key
-- new to the store and to the batch) needs its owner below its max_active_jobs,
-- counting the batch's earlier inserts; else the whole batch is refused.
local capped = false
for _, spec in ipairs(specs) do
  if spec.max_active_jobs ~= nil and spec.max_active_jobs ~= cjson.null then capped = true end
end
local active, keys_seen = {}, {}
for _, spec in ipairs(capped and specs or {}) do
  local inserts = true
  if spec.idem ~= cjson.null then
    local k = spec.user_id .. '\n' .. spec.idem
    local existing = redis.call('HGET', key('idem'), k)
    if keys_seen[k] or (existing and redis.call('EXISTS', key('job', existing)) == 1) then
      inserts = false
    end
    keys_seen[k] = true
  end
  local cap = spec.max_active_jobs
  if inserts then
    local n = active[spec.user_id] or active_jobs(spec.user_id)
    if cap ~= nil and cap ~= cjson.null and n >= cap then
      return active_limit_error(spec.user_id, n, cap)
    end
    active[spec.user_id] = n + 1
  end
end

-- Nothing below reads back the sorted sets it adds to.
defer_zadds()

-- Per user: the cap of their last spec, and how many jobs they gained.
local USERS, USER_ORDER = {}, {}
local function user_seen(u, cap)
  local s = USERS[u]
  if not s then
    s = {jobs = 0}
    USERS[u] = s
    USER_ORDER[#USER_ORDER + 1] = u
    local uk = key('user', u)
    redis.call('HSETNX', uk, 'running', 0)
    redis.call('HSETNX', uk, 'last_served', 0)
  end
  s.cap = cap
  s.jobs = s.jobs + 1
end

local order = tonumber(redis.call('GET', key('jobseq')) or '0')
local first_order = order
local out = {}
for _, spec in ipairs(specs) do
  local jid, user = spec.id, spec.user_id
  local existing
  if spec.idem ~= cjson.null then
    existing = redis.call('HGET', key('idem'), user .. '\n' .. spec.idem)
    if existing and redis.call('EXISTS', key('job', existing)) == 0 then existing = nil end
  end
  if existing then
    out[#out + 1] = {existing, 0, ''}
  else
    local n = #spec.titles
    local run_at = spec.run_at
    local scheduled = run_at ~= cjson.null and run_at > now
    local due = now
    if run_at ~= cjson.null then due = run_at end
    order = order + 1
    local status = scheduled and 'scheduled' or 'queued'
    local fields = {'id', jid, 'user_id', user, 'status', status,
      'priority', spec.priority, 'title', spec.title, 'author', spec.author,
      'voice', spec.voice, 'output_format', spec.output_format, 'total', n, 'completed', 0,
      'progress', '0', 'message', '', 'attempts', 0, 'created_at', at,
      'updated_at', at, 'metadata', spec.metadata, 'max_attempts', spec.max_attempts,
      'order', order, 'seq', 1}
    if spec.work_id ~= cjson.null then
      fields[#fields + 1] = 'work_id'
      fields[#fields + 1] = spec.work_id
    end
    if run_at ~= cjson.null then
      fields[#fields + 1] = 'run_at'
      fields[#fields + 1] = num(run_at)
    end
    if spec.idem ~= cjson.null then
      fields[#fields + 1] = 'idem'
      fields[#fields + 1] = spec.idem
      redis.call('HSET', key('idem'), user .. '\n' .. spec.idem, jid)
    end
    redis.call('HSET', key('job', jid), unpack(fields))
    local task_fields, texts = {}, {}
    local due_s = num(due)
    for i = 0, n do
      local title = spec.title
      if i < n then title = spec.titles[i + 1] end
      local t = task_fields
      t[#t + 1] = tf(i, 's'); t[#t + 1] = i < n and 'pending' or 'waiting'
      t[#t + 1] = tf(i, 'a'); t[#t + 1] = 0
      t[#t + 1] = tf(i, 'k'); t[#t + 1] = 0
      t[#t + 1] = tf(i, 'p'); t[#t + 1] = '0'
      t[#t + 1] = tf(i, 't'); t[#t + 1] = title
      t[#t + 1] = tf(i, 'ra'); t[#t + 1] = due_s
      texts[#texts + 1] = i
      texts[#texts + 1] = ARGV[spec.payload_at + i]
    end
    call_many('HSET', key('tasks', jid), task_fields)
    call_many('HSET', key('text', jid), texts)
    user_seen(user, spec.max_concurrency)
    zadd(key('jobs'), 0, jid)
    zadd(key('user_jobs', user), 0, jid)
    count(user, 'j:' .. status, 1)
    count(user, 't:pending', n)
    count(user, 't:waiting', 1)
    local j = {id = jid, user = user, status = status, priority = tonumber(spec.priority),
      order = order, n = n,
      max_attempts = spec.max_attempts, completed = 0, idem = spec.idem, seq = 0,
      attempts = 0}
    JOBS[jid] = j
    for i = 0, n - 1 do pending_add(j, jid .. '.' .. i, i, due, now) end
    if scheduled then
      zadd(key('scheduled'), num(run_at), jid)
      emit(j, 'job.scheduled', jobj({'run_at', run_at}), now, true)
    else
      emit(j, 'job.queued', jobj({'priority', spec.priority, 'total_chapters', n}), now, true)
    end
    out[#out + 1] = {jid, 1, status}
  end
end
if order ~= first_order then redis.call('SET', key('jobseq'), order) end
for _, u in ipairs(USER_ORDER) do
  local s = USERS[u]
  redis.call('HSET', key('user', u), 'cap', s.cap)
  redis.call('HINCRBY', key('users'), u, s.jobs)
end
return reply({at, out})
