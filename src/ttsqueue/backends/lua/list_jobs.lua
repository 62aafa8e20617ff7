-- list_jobs: jobs newest first by id. ARGV[5] = user or '' (all), ARGV[6] = status or
-- '' (any), ARGV[7] = limit, ARGV[8] = cursor (a job id, exclusive) or ''.
-- Returns {next cursor or '', {job hash as a flat list}...}. With a status filter at
-- most SCAN_MAX ids are looked at per call; the page may then be short, with a cursor.
local SCAN_MAX = 5000
local user, status, limit, cursor = ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8]
local index = key('jobs')
if user ~= '' then index = key('user_jobs', user) end
local hi = '+'
if cursor ~= '' then hi = '(' .. cursor end
local items, scanned, last = {}, 0, nil
local more = false
while not more and scanned < SCAN_MAX do
  local ids = redis.call('ZREVRANGEBYLEX', index, hi, '-', 'LIMIT', 0, 200)
  if #ids == 0 then break end
  for _, jid in ipairs(ids) do
    scanned = scanned + 1
    local h = redis.call('HGETALL', key('job', jid))
    if #h > 0 then
      local s
      for i = 1, #h, 2 do if h[i] == 'status' then s = h[i + 1] break end end
      if status == '' or s == status then
        if #items == limit then more = true break end
        items[#items + 1] = h
        last = jid
      end
    end
    hi = '(' .. jid
    if scanned >= SCAN_MAX then break end
  end
end
local next_cursor = ''
if more and last then
  next_cursor = last
elseif not more and scanned >= SCAN_MAX and #items > 0 then
  next_cursor = last
end
return {0, {next_cursor, items}}
