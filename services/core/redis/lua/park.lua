--[[
  park: mark an order parked (or, replayed, back to claimed) while its unit is still held.

  KEYS[1] buyers    <prefix>:{a:<id>}:buyers    hash userId -> "orderId:quantity"
  KEYS[2] claimed   <prefix>:{a:<id>}:claimed   hash orderId -> "1" claimed, "parked" in the parking lot
  KEYS[3] released  <prefix>:{a:<id>}:released  hash orderId -> "1": this order's unit was given back

  ARGV[1] userId    at most 256 bytes (only compared)
  ARGV[2] orderId   at most 256 bytes (only compared)
  ARGV[3] mark      "parked" when the worker parks it, "1" when `stampede orders replay-parked` re-drives it

  A parked order keeps its unit: it was accepted (a 202), so it stays the buyer's until a person re-drives
  it into a row. The reconciler does not re-publish it, and `GET …/result` answers `parked`.

  Returns
     1 HELD      the buyer entry holds this orderId and its unit was not given back: marked
     0 NOT_HELD  the entry is gone or holds another order, or the unit was given back: nothing changed
  -100 ARGV_INVALID {-100, '<argument name>'} (lua/argv.lua): nothing read or written
]]
if not short(ARGV[1], 256) then return refuse('userId') end
if not short(ARGV[2], 256) then return refuse('orderId') end
if ARGV[3] ~= 'parked' and ARGV[3] ~= '1' then return refuse('mark') end

local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
if string.sub(entry, 1, string.find(entry, ':', 1, true) - 1) ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
