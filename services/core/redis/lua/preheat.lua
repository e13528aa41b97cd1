--[[
  preheat: write an activity's stock and info without ever overwriting live stock.

  KEYS[1] stock   <prefix>:{a:<id>}:stock
  KEYS[2] info    <prefix>:{a:<id>}:info
  KEYS[3] room    <prefix>:{a:<id>}:room (waiting room hash: only its seed and commit are written here)

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
  ARGV[11] room       waiting-room rule: "" (no room) or
                      "<opensBeforeMs>:<admitPerSecond>:<maxActive>:<admissionTtlMs>:<none|pow>" (optional,
                      default ""; opensBeforeMs >= 0, admitPerSecond 1..100000, maxActive 1..10000,
                      ttl >= 1)
  ARGV[12] seed       the room's seed if it has none yet: 64 lower-case hex digits (needed with a room,
                      else ignored)
  ARGV[13] commit     sha256 of ARGV[12]'s hex text, 64 lower-case hex digits (needed with a room, else
                      ignored)

  A first preheat sets stock = total - held (SET NX semantics). Later ones keep what was sold: sold = old
  total - stock, and stock moves by (total - old total), so raising the total adds the difference.
  With a room, the room hash gets seed and commit once, together: a later preheat never changes them (the
  commitment may be public already); a preheat that only had to write them answers UPDATED.

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
local room = ARGV[11] or ''
if room ~= '' then
  local opens, rate, active, ttl, challenge = string.match(room, '^(%d+):(%d+):(%d+):(%d+):(%l+)$')
  if not (opens and int(opens, 0, 100000000000000) and int(rate, 1, 100000) and int(active, 1, 10000)
      and int(ttl, 1, 100000000000000) and (challenge == 'none' or challenge == 'pow')) then
    return refuse('room')
  end
end
-- lower-case hex only: the commitment is the hash of this very text
local function hex64(s)
  return type(s) == 'string' and #s == 64 and string.match(s, '^[0-9a-f]+$') ~= nil
end
if room ~= '' and not hex64(ARGV[12]) then return refuse('seed') end
if room ~= '' and not hex64(ARGV[13]) then return refuse('commit') end
local fields = {'start', ARGV[2], 'end', ARGV[3], 'maxPerUser', ARGV[4], 'price', ARGV[5], 'state', ARGV[6],
  'token', ARGV[10] or '', 'room', room, 'total', ARGV[1]}

-- true when the room got its seed now
local function seedRoom()
  if room == '' or redis.call('HEXISTS', KEYS[3], 'seed') == 1 then return false end
  redis.call('HSET', KEYS[3], 'seed', ARGV[12], 'commit', ARGV[13])
  return true
end

local stock = redis.call('GET', KEYS[1])
if not stock then
  if total < held then return {-1, 0, held} end
  redis.call('SET', KEYS[1], total - held)
  redis.call('HSET', KEYS[2], unpack(fields))
  seedRoom()
  redis.call('PUBLISH', ARGV[7], ARGV[8])
  if held > 0 then return {4, total - held, total} end
  return {1, total, total}
end

stock = tonumber(stock)
local current = redis.call('HMGET', KEYS[2], 'start', 'end', 'maxPerUser', 'price', 'state', 'token', 'room',
  'total')
local oldTotal = tonumber(current[8]) or stock
local sold = oldTotal - stock
if total < sold then return {-1, stock, oldTotal} end

local same = total == oldTotal
for i = 1, 7 do
  -- a hash written before the token or room field existed has none: the same as ""
  if (current[i] or '') ~= fields[i * 2] then same = false end
end
local seeded = seedRoom()
if same then return {seeded and 2 or 3, stock, total} end

if total ~= oldTotal then stock = redis.call('INCRBY', KEYS[1], total - oldTotal) end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('PUBLISH', ARGV[7], ARGV[8])
return {2, stock, total}
