--[[
  release: give back the unit of an order that will not be paid (closed, failed, parked), exactly once.

  KEYS[1] stock     <prefix>:{a:<id>}:stock
  KEYS[2] buyers    <prefix>:{a:<id>}:buyers    hash userId -> "orderId:quantity"
  KEYS[3] released  <prefix>:{a:<id>}:released  hash orderId -> "1"

  ARGV[1] userId    at most 256 bytes (only compared: a salvaged malformed message may carry anything)
  ARGV[2] orderId   at most 256 bytes (only compared)
  ARGV[3] channel   pub/sub channel announcing stock changes (1..512 bytes)
  ARGV[4] activity  the message published on ARGV[3] (1..253 bytes)

  The buyer entry stays: one order per user and activity (UNIQUE (activity_id, user_id) in Postgres), so
  the user cannot buy again, but the unit is for sale again.

  Returns {code, remaining}
     1 RELEASED     unit added back, change announced
     0 ALREADY      this order's unit was given back before (or the entry holds another order): no-op
    -1 NO_STOCK     the stock key is gone (activity removed): nothing to give back to
  -100 ARGV_INVALID {-100, '<argument name>'} (lua/argv.lua): nothing read or written
]]
if not short(ARGV[1], 256) then return refuse('userId') end
if not short(ARGV[2], 256) then return refuse('orderId') end
if not text(ARGV[3], 512) then return refuse('channel') end
if not text(ARGV[4], 253) then return refuse('activity') end

local stock = redis.call('GET', KEYS[1])
if not stock then return {-1, -1} end
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry then return {0, tonumber(stock)} end
local sep = string.find(entry, ':', 1, true)
if string.sub(entry, 1, sep - 1) ~= ARGV[2] then return {0, tonumber(stock)} end
if redis.call('HSETNX', KEYS[3], ARGV[2], '1') == 0 then return {0, tonumber(stock)} end
local remaining = redis.call('INCRBY', KEYS[1], tonumber(string.sub(entry, sep + 1)))
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {1, remaining}
