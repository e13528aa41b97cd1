--[[
  queue-join: one place per user in an activity's waiting room (docs/waiting-room.md).

  KEYS[1] info     <prefix>:{a:<id>}:info     hash start, end, state, room ("<opensBeforeMs>:<rate>:<maxActive>:
                                              <ttlMs>:<challenge>[:…]"; absent or "": no room)
  KEYS[2] stock    <prefix>:{a:<id>}:stock    integer; missing: not preheated
  KEYS[3] room     <prefix>:{a:<id>}:room     hash seed, seq, openedAt
  KEYS[4] queue    <prefix>:{a:<id>}:queue    zset ticket -> order score
  KEYS[5] tickets  <prefix>:{a:<id>}:tickets  hash ticket -> "userId|joinMs"
  KEYS[6] members  <prefix>:{a:<id>}:members  hash userId -> ticket
  KEYS[7] prequeue <prefix>:{a:<id>}:prequeue set of the tickets that joined before the room opened

  ARGV[1] userId   1..128 bytes, no '|'
  ARGV[2] ticket   a fresh random ticket made by the caller (16..64 bytes of [A-Za-z0-9_-]); used only when
                   the user has no place yet

  Returns {code, ticket, prequeue, extra}
     1 JOINED         a new place; prequeue 1 when it is in the pre-queue (joined before the opening)
     2 ALREADY        the user's existing place (answered before any window check: the same every time)
    -1 NOT_FOUND      no activity info
    -2 NOT_PREHEATED  no stock key, or a room without its seed
    -3 NOT_OPEN       before start - opensBefore; extra = the opening (epoch ms)
    -4 ENDED          now >= end
    -5 PAUSED         info.state == "paused"
    -8 SOLD_OUT       no unit left
   -11 NO_ROOM        the activity has no waiting room
  -100 ARGV_INVALID   {-100, '<argument name>'} (lua/argv.lua): nothing read or written

  Order: a pre-queue place scores the first 52 bits of sha1(seed .. ticket) (exact in a double, below
  2^52), so the shuffle is fixed by the seed committed before the start and recomputable once it is
  revealed; a later place scores 2^52 + seq, behind every pre-queue place in arrival order. The pre-queue
  closes at the start by Redis' clock (TIME), the one every process shares.
]]
if not text(ARGV[1], 128) or string.find(ARGV[1], '|', 1, true) then return refuse('userId') end
if type(ARGV[2]) ~= 'string' or #ARGV[2] < 16 or #ARGV[2] > 64 or not string.match(ARGV[2], '^[%w_-]+$') then
  return refuse('ticket')
end

local existing = redis.call('HGET', KEYS[6], ARGV[1])
if existing then
  return {2, existing, redis.call('SISMEMBER', KEYS[7], existing), 0}
end

local info = redis.call('HMGET', KEYS[1], 'start', 'end', 'state', 'room')
if not info[1] then return {-1, '', 0, 0} end
if not info[4] or info[4] == '' then return {-11, '', 0, 0} end
local stock = redis.call('GET', KEYS[2])
local room = redis.call('HMGET', KEYS[3], 'seed', 'openedAt')
if not stock or not room[1] then return {-2, '', 0, 0} end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local start = tonumber(info[1])
local opens = start - tonumber(string.match(info[4], '^(%d+):'))
if now < opens then return {-3, '', 0, opens} end
if now >= tonumber(info[2]) then return {-4, '', 0, 0} end
if info[3] == 'paused' then return {-5, '', 0, 0} end
if tonumber(stock) <= 0 then return {-8, '', 0, 0} end

local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
local pre = 0
local score = 4503599627370496 + seq
if now < start and not room[2] then
  pre = 1
  score = tonumber(string.sub(redis.sha1hex(room[1] .. ARGV[2]), 1, 13), 16)
  redis.call('SADD', KEYS[7], ARGV[2])
end
redis.call('ZADD', KEYS[4], score, ARGV[2])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[1] .. '|' .. now)
redis.call('HSET', KEYS[6], ARGV[1], ARGV[2])
return {1, ARGV[2], pre, 0}
