-- claim: take back expired leases, promote due tasks, then lease up to `limit` tasks in
-- claim order (backends/base.py): priority, then the user served least recently, then
-- FIFO; one slot in `every` is FIFO alone.
-- ARGV[5] = worker id, ARGV[6] = limit, ARGV[7] = lease seconds, ARGV[8] = every.
-- Returns {schema re-initialised (1/0), {task id, token, job id, user, index, attempt,
-- max attempts, lease expiry, kind, payload JSON}...}.
local now = clock()
local reinit = schema_check()
local worker, limit = ARGV[5], tonumber(ARGV[6])
local WORKER_JSON = jstr(worker)
local lease_s, every = tonumber(ARGV[7]), tonumber(ARGV[8])
take_back_expired(now)
promote_due(now)
if redis.call('HEXISTS', key('pauses'), '') == 1 then  -- paused: lease nothing
  return reply({reinit, {}})
end

local USERS = {}
local function user_state(u)
  local s = USERS[u]
  if not s then
    local v = redis.call('HMGET', key('user', u), 'running', 'cap')
    s = {running = tonumber(v[1] or '0'), cap = tonumber(v[2] or '1')}
    USERS[u] = s
  end
  return s
end
local function under_cap(u)
  local s = user_state(u)
  return s.running < s.cap
end

-- Tasks leased by this call. They leave the ready zsets at once (the picks read
-- those); the other structures are updated in one command each at the end.
local LEASED = {}
local GONE, GONE_BY_USER, LEASES, USER_DIRTY = {}, {}, {}, {}

-- The oldest ready task whose owner is under their cap.
local function pick_fifo()
  local fk, start, batch = key('fifo'), 0, 200
  while true do
    local ids = redis.call('ZRANGE', fk, start, start + batch - 1)
    if #ids == 0 then return nil end
    for _, tid in ipairs(ids) do
      if not LEASED[tid] then
        local j = job_info(split_task(tid))
        if j and under_cap(j.user) then return tid end
      end
    end
    start = start + batch
  end
end

-- The first ready task of (priority, user), cached until that user is served.
local HEADS = {}
local function ready_head(p, u)
  local h = HEADS[p .. '\n' .. u]
  if not h then
    local v = redis.call('ZRANGE', key('ready', p, u), 0, 0, 'WITHSCORES')
    h = {v[1], v[2] and tonumber(v[2])}
    HEADS[p .. '\n' .. u] = h
  end
  return h[1], h[2]
end

-- Highest priority, then least recently served user (ties: FIFO), then FIFO. Users are
-- read in batches by last_served; the scan stops once a batch passes the best found.
local function pick_in(p)
  local rr, start, batch = key('rr', p), 0, 8
  local best, best_served, best_score
  while true do
    local users = redis.call('ZRANGE', rr, start, start + batch - 1, 'WITHSCORES')
    if #users == 0 then return best end
    for i = 1, #users, 2 do
      local u, served = users[i], tonumber(users[i + 1])
      if best and served > best_served then return best end
      if under_cap(u) then
        local tid, score = ready_head(p, u)
        if tid and (not best or score < best_score) then
          best, best_served, best_score = tid, served, score
        end
      end
    end
    start = start + batch
    batch = math.min(batch * 2, 200)
  end
end

-- Priorities with ready work, highest first. Leasing only ever removes priorities, and
-- pick_in finds nothing in a priority that went away, so this is read once per call.
local PRIOS = redis.call('ZREVRANGE', key('prios'), 0, -1)

local function pick_normal()
  for _, p in ipairs(PRIOS) do
    local best = pick_in(p)
    if best then return best end
  end
  return nil
end

local function lease(tid, slot)
  local jid, idx = split_task(tid)
  local j = job_info(jid)
  local tk = key('tasks', jid)
  local u = j.user
  LEASED[tid] = true
  ready_remove(j.priority, u, tid, true)
  GONE[#GONE + 1] = tid
  local mine = GONE_BY_USER[u]
  if not mine then mine = {}; GONE_BY_USER[u] = mine end
  mine[#mine + 1] = tid
  HEADS[j.priority .. '\n' .. u] = nil
  local v = redis.call('HMGET', tk, tf(idx, 'a'), tf(idx, 'k'), tf(idx, 'st'), tf(idx, 't'))
  local attempt = tonumber(v[1] or '0') + 1
  local token = tonumber(v[2] or '0') + 1
  local expires = now + lease_s
  if v[3] then
    redis.call('HSET', tk, tf(idx, 's'), 'running', tf(idx, 'a'), attempt, tf(idx, 'k'), token,
      tf(idx, 'w'), worker, tf(idx, 'p'), '0')
  else
    redis.call('HSET', tk, tf(idx, 's'), 'running', tf(idx, 'a'), attempt, tf(idx, 'k'), token,
      tf(idx, 'w'), worker, tf(idx, 'p'), '0', tf(idx, 'st'), num(now))
  end
  count(u, 't:pending', -1)
  count(u, 't:running', 1)
  LEASES[#LEASES + 1] = num(expires)
  LEASES[#LEASES + 1] = tid
  local us = user_state(u)
  us.running = us.running + 1
  us.served = slot
  if not us.dirty then
    us.dirty = true
    USER_DIRTY[#USER_DIRTY + 1] = u
  end
  for i = #PRIOS, 1, -1 do
    redis.call('ZADD', key('rr', PRIOS[i]), 'XX', slot, u)
  end
  j.attempts = j.attempts + 1
  jset(j, 'attempts', j.attempts, 'updated_at', num(now))
  if j.status == 'queued' or j.status == 'scheduled' then
    set_job_status(j, 'processing')
    if not j.started then
      j.started = num(now)
      jset(j, 'started_at', j.started)
    end
    emit(j, 'job.processing', '{}', now)
  end
  local kind = 'assemble'
  if idx < j.n then
    kind = 'synthesize'
    local title = v[4] or ''
    jset(j, 'current', idx + 1, 'message', chapter_message(idx, j.n, title))
    emit(j, 'chapter.started', '{"index":' .. num(idx) .. ',"title":' .. jstr(title)
      .. ',"attempt":' .. num(attempt) .. ',"worker_id":' .. WORKER_JSON .. '}', now)
  end
  local payload = redis.call('HGET', key('text', jid), idx)
  return {tid, token, jid, u, idx, attempt, j.max_attempts, num(expires), kind, payload}
end

local out = {}
local ck = key('claims')
local claims = tonumber(redis.call('GET', ck) or '0')
local start = claims
while #out < limit do
  local slot = claims + 1
  local tid
  if every > 0 and slot % every == 0 then tid = pick_fifo() else tid = pick_normal() end
  if not tid then break end
  claims = slot
  out[#out + 1] = lease(tid, slot)
end
if claims ~= start then redis.call('SET', ck, claims) end
if #GONE > 0 then
  call_many('ZREM', key('pending'), GONE)
  call_many('ZREM', key('delayed'), GONE)
  call_many('ZREM', key('fifo'), GONE)
  for u, tids in pairs(GONE_BY_USER) do call_many('ZREM', key('user_pending', u), tids) end
  call_many('ZADD', key('leases'), LEASES)
  for _, u in ipairs(USER_DIRTY) do
    local us = USERS[u]
    redis.call('HSET', key('user', u), 'running', us.running, 'last_served', us.served)
  end
end
return reply({reinit, out})
