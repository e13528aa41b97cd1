--[[
  preheat: write an activity's stock and info without ever overwriting live stock.

  KEYS[1] stock   <prefix>:{a:<id>}:stock
  KEYS[2] info    <prefix>:{a:<id>}:info

  ARGV[1] total       desired total stock (integer 0..10^12)
  ARGV[2] start       epoch ms (integer >= 0)
  ARGV[3] end         epoch ms (integer > start)
  ARGV[4] maxPerUser  integer 1..1000000
  ARGV[5] price       decimal string ("12", "12.5", "0.01")
  ARGV[6] state       "active" or "paused"
  ARGV[7] channel     pub/sub channel announcing stock changes (1..512 bytes)
  ARGV[8] activity    the message published on ARGV[7] (1..253 bytes)
  ARGV[9] held        units already held by orders in Postgres (optional, default 0, integer 0..10^12):
                      only read when the stock key is missing; non-zero when the caller rebuilds a lost
                      activity from Postgres
                      (it wrote the buyer entries first, see activity/rebuild.ts)
  ARGV[10] token      purchase-token rule: "" (none needed) or "<challenge>:<difficulty>" (optional,
                      default ""; challenge in letters, difficulty an integer)

  A first preheat sets stock = total - held (SET NX semantics). Later ones keep what was sold: sold = old
  total - stock, and stock moves by (total - old total), so raising the total adds the difference.

  Returns {code, remaining, total}
     1 CREATED      stock key written for the first time
     4 REBUILT      stock key was missing and held > 0: stock = total - held
     2 UPDATED      stock or info changed
     3 UNCHANGED    nothing to do
    -1 BELOW_SOLD   total < units already sold: nothing changed; remaining and the current total returned
  -100 ARGV_INVALID {-100, '<argument name>'} (lua/argv.lua): nothing read or written
]]
local total = int(ARGV[1], 0, 1000000000000)
if not total then return refuse('total') end
local start = int(ARGV[2], 0, 100000000000000)
if not start then return refuse('start') end
if not int(ARGV[3], start + 1, 100000000000000) then return refuse('end') end
if not int(ARGV[4], 1, 1000000) then return refuse('maxPerUser') end
if type(ARGV[5]) ~= 'string' or #ARGV[5] > 32
  or not (string.match(ARGV[5], '^%d+$') or string.match(ARGV[5], '^%d+%.%d+$')) then
  return refuse('price')
end
if ARGV[6] ~= 'active' and ARGV[6] ~= 'paused' then return refuse('state') end
if not text(ARGV[7], 512) then return refuse('channel') end
if not text(ARGV[8], 253) then return refuse('activity') end
local held = 0
if ARGV[9] ~= nil then
  held = int(ARGV[9], 0, 1000000000000)
  if not held then return refuse('held') end
end
if ARGV[10] ~= nil and ARGV[10] ~= '' and not string.match(ARGV[10], '^%a+:%d+$') then
  return refuse('token')
end
local fields = {'start', ARGV[2], 'end', ARGV[3], 'maxPerUser', ARGV[4], 'price', ARGV[5], 'state', ARGV[6],
  'token', ARGV[10] or '', 'total', ARGV[1]}

local stock = redis.call('GET', KEYS[1])
if not stock then
  if total < held then return {-1, 0, held} end
  redis.call('SET', KEYS[1], total - held)
  redis.call('HSET', KEYS[2], unpack(fields))
  redis.call('PUBLISH', ARGV[7], ARGV[8])
  if held > 0 then return {4, total - held, total} end
  return {1, total, total}
end

stock = tonumber(stock)
local current = redis.call('HMGET', KEYS[2], 'start', 'end', 'maxPerUser', 'price', 'state', 'token', 'total')
local oldTotal = tonumber(current[7]) or stock
local sold = oldTotal - stock
if total < sold then return {-1, stock, oldTotal} end

local same = total == oldTotal
for i = 1, 6 do
  -- a hash written before the token field existed has none: the same as ""
  if (current[i] or '') ~= fields[i * 2] then same = false end
end
if same then return {3, stock, total} end

if total ~= oldTotal then stock = redis.call('INCRBY', KEYS[1], total - oldTotal) end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('PUBLISH', ARGV[7], ARGV[8])
return {2, stock, total}
