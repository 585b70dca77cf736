package redis

import goredis "github.com/redis/go-redis/v9"

// The bucket arithmetic is the same as internal/inmem's bucket (gcra.go
// there; change both together): a hash with fields u ("used", in
// event-microseconds: one event adds period, every elapsed µs drains limit)
// and t (µs up to which u has been drained). A missing key is a full bucket.
// The key expires when the bucket is full again, so idle tenants cost no
// memory.
//
// Redis Lua numbers are doubles: the arithmetic is exact while
// limit*period < 2^53, that is for limits up to 150,000,000 per minute;
// above that a grant can differ from inmem's by one event at a boundary.
// Integers are written with %.0f because tostring keeps only 14 digits.
//
// KEYS[1] bucket key; ARGV now (µs), limit, n, period (µs).
const scriptPrelude = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local period = tonumber(ARGV[4])

local function floordiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local function ceildiv(a, b) return -floordiv(-a, b) end

local capacity = limit * period
local state = redis.call('HMGET', key, 'u', 't')
local used = tonumber(state[1]) or 0
local at = tonumber(state[2]) or now
-- A clock behind t (a skewed node) drains nothing and keeps t, so no
-- interval is refilled twice.
if now > at then
  if now - at >= ceildiv(used, limit) then used = 0 else used = used - (now - at) * limit end
  at = now
end
-- A lowered limit clamps the bucket to empty, never to debt.
if used > capacity then used = capacity end

local function save()
  if used == 0 then
    redis.call('DEL', key)
    return
  end
  local fullIn = at - now + ceildiv(used, limit)
  redis.call('HSET', key, 'u', string.format('%.0f', used), 't', string.format('%.0f', at))
  redis.call('PEXPIRE', key, string.format('%.0f', math.max(1, ceildiv(fullIn, 1000))))
end
`

// takeScript grants k = min(n, available) and returns
// {k, remaining, reset µs, retry-after µs}.
var takeScript = goredis.NewScript(scriptPrelude + `
local avail = floordiv(capacity - used, period)
local k = math.min(n, avail)
used = used + k * period
save()
local lag = at - now
local remaining = avail - k
local reset, retry = 0, 0
if used > 0 then reset = lag + ceildiv(used, limit) end
if remaining == 0 then retry = lag + ceildiv(used - capacity + period, limit) end
return {k, remaining, reset, retry}
`)

// returnScript refunds n (at most limit) events, never above the burst.
var returnScript = goredis.NewScript(scriptPrelude + `
used = math.max(used - n * period, 0)
save()
return 1
`)
