--[[
  claim: the order worker takes responsibility for persisting purchases, before it writes them.

  KEYS[1] buyers    <prefix>:{a:<id>}:buyers    hash userId -> "orderId:quantity"
  KEYS[2] claimed   <prefix>:{a:<id>}:claimed   hash orderId -> "1": the worker has taken this order
  KEYS[3] released  <prefix>:{a:<id>}:released  hash orderId -> "1": this order's unit was given back

  ARGV    userId1, orderId1, userId2, orderId2, ...   (one pair per message of this activity; an even
          count, each at most 256 bytes: they are only compared)

  Returns a list with one code per pair:
     1 CLAIMED   the buyer entry holds this orderId and its unit was not given back: persist it
     0 STALE     the entry is gone or holds another order, or the unit was given back: drop the message
  or {-100, '<argument name>'} ARGV_INVALID (lua/argv.lua): nothing read or written

  After a claim, a seckill restore (publish failed or timed out) no longer gives the unit back: the
  order is being persisted, so the purchase stands.
]]
if #ARGV % 2 ~= 0 then return refuse('pairs') end
for i = 1, #ARGV do
  if not short(ARGV[i], 256) then return refuse(i % 2 == 1 and 'userId' or 'orderId') end
end

local out = {}
for i = 1, #ARGV, 2 do
  local entry = redis.call('HGET', KEYS[1], ARGV[i])
  local held = entry and string.sub(entry, 1, string.find(entry, ':', 1, true) - 1) == ARGV[i + 1]
  if held and redis.call('HEXISTS', KEYS[3], ARGV[i + 1]) == 0 then
    redis.call('HSET', KEYS[2], ARGV[i + 1], '1')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
