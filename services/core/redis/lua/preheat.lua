--[[
  preheat: write an activity's stock and info without ever overwriting live stock.

  KEYS[1] stock   <prefix>:{a:<id>}:stock
  KEYS[2] info    <prefix>:{a:<id>}:info

  ARGV[1] total       desired total stock (integer >= 0)
  ARGV[2] start       epoch ms
  ARGV[3] end         epoch ms
  ARGV[4] maxPerUser
  ARGV[5] price       decimal string
  ARGV[6] state       "active" or "paused"
  ARGV[7] channel     pub/sub channel announcing stock changes
  ARGV[8] activity    the message published on ARGV[7]
  ARGV[9] held        units already held by orders in Postgres (optional, default 0): only read when the
                      stock key is missing; non-zero when the caller rebuilds a lost activity from Postgres
                      (it wrote the buyer entries first, see activity/rebuild.ts)
  ARGV[10] token      purchase-token rule: "" (none needed) or "<challenge>:<difficulty>" (optional, default "")

  A first preheat sets stock = total - held (SET NX semantics). Later ones keep what was sold: sold = old
  total - stock, and stock moves by (total - old total), so raising the total adds the difference.

  Returns {code, remaining, total}
     1 CREATED      stock key written for the first time
     4 REBUILT      stock key was missing and held > 0: stock = total - held
     2 UPDATED      stock or info changed
     3 UNCHANGED    nothing to do
    -1 BELOW_SOLD   total < units already sold: nothing changed; remaining and the current total returned
]]
local total = tonumber(ARGV[1])
local fields = {'start', ARGV[2], 'end', ARGV[3], 'maxPerUser', ARGV[4], 'price', ARGV[5], 'state', ARGV[6],
  'token', ARGV[10] or '', 'total', ARGV[1]}

local stock = redis.call('GET', KEYS[1])
if not stock then
  local held = tonumber(ARGV[9] or '0') or 0
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
