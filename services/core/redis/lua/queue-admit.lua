--[[
  queue-admit: one admission pass of an activity's waiting room, run by the one admitter holding the
  room's lease (seckill/room/admitter.ts) every tick. Frees the slots of shoppers who bought or whose
  admission expired, then admits from the head of the queue at the configured rate, never more than
  maxActive holding a slot and never more than the units left can serve (one unit per admitted shopper).

  KEYS[1] info     <prefix>:{a:<id>}:info     hash start, end, state, room (see queue-join.lua)
  KEYS[2] stock    <prefix>:{a:<id>}:stock
  KEYS[3] room     <prefix>:{a:<id>}:room     hash openedAt, popped, admitted, noShows, bought, carry, lastMs
  KEYS[4] queue    <prefix>:{a:<id>}:queue    zset ticket -> order score
  KEYS[5] tickets  <prefix>:{a:<id>}:tickets  hash ticket -> "userId|joinMs"
  KEYS[6] passes   <prefix>:{a:<id>}:passes   zset userId -> admission expiry (ms): slots held now
  KEYS[7] admits   <prefix>:{a:<id>}:admits   hash userId -> admission expiry (ms), kept after the slot
  KEYS[8] buyers   <prefix>:{a:<id>}:buyers   hash userId -> "orderId:quantity" (lua/purchase.lua)

  ARGV[1] most     the most admissions this pass may make (integer 0..100000): bounds the reply

  Returns {code, admitted, active, waiting, stock, noShows, bought, wait1, wait2, …}
    admitted = admissions made now, active = slots held after the pass, waiting = places left in the
    queue, stock = units left, noShows / bought = slots freed now by an expiry / a purchase, and one
    wait (ms from max(join, start) to now) per admission made now.
     1 ADMITTING     the pass ran (it may have admitted nobody: pacing, slots or units)
     5 SOLD_OUT      no unit left: nobody admitted (slots were still freed)
    -1 NOT_FOUND     no activity info
    -2 NOT_PREHEATED no stock key
    -3 NOT_STARTED   now < start: nothing done
    -4 ENDED         now >= end: nobody admitted
    -5 PAUSED        nobody admitted
   -11 NO_ROOM       the activity has no waiting room
  -100 ARGV_INVALID  {-100, '<argument name>'} (lua/argv.lua): nothing read or written

  Pacing: allowance = carry + rate * elapsed, capped at one second's worth, so an admitter that was away
  (a lease moving after a crash) makes up at most one second at once. Every admission is a ZPOPMIN from
  the head and a ZADD into passes in this one script: two admitters at once (a lease overlap) would only
  pace faster, never admit a shopper twice or skip one.
]]
local most = int(ARGV[1], 0, 100000)
if not most then return refuse('most') end

local info = redis.call('HMGET', KEYS[1], 'start', 'end', 'state', 'room')
if not info[1] then return {-1, 0, 0, 0, 0, 0, 0} end
if not info[4] or info[4] == '' then return {-11, 0, 0, 0, 0, 0, 0} end
local rate, maxActive, ttl = string.match(info[4], '^%d+:(%d+):(%d+):(%d+):')
rate, maxActive, ttl = tonumber(rate), tonumber(maxActive), tonumber(ttl)
local stock = redis.call('GET', KEYS[2])
if not stock then return {-2, 0, 0, 0, 0, 0, 0} end
stock = tonumber(stock)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local start = tonumber(info[1])
if now < start then return {-3, 0, 0, 0, stock, 0, 0} end

local room = redis.call('HMGET', KEYS[3], 'openedAt', 'carry', 'lastMs')
if not room[1] then
  redis.call('HSET', KEYS[3], 'openedAt', now)
  room[2], room[3] = '0', tostring(math.max(start, now - 1000))
end

-- Free the slots: an expired admission is a no-show unless its shopper bought; a live one that bought
-- gives its slot to the next shopper.
local noShows, bought = 0, 0
local expired = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now)
if #expired > 0 then
  local entries = redis.call('HMGET', KEYS[8], unpack(expired))
  for i = 1, #expired do
    if entries[i] then bought = bought + 1 else noShows = noShows + 1 end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
end
local holding = redis.call('ZRANGE', KEYS[6], 0, -1)
if #holding > 0 then
  local entries = redis.call('HMGET', KEYS[8], unpack(holding))
  for i = 1, #holding do
    if entries[i] then
      redis.call('ZREM', KEYS[6], holding[i])
      bought = bought + 1
    end
  end
end
if noShows > 0 then redis.call('HINCRBY', KEYS[3], 'noShows', noShows) end
if bought > 0 then redis.call('HINCRBY', KEYS[3], 'bought', bought) end

local active = redis.call('ZCARD', KEYS[6])
local waiting = redis.call('ZCARD', KEYS[4])
local code = 1
if stock <= 0 then code = 5 end
if now >= tonumber(info[2]) then code = -4 end
if info[3] == 'paused' then code = -5 end
if code ~= 1 then return {code, 0, active, waiting, stock, noShows, bought} end

local allowance = tonumber(room[2]) + rate * (now - tonumber(room[3])) / 1000
if allowance > rate then allowance = rate end
local n = math.min(math.floor(allowance), maxActive - active, stock - active, most, waiting)
if n < 0 then n = 0 end
redis.call('HSET', KEYS[3], 'carry', tostring(allowance - n), 'lastMs', now)

local reply = {1, n, active + n, waiting - n, stock, noShows, bought}
if n == 0 then return reply end
local popped = redis.call('ZPOPMIN', KEYS[4], n)
local expiry = now + ttl
for i = 1, #popped, 2 do
  local entry = redis.call('HGET', KEYS[5], popped[i])
  local sep = string.find(entry, '|', 1, true)
  local user = string.sub(entry, 1, sep - 1)
  local joined = tonumber(string.sub(entry, sep + 1))
  redis.call('ZADD', KEYS[6], expiry, user)
  redis.call('HSET', KEYS[7], user, expiry)
  reply[#reply + 1] = now - math.max(joined, start)
end
redis.call('HINCRBY', KEYS[3], 'popped', n)
redis.call('HINCRBY', KEYS[3], 'admitted', n)
return reply
