-- Shared by every script (prepended at load time). Calling convention:
--   KEYS[1] = the schema_version key (routes the call on Cluster);
--   ARGV[1] = key prefix, ARGV[2] = events kept per job, ARGV[3] = retention seconds
--   (0: keep finished jobs forever), ARGV[4] = the schema version this code writes;
--   a script's own arguments start at ARGV[5].
--   KEYS[2], when given, names this call's reply: a call sent again after a dropped
--   connection (its first run may or may not have happened) finds the first run's
--   reply there and returns it without running again.
-- Every script returns {last event id appended (0 if none), result}.
-- Key templates come from ttsqueue/backends/keys.py, rendered below as a table.
local P = ARGV[1]
local EVENTS_MAX = tonumber(ARGV[2])
local RETENTION = tonumber(ARGV[3])
local K = {{KEYS}}
local FIFO_SPAN = 1048576 -- FIFO score = job order * FIFO_SPAN + task index
local LAST_EVENT = 0
local WAKE = false
local REPLY_TTL_S = 120 -- longer than any client retries one call

if KEYS[2] then
  local kept = redis.call('GET', KEYS[2])
  if kept then return cjson.decode(kept) end
end

-- Key names are built once per script run (string.format is dear in a hot loop).
local KC = {}
local function key(name, a, b)
  local c = KC[name]
  if a == nil then
    if not c then c = P .. K[name]; KC[name] = c end
    return c
  end
  if not c then c = {}; KC[name] = c end
  if b == nil then
    local k = c[a]
    if not k then k = P .. string.format(K[name], a); c[a] = k end
    return k
  end
  local c2 = c[a]
  if not c2 then c2 = {}; c[a] = c2 end
  local k = c2[b]
  if not k then k = P .. string.format(K[name], a, b); c2[b] = k end
  return k
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- The shortest text that reads back as the same double (the last answer is kept: a
-- script writes the same clock reading many times).
local NUM_X, NUM_S
local function num(x)
  if x == NUM_X then return NUM_S end
  local s = string.format('%.15g', x)
  if tonumber(s) ~= x then
    s = string.format('%.16g', x)
    if tonumber(s) ~= x then s = string.format('%.17g', x) end
  end
  NUM_X, NUM_S = x, s
  return s
end

local function jstr(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == '\\' then return '\\\\' end
    return string.format('\\u%04x', string.byte(c))
  end)
  return '"' .. s .. '"'
end

-- JSON object from an ordered list {k1, v1, k2, v2, ...}; a value is a string, a
-- number, a boolean, false-ish nil (written as null when given as cjson.null) or
-- {raw = '<json text>'}.
local function jobj(pairs_)
  local out = {}
  for i = 1, #pairs_, 2 do
    local v = pairs_[i + 1]
    local t = type(v)
    local text
    if v == nil or v == cjson.null then text = 'null'
    elseif t == 'number' then text = num(v)
    elseif t == 'boolean' then text = v and 'true' or 'false'
    elseif t == 'table' then text = v.raw
    else text = jstr(v) end
    out[#out + 1] = jstr(pairs_[i]) .. ':' .. text
  end
  return '{' .. table.concat(out, ',') .. '}'
end

local function split_task(tid)
  local jid, idx = string.match(tid, '^(.+)%.(%d+)$')
  if not jid then return nil, nil end
  return jid, tonumber(idx)
end

local function tf(idx, field) return idx .. '.' .. field end

-- One command over many arguments, in chunks (Lua's unpack has a stack limit; CHUNK is
-- even, so field/value and score/member pairs stay together).
local CHUNK = 1000
local function call_many(cmd, k, args)
  for i = 1, #args, CHUNK do
    redis.call(cmd, k, unpack(args, i, math.min(#args, i + CHUNK - 1)))
  end
end

-- Sorted-set additions. A script that never reads back the sorted sets it adds to calls
-- defer_zadds() first: its additions are then gathered per key and sent with one ZADD
-- per key when it replies.
local ZLATER, ZLATER_KEYS
local function defer_zadds()
  ZLATER, ZLATER_KEYS = {}, {}
end

local function zadd(k, score, member)
  if not ZLATER then
    redis.call('ZADD', k, score, member)
    return
  end
  local a = ZLATER[k]
  if not a then a = {}; ZLATER[k] = a; ZLATER_KEYS[#ZLATER_KEYS + 1] = k end
  a[#a + 1] = score
  a[#a + 1] = member
end

local function flush_zadds()
  if not ZLATER then return end
  for _, k in ipairs(ZLATER_KEYS) do call_many('ZADD', k, ZLATER[k]) end
  ZLATER, ZLATER_KEYS = {}, {}
end

-- Job fields every transition needs, cached for the script's duration. Writes to a
-- job's hash go through jset and are sent as one HSET per job when the script replies
-- (read a job's fields through this cache, never with HGET after a jset).
local JOBS = {}
local DIRTY = {} -- jobs with fields to write, in first-write order
local function job_info(jid)
  local j = JOBS[jid]
  if j then return j end
  local v = redis.call('HMGET', key('job', jid), 'user_id', 'status', 'priority', 'order',
    'total', 'max_attempts', 'completed', 'idem', 'seq', 'attempts', 'started_at')
  if not v[1] then return nil end
  j = {id = jid, user = v[1], status = v[2], priority = tonumber(v[3]), order = tonumber(v[4]),
    n = tonumber(v[5]), max_attempts = tonumber(v[6]), completed = tonumber(v[7]), idem = v[8],
    seq = tonumber(v[9] or '0'), attempts = tonumber(v[10] or '0'), started = v[11]}
  JOBS[jid] = j
  return j
end

local function jset(j, ...)
  local w = j.w
  if not w then
    w = {}
    j.w = w
    DIRTY[#DIRTY + 1] = j
  end
  local a = {...}
  for i = 1, #a, 2 do w[a[i]] = a[i + 1] end
end

local function flush_jobs()
  for _, j in ipairs(DIRTY) do
    local args = {}
    for f, v in pairs(j.w) do args[#args + 1] = f; args[#args + 1] = v end
    redis.call('HSET', key('job', j.id), unpack(args))
    j.w = nil
  end
  DIRTY = {}
end

-- Store-wide event ids: read once, counted here, written back when the script replies.
local EVENT_ID
local EVENTS_OUT = {} -- the events appended, published together as one JSON array
local function next_event_id()
  if not EVENT_ID then EVENT_ID = tonumber(redis.call('GET', key('eventid')) or '0') end
  EVENT_ID = EVENT_ID + 1
  return EVENT_ID
end

-- Status counters: changes are summed here and written once, when the script replies.
local COUNTS = {}
local function count(user, field, delta)
  local k = key('counts')
  local c = COUNTS[k]
  if not c then c = {}; COUNTS[k] = c end
  c[field] = (c[field] or 0) + delta
  k = key('user_counts', user)
  c = COUNTS[k]
  if not c then c = {}; COUNTS[k] = c end
  c[field] = (c[field] or 0) + delta
end

-- A user's unfinished jobs, from their status counters (call it before this script
-- changes any of their counts: those changes wait in COUNTS until the reply).
local function active_jobs(user)
  local v = redis.call('HMGET', key('user_counts', user),
    'j:queued', 'j:scheduled', 'j:processing', 'j:assembling')
  local n = 0
  for i = 1, 4 do n = n + (tonumber(v[i]) or 0) end
  return n
end

-- The error reply of a refusal by the cap on unfinished jobs (the backend parses it).
local function active_limit_error(user, active, cap)
  return redis.error_reply('active jobs limit ' .. active .. ' ' .. cap .. ' ' .. user)
end

local function reply(x)
  flush_zadds()
  flush_jobs()
  for k, fields in pairs(COUNTS) do
    for field, delta in pairs(fields) do
      if delta ~= 0 then redis.call('HINCRBY', k, field, delta) end
    end
  end
  COUNTS = {}
  if #EVENTS_OUT > 0 then
    redis.call('SET', key('eventid'), EVENT_ID)
    redis.call('PUBLISH', key('event_channel'), '[' .. table.concat(EVENTS_OUT, ',') .. ']')
    EVENTS_OUT = {}
  end
  if WAKE then
    redis.call('PUBLISH', key('wake_channel'), '1')
  end
  local out = {LAST_EVENT, x}
  if KEYS[2] then redis.call('SET', KEYS[2], cjson.encode(out), 'EX', REPLY_TTL_S) end
  return out
end

local function set_task_status(j, idx, from, to)
  redis.call('HSET', key('tasks', j.id), tf(idx, 's'), to)
  count(j.user, 't:' .. from, -1)
  count(j.user, 't:' .. to, 1)
end

local function set_job_status(j, to)
  jset(j, 'status', to)
  count(j.user, 'j:' .. j.status, -1)
  count(j.user, 'j:' .. to, 1)
  j.status = to
end

-- Webhooks: one pending delivery per endpoint of the job's owner that subscribed to the
-- event, made in the script that appends the event (see backends/base.py). An endpoint
-- is listed per user as "<progress interval>|<type>,<type>,..."; a delivery is a hash,
-- in its endpoint's log, and in the line of its endpoint and job (a zset by seq); the
-- head of a line, when pending, is in wh_due by run_at.
local WEBHOOK_TYPES = {['job.completed'] = true, ['job.failed'] = true,
                       ['job.cancelled'] = true, ['job.progress'] = true}

local function wh_promote(ep, job)
  local head = redis.call('ZRANGE', key('wh_line', ep, job), 0, 0)[1]
  if head and redis.call('HGET', key('wh_delivery', head), 'status') == 'pending' then
    redis.call('ZADD', key('wh_due'), redis.call('HGET', key('wh_delivery', head), 'run_at'),
      head)
  end
end

local function wh_fanout(j, etype, seq, data, now)
  if not WEBHOOK_TYPES[etype] then return end
  local eps = redis.call('HGETALL', key('wh_user', j.user))
  for i = 1, #eps, 2 do
    local ep, spec = eps[i], eps[i + 1]
    local bar = string.find(spec, '|', 1, true)
    local interval = tonumber(string.sub(spec, 1, bar - 1))
    if string.find(',' .. string.sub(spec, bar + 1) .. ',', ',' .. etype .. ',', 1, true) then
      local send = true
      if etype == 'job.progress' then
        local last = tonumber(redis.call('HGET', key('wh_progress', ep), j.id) or '-1e300')
        if last > now - interval then send = false
        else redis.call('HSET', key('wh_progress', ep), j.id, num(now)) end
      end
      if send then
        local dseq = redis.call('INCR', key('wh_seq'))
        local t = redis.call('TIME')
        local id = 'msg_' .. dseq .. 'x' .. t[1] .. t[2]
        local at = num(now)
        redis.call('HSET', key('wh_delivery', id), 'id', id, 'seq', dseq, 'endpoint_id', ep,
          'job_id', j.id, 'user_id', j.user, 'type', etype, 'data', data, 'event_seq', seq,
          'event_at', at, 'status', 'pending', 'attempts', 0, 'token', 0, 'run_at', at,
          'window_start', at, 'created_at', at, 'updated_at', at)
        redis.call('ZADD', key('wh_log', ep), dseq, id)
        redis.call('ZADD', key('wh_line', ep, j.id), dseq, id)
        wh_promote(ep, j.id)
      end
    end
  end
end

-- The event as JSON, written out by hand (the same text jobj would make, faster).
local function emit(j, etype, data, now, seq_written)
  local seq = j.seq + 1
  j.seq = seq
  if not seq_written then jset(j, 'seq', seq) end
  local id = next_event_id()
  local head = j.ev_head
  if not head then
    head = '{"job_id":' .. jstr(j.id) .. ',"user_id":' .. jstr(j.user) .. ',"seq":'
    j.ev_head = head
  end
  local ev = head .. num(seq) .. ',"type":' .. jstr(etype) .. ',"data":' .. data .. ',"at":'
    .. num(now) .. ',"id":' .. num(id) .. '}'
  redis.call('XADD', key('events', j.id), 'MAXLEN', EVENTS_MAX, seq .. '-0', 'e', ev)
  EVENTS_OUT[#EVENTS_OUT + 1] = ev
  LAST_EVENT = id
  wh_fanout(j, etype, seq, data, now)
end

local function chapter_message(idx, total, title)
  local base = 'Chapter ' .. (idx + 1) .. ' of ' .. total
  if title and title ~= '' then return base .. ': ' .. title end
  return base
end

-- Recompute the job's progress_percent exactly as models.job_progress does.
local function refresh_progress(j)
  local pct
  if j.status == 'completed' then
    pct = 100
  elseif j.n <= 0 then
    pct = 0
  else
    local fields = {}
    for i = 0, j.n - 1 do
      fields[#fields + 1] = tf(i, 's')
      fields[#fields + 1] = tf(i, 'p')
    end
    local v = redis.call('HMGET', key('tasks', j.id), unpack(fields))
    local running = 0
    for i = 1, #v, 2 do
      if v[i] == 'running' then running = running + tonumber(v[i + 1]) end
    end
    local value = 100.0 * (j.completed + running) / j.n
    pct = math.min(99, tonumber(string.format('%.1f', value)))
  end
  jset(j, 'progress', num(pct))
  return pct
end

-- Claim structures --------------------------------------------------------------------

-- (priority, user) pairs already entered in rr and prios during this script.
local IN_RR = {}

-- The user joins the round robin of priority p (if not in it yet).
local function rr_enter(p, u)
  local rk = key('rr', p)
  local seen = IN_RR[rk]
  if not seen then seen = {}; IN_RR[rk] = seen end
  if not seen[u] then
    local served = redis.call('HGET', key('user', u), 'last_served') or '0'
    redis.call('ZADD', rk, 'NX', served, u)
    redis.call('ZADD', key('prios'), 'NX', p, p)
    seen[u] = true
  end
end

local function ready_add(j, tid, idx)
  local p, u = j.priority, j.user
  local score = num(j.order * FIFO_SPAN + idx)
  zadd(key('ready', p, u), score, tid)
  zadd(key('fifo'), score, tid)
  rr_enter(p, u)
end

-- A task turns pending, due at run_at: ready now, or delayed until then.
local function pending_add(j, tid, idx, run_at, now)
  local due = num(run_at)
  zadd(key('pending'), due, tid)
  zadd(key('user_pending', j.user), due, tid)
  if run_at <= now then
    ready_add(j, tid, idx)
    WAKE = true
  else
    zadd(key('delayed'), due, tid)
  end
end

-- A task leaves the ready structures (`keep_fifo`: the caller removes it from the fifo).
local function ready_remove(p, u, tid, keep_fifo)
  local rk = key('ready', p, u)
  if redis.call('ZREM', rk, tid) == 1 and redis.call('EXISTS', rk) == 0 then
    local rr = key('rr', p)
    redis.call('ZREM', rr, u)
    if IN_RR[rr] then IN_RR[rr][u] = nil end
    if redis.call('EXISTS', rr) == 0 then redis.call('ZREM', key('prios'), p) end
  end
  if not keep_fifo then redis.call('ZREM', key('fifo'), tid) end
end

-- A task stops being pending (claimed, cancelled or re-prioritised).
local function pending_remove(j, tid)
  redis.call('ZREM', key('pending'), tid)
  redis.call('ZREM', key('user_pending', j.user), tid)
  redis.call('ZREM', key('delayed'), tid)
  ready_remove(j.priority, j.user, tid)
end

-- Delayed tasks whose run_at has come join the claim structures.
local function promote_due(now)
  local due = redis.call('ZRANGEBYSCORE', key('delayed'), '-inf', num(now))
  for _, tid in ipairs(due) do
    redis.call('ZREM', key('delayed'), tid)
    local jid, idx = split_task(tid)
    local j = jid and job_info(jid)
    if j then ready_add(j, tid, idx) end
  end
  return #due
end

-- A running task stops running (its user's slot frees up, its lease is dropped).
local function stop_running(j, tid)
  redis.call('ZREM', key('leases'), tid)
  redis.call('HINCRBY', key('user', j.user), 'running', -1)
  if redis.call('EXISTS', key('user_pending', j.user)) == 1 then WAKE = true end
end

-- Finished jobs ----------------------------------------------------------------------

local JOB_KEYS = {'job', 'tasks', 'text', 'events'}

local function finish(j, now)
  local statuses = redis.call('HMGET', key('tasks', j.id), unpack((function()
    local f = {}
    for i = 0, j.n do f[#f + 1] = tf(i, 's') end
    return f
  end)()))
  local tasks = {}
  for _, s in ipairs(statuses) do tasks[s] = (tasks[s] or 0) + 1 end
  local t = {}
  for s, c in pairs(tasks) do t[#t + 1] = s; t[#t + 1] = c end
  local meta = jobj({'u', j.user, 's', j.status, 'k', j.idem or cjson.null,
    't', {raw = jobj(t)}})
  redis.call('ZADD', key('done'), num(now), j.id)
  redis.call('HSET', key('done_meta'), j.id, meta)
  if RETENTION > 0 then
    for _, name in ipairs(JOB_KEYS) do redis.call('EXPIRE', key(name, j.id), RETENTION) end
  end
end

local function unfinish(j)
  for _, name in ipairs(JOB_KEYS) do redis.call('PERSIST', key(name, j.id)) end
  redis.call('ZREM', key('done'), j.id)
  redis.call('HDEL', key('done_meta'), j.id)
end

-- Every unfinished task of the job turns cancelled.
local function cancel_unfinished(j, now)
  local tk = key('tasks', j.id)
  for i = 0, j.n do
    local s = redis.call('HGET', tk, tf(i, 's'))
    if s == 'waiting' or s == 'pending' or s == 'running' then
      local tid = j.id .. '.' .. i
      if s == 'pending' then pending_remove(j, tid) end
      if s == 'running' then stop_running(j, tid) end
      set_task_status(j, i, s, 'cancelled')
      redis.call('HSET', tk, tf(i, 'ft'), num(now))
    end
  end
end

local function fail_job(j, tid, idx, err, now)
  local tk = key('tasks', j.id)
  stop_running(j, tid)
  set_task_status(j, idx, 'running', 'failed')
  redis.call('HSET', tk, tf(idx, 'e'), err, tf(idx, 'ft'), num(now))
  cancel_unfinished(j, now)
  set_job_status(j, 'failed')
  jset(j, 'error', err, 'finished_at', num(now), 'updated_at', num(now))
  refresh_progress(j)
  emit(j, 'job.failed', jobj({'error', err, 'index', idx}), now)
  finish(j, now)
end

local function requeue(j, tid, idx, err, retry_at, now)
  local tk = key('tasks', j.id)
  stop_running(j, tid)
  set_task_status(j, idx, 'running', 'pending')
  redis.call('HSET', tk, tf(idx, 'ra'), num(retry_at), tf(idx, 'e'), err, tf(idx, 'p'), '0')
  pending_add(j, tid, idx, retry_at, now)
  WAKE = true
  jset(j, 'updated_at', num(now))
  refresh_progress(j)
  local attempts = tonumber(redis.call('HGET', tk, tf(idx, 'a')))
  emit(j, 'task.retrying',
    jobj({'index', idx, 'attempt', attempts, 'error', err, 'retry_at', retry_at}), now)
end

-- Tasks whose lease expired: pending again, or failed after max_attempts.
local function take_back_expired(now)
  local requeued, failed = 0, 0
  local expired = redis.call('ZRANGEBYSCORE', key('leases'), '-inf', num(now))
  for _, tid in ipairs(expired) do
    local jid, idx = split_task(tid)
    local j = jid and job_info(jid)
    local s = j and redis.call('HGET', key('tasks', jid), tf(idx, 's'))
    if s ~= 'running' then
      redis.call('ZREM', key('leases'), tid)
    else
      local attempts = tonumber(redis.call('HGET', key('tasks', jid), tf(idx, 'a')))
      if attempts < j.max_attempts then
        requeue(j, tid, idx, 'lease expired', now, now)
        requeued = requeued + 1
      else
        fail_job(j, tid, idx, 'lease expired', now)
        failed = failed + 1
      end
    end
  end
  return requeued, failed
end

-- The task if this lease holds it: its job, index and task fields, else nil.
local function held(tid, token)
  local jid, idx = split_task(tid)
  if not jid then return nil end
  local j = job_info(jid)
  if not j then return nil end
  local v = redis.call('HMGET', key('tasks', jid), tf(idx, 's'), tf(idx, 'k'), tf(idx, 'p'),
    tf(idx, 't'))
  if v[1] ~= 'running' or v[2] ~= token then return nil end
  return j, idx, {status = v[1], progress = tonumber(v[3]), title = v[4] or ''}
end

local function schema_check()
  if redis.call('SET', KEYS[1], ARGV[4], 'NX') then return 1 end
  return 0
end

-- Delete finished jobs finished before `cutoff` (their keys may have expired already:
-- what the counters need is kept in done_meta).
local function prune_before(cutoff)
  local ids = redis.call('ZRANGEBYSCORE', key('done'), '-inf', '(' .. num(cutoff),
    'LIMIT', 0, 1000)
  for _, jid in ipairs(ids) do
    local meta = cjson.decode(redis.call('HGET', key('done_meta'), jid) or '{}')
    for _, name in ipairs(JOB_KEYS) do redis.call('UNLINK', key(name, jid)) end
    local u = meta.u
    if u then
      count(u, 'j:' .. meta.s, -1)
      for s, c in pairs(meta.t or {}) do count(u, 't:' .. s, -c) end
      if redis.call('HINCRBY', key('users'), u, -1) <= 0 then
        redis.call('HDEL', key('users'), u)
      end
      redis.call('ZREM', key('user_jobs', u), jid)
      if meta.k and meta.k ~= cjson.null then
        local ik = u .. '\n' .. meta.k
        if redis.call('HGET', key('idem'), ik) == jid then redis.call('HDEL', key('idem'), ik) end
      end
    end
    redis.call('ZREM', key('jobs'), jid)
    redis.call('ZREM', key('done'), jid)
    redis.call('HDEL', key('done_meta'), jid)
  end
  return ids
end
