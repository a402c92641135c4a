/**
 * Lua scripts for the Redis store: each runs atomically on the server, so a take across several
 * buckets is all or nothing even with many gateway instances. The arithmetic mirrors bucket.ts.
 * A bucket is a hash {limit, tokens, at, paused}; an absent hash is a full bucket.
 */
const prelude = `
local function set_limit(s, limit)
  s.tokens = math.min(limit, s.tokens + limit - s.limit)
  s.limit = limit
end
local function load(key, limit, window, fixed, now)
  local h = redis.call('HMGET', key, 'limit', 'tokens', 'at', 'paused')
  local s = {}
  if h[1] then
    s.limit = tonumber(h[1]); s.tokens = tonumber(h[2]); s.at = tonumber(h[3]); s.paused = tonumber(h[4]) or 0
  else
    s.limit = limit; s.tokens = limit; s.at = now; s.paused = 0
  end
  if fixed == 1 and s.limit ~= limit then set_limit(s, limit) end
  local elapsed = now - s.at
  if elapsed < 0 then elapsed = 0 end
  s.tokens = math.min(s.limit, s.tokens + elapsed * s.limit / window)
  if now > s.at then s.at = now end
  return s
end
local function save(key, s, window)
  redis.call('HSET', key, 'limit', tostring(s.limit), 'tokens', tostring(s.tokens), 'at', tostring(s.at),
    'paused', tostring(s.paused))
  redis.call('PEXPIRE', key, math.max(2 * window, 86400000))
end
local function wait(s, amount, window, now)
  local need = math.min(amount, s.limit)
  local pause = s.paused - now
  if pause < 0 then pause = 0 end
  local short = need - s.tokens
  local w = 0
  if short > 0 then w = short * window / s.limit end
  return math.max(pause, w)
end
`;

/** ARGV: now, mode ('take' | 'peek'), then per key: limit, windowMs, amount, fixed (0|1). → [ok, wait...] */
export const takeScript = `${prelude}
local now = tonumber(ARGV[1])
local take = ARGV[2] == 'take'
local states, waits, ok = {}, {}, 1
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 4
  local window = tonumber(ARGV[b + 2])
  local s = load(KEYS[i], tonumber(ARGV[b + 1]), window, tonumber(ARGV[b + 4]), now)
  local w = wait(s, tonumber(ARGV[b + 3]), window, now)
  if w > 0 then ok = 0 end
  states[i] = s
  waits[i] = tostring(w)
end
if take then
  for i = 1, #KEYS do
    local b = 2 + (i - 1) * 4
    local s = states[i]
    if ok == 1 then s.tokens = s.tokens - tonumber(ARGV[b + 3]) end
    save(KEYS[i], s, tonumber(ARGV[b + 2]))
  end
end
table.insert(waits, 1, ok)
return waits
`;

/** ARGV: now, then per key: limit, windowMs, amount (given back; negative charges more), fixed. */
export const refundScript = `${prelude}
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local b = 1 + (i - 1) * 4
  local window = tonumber(ARGV[b + 2])
  local s = load(KEYS[i], tonumber(ARGV[b + 1]), window, tonumber(ARGV[b + 4]), now)
  s.tokens = math.min(s.limit, s.tokens + tonumber(ARGV[b + 3]))
  save(KEYS[i], s, window)
end
return 1
`;

/** ARGV: now, untilMs, then per key: limit, windowMs, fixed. */
export const pauseScript = `${prelude}
local now = tonumber(ARGV[1])
local untilMs = tonumber(ARGV[2])
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 3
  local window = tonumber(ARGV[b + 2])
  local s = load(KEYS[i], tonumber(ARGV[b + 1]), window, tonumber(ARGV[b + 3]), now)
  if untilMs > s.paused then s.paused = untilMs end
  save(KEYS[i], s, window)
end
return 1
`;

/** ARGV: now, limit, windowMs, fixed, learnedLimit ('' = none), remaining ('' = none), observedAt. */
export const correctScript = `${prelude}
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
local s = load(KEYS[1], tonumber(ARGV[2]), window, tonumber(ARGV[4]), now)
if ARGV[5] ~= '' and tonumber(ARGV[5]) > 0 then set_limit(s, tonumber(ARGV[5])) end
if ARGV[6] ~= '' then
  local since = now - tonumber(ARGV[7])
  if since < 0 then since = 0 end
  local upstream = tonumber(ARGV[6]) + since * s.limit / window
  if upstream < s.tokens then s.tokens = upstream end
end
save(KEYS[1], s, window)
return 1
`;

/** ARGV: now, then per key: limit, windowMs, fixed. → flat [limit, tokens, paused, ...] as strings. */
export const inspectScript = `${prelude}
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local b = 1 + (i - 1) * 3
  local s = load(KEYS[i], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), now)
  table.insert(out, tostring(s.limit))
  table.insert(out, tostring(s.tokens))
  table.insert(out, tostring(s.paused))
end
return out
`;
