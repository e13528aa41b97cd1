--[[
  queue-me: one shopper's place in an activity's waiting room, found by user or by ticket.

  KEYS[1] room     <prefix>:{a:<id>}:room     hash openedAt, popped
  KEYS[2] queue    <prefix>:{a:<id>}:queue    zset ticket -> order score
  KEYS[3] tickets  <prefix>:{a:<id>}:tickets  hash ticket -> "userId|joinMs"
  KEYS[4] members  <prefix>:{a:<id>}:members  hash userId -> ticket
  KEYS[5] admits   <prefix>:{a:<id>}:admits   hash userId -> admission expiry (ms)
  KEYS[6] buyers   <prefix>:{a:<id>}:buyers   hash userId -> "orderId:quantity"
  KEYS[7] prequeue <prefix>:{a:<id>}:prequeue set of pre-queue tickets

  ARGV[1] by       "user" or "ticket"
  ARGV[2] id       the userId or the ticket (1..128 bytes)

  Returns {found, ticket, userId, prequeue, position, admitExpiry, buyerEntry, now}
    found 0: no such place (the rest empty). position: the place's number counted from the first place
    ever (popped + rank + 1), fixed once the pre-queue has closed; -1 when it has left the queue
    (admitted). admitExpiry: -1 when never admitted. buyerEntry: "" when the user holds no order.
    now: Redis' clock (ms).
  -100 ARGV_INVALID {-100, '<argument name>'} (lua/argv.lua): nothing read
]]
if ARGV[1] ~= 'user' and ARGV[1] ~= 'ticket' then return refuse('by') end
if not text(ARGV[2], 128) then return refuse('id') end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ticket, user = ARGV[2], nil
if ARGV[1] == 'user' then
  user = ARGV[2]
  ticket = redis.call('HGET', KEYS[4], user)
  if not ticket then return {0, '', '', 0, -1, -1, '', now} end
else
  local entry = redis.call('HGET', KEYS[3], ticket)
  if not entry then return {0, '', '', 0, -1, -1, '', now} end
  user = string.sub(entry, 1, string.find(entry, '|', 1, true) - 1)
end

local position = -1
local rank = redis.call('ZRANK', KEYS[2], ticket)
if rank then position = tonumber(redis.call('HGET', KEYS[1], 'popped') or '0') + rank + 1 end
local expiry = tonumber(redis.call('HGET', KEYS[5], user) or '-1')
local buyer = redis.call('HGET', KEYS[6], user) or ''
return {1, ticket, user, redis.call('SISMEMBER', KEYS[7], ticket), position, expiry, buyer, now}
