--[[
  rate-limit: the cluster-wide request limits of one request (GCRA, the generic cell rate algorithm),
  all or nothing: the request counts against every limit or against none.

  KEYS[i]  <prefix>:{rl:<scope>}:<limit>:<subject>   string: the limit's theoretical arrival time (TAT),
           microseconds on Redis' clock; expires once it lies in the past (an idle subject costs nothing).
           Every key of one call carries the same {rl:<scope>} hash tag: one slot, one atomic script.

  ARGV[2i-1] count   requests allowed per period (also the burst), integer 0..1000000000;
                     0 = limit i is off for this request (KEYS[i] is neither read nor written)
  ARGV[2i]   period  milliseconds, integer 1..86400000

  With count n and period p a subject may send n requests at once, then one every p/n: at most
  n + n*t/p in any t. The clock is Redis' own (TIME): every process judges by one clock.

  Returns {code, limit, retryMs}
     1 ALLOWED  every limit had room; each one's TAT moved on by period/count; limit = 0, retryMs = 0
     0 LIMITED  limit i (1-based, the first without room) refused; nothing was written; retryMs until
                that limit has room again
    -1 INVALID  ARGV is not one (count, period) pair per key of integers in range; nothing was written
]]
local n = #KEYS
if n == 0 or #ARGV ~= 2 * n then return {-1, 0, 0} end

local function int(s, lo, hi)
  if not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local tats = {}
for i = 1, n do
  local count = int(ARGV[2 * i - 1], 0, 1000000000)
  local period = int(ARGV[2 * i], 1, 86400000)
  if not count or not period then return {-1, 0, 0} end
  if count > 0 then
    local span = period * 1000
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
    if tat < now then tat = now end
    local nextTat = tat + span / count
    local fits = nextTat - span
    if fits > now then return {0, i, math.ceil((fits - now) / 1000)} end
    tats[i] = nextTat
  end
end

for i = 1, n do
  local nextTat = tats[i]
  if nextTat then
    redis.call('SET', KEYS[i], string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000))
  end
end
return {1, 0, 0}
