--[[
  restore: give a purchase's units back, exactly once.

  KEYS[1] stock   <prefix>:{a:<id>}:stock
  KEYS[2] buyers  <prefix>:{a:<id>}:buyers  hash userId -> "orderId:quantity"
  KEYS[3] idem    <prefix>:{a:<id>}:idem
  KEYS[4] claimed <prefix>:{a:<id>}:claimed  hash orderId -> "1" (lua/claim.lua)
  KEYS[5] kept    <prefix>:{a:<id>}:kept     hash orderId -> "1" (lua/purchase.lua, key replay answered)

  ARGV[1] userId    at most 256 bytes (only compared)
  ARGV[2] orderId   only an entry that still holds this orderId is undone (at most 256 bytes)
  ARGV[3] channel   pub/sub channel announcing stock changes (1..512 bytes)
  ARGV[4] activity  the message published on ARGV[3] (1..253 bytes)

  Returns {code, remaining}
     1 RESTORED     entry removed, units added back, change announced
     0 NOT_HELD     the entry is gone or holds another order: nothing changed (a second restore is a no-op)
     2 CLAIMED      the order worker already took this order: it stands, nothing changed
     3 KEPT         a key replay of this order was answered (202 perhaps, elsewhere): it stands, nothing
                    changed; the reconciler publishes it should no message of it ever arrive
    -1 NO_STOCK     the stock key is gone (activity removed): nothing changed
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
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return {2, tonumber(stock)} end
if redis.call('HEXISTS', KEYS[5], ARGV[2]) == 1 then return {3, tonumber(stock)} end

local quantity = tonumber(string.sub(entry, sep + 1))
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
local remaining = redis.call('INCRBY', KEYS[1], quantity)
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {1, remaining}
