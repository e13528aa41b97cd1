--[[
  result: what Redis knows of a user's purchase, in one round trip (GET /seckill/:activity/result).

  KEYS[1] buyers    <prefix>:{a:<id>}:buyers    hash userId -> "orderId:quantity"
  KEYS[2] claimed   <prefix>:{a:<id>}:claimed   hash orderId -> "1" claimed by the worker, "parked"
  KEYS[3] released  <prefix>:{a:<id>}:released  hash orderId -> "1": the order's unit was given back

  ARGV[1] userId    1..128 bytes

  Returns {entry, claimed, released}, each "" when absent:
    entry     "orderId:quantity" or "" (no purchase known to Redis)
    claimed   "" (queued: not taken by the worker yet), "1" (taken: maybe a row by now), "parked"
    released  "" or "1" (the order closed or failed, or was parked malformed)
  or {-100, '<argument name>'} ARGV_INVALID (lua/argv.lua): nothing read
]]
if not text(ARGV[1], 128) then return refuse('userId') end
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return {'', '', ''} end
local id = string.sub(entry, 1, string.find(entry, ':', 1, true) - 1)
return {entry, redis.call('HGET', KEYS[2], id) or '', redis.call('HGET', KEYS[3], id) or ''}
