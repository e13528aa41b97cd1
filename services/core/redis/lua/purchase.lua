--[[
  purchase: take `quantity` units of one activity's stock for one user, atomically.

  KEYS[1] stock   <prefix>:{a:<id>}:stock   integer; a missing key means "not preheated", never zero
  KEYS[2] buyers  <prefix>:{a:<id>}:buyers  hash userId -> "orderId:quantity"
  KEYS[3] info    <prefix>:{a:<id>}:info    hash start, end (epoch ms), maxPerUser, state, total, price,
                                            token ("" or absent: no purchase token needed)
  KEYS[4] idem    <prefix>:{a:<id>}:idem    hash userId -> Idempotency-Key of the accepted purchase
  KEYS[5] kept    <prefix>:{a:<id>}:kept    hash orderId -> "1": a key replay was answered (see below)
  KEYS[6] tokens  <prefix>:{a:<id>}:tokens  set of spent purchase-token nonces; expires after the window
  KEYS[7] claimed <prefix>:{a:<id>}:claimed hash orderId -> "1" or "parked": the worker took the order

  ARGV[1] userId    1..128 bytes
  ARGV[2] orderId   UUIDv7 made by the caller before the call; a replayed call carries the same one
                    (1..64 bytes, no ':': it is the first half of the buyer entry)
  ARGV[3] quantity  integer 1..1000000
  ARGV[4] Idempotency-Key (at most 128 bytes), or "" when the request had none
  ARGV[5] purchase token: its nonce once the caller verified its signature, user, activity and expiry;
          "" when the request carried none; "-" when it carried one that failed verification.
          Only read when info.token says a token is needed. At most 128 bytes.
  ARGV[6] keepMs: how long after the window's end a spent nonce must be remembered (the token lifetime),
          integer 0..31536000000

  Returns {code, orderId, remaining, quantity}; remaining is -1 when unknown.
     1 ACCEPTED           units taken, buyer entry written; orderId = ARGV[2]
     2 REPLAYED           the user's entry already holds this orderId or this Idempotency-Key: the same
                          answer as the first time, nothing taken again. A key replay (a retry, perhaps on
                          another pod) also marks the order kept: once any pod may answer 202 for it, the
                          first request's restore (its confirm was late) must not take the unit back.
     3 REPLAYED_TAKEN     a key replay of an order the worker already took (claimed: being written or a
                          row, or parked): the same answer, and the caller publishes nothing again
    -1 NOT_FOUND          no activity info
    -2 NOT_PREHEATED      info present, stock key missing
    -3 NOT_STARTED        now < start
    -4 ENDED              now >= end
    -5 PAUSED             info.state == "paused"
    -6 LIMIT_EXCEEDED     quantity > maxPerUser
    -7 ALREADY_PURCHASED  the user holds another order (its orderId returned)
    -8 SOLD_OUT           remaining < quantity
    -9 TOKEN_REQUIRED     the sale needs a purchase token and the request had none
   -10 TOKEN_INVALID      the token failed verification, or its nonce was already spent
  -100 ARGV_INVALID       {-100, '<argument name>'}: an argument outside the ranges above (lua/argv.lua);
                          nothing read or written

  A token is spent when it buys (accepted): every other answer leaves it usable, so the nonce set grows
  with purchases only, never with sold-out attempts. Replays are answered before the token is looked
  at: a retry of an accepted purchase with its (spent) token answers the same orderId.

  The clock is Redis' own (TIME), so every seckill pod judges the window by one clock. The buyer entry is
  read before the window, the pause and the stock: a replay answers as the first time did, also after the
  sale sold out, ended or was paused.
]]
if not text(ARGV[1], 128) then return refuse('userId') end
if not text(ARGV[2], 64) or string.find(ARGV[2], ':', 1, true) then return refuse('orderId') end
local quantity = int(ARGV[3], 1, 1000000)
if not quantity then return refuse('quantity') end
if not short(ARGV[4], 128) then return refuse('idempotencyKey') end
if not short(ARGV[5], 128) then return refuse('token') end
local keepMs = int(ARGV[6], 0, 31536000000)
if not keepMs then return refuse('keepMs') end

local info = redis.call('HMGET', KEYS[3], 'start', 'end', 'maxPerUser', 'state', 'token')
if not info[1] then return {-1, '', -1, 0} end
local stock = redis.call('GET', KEYS[1])
if not stock then return {-2, '', -1, 0} end
stock = tonumber(stock)

local entry = redis.call('HGET', KEYS[2], ARGV[1])
if entry then
  local sep = string.find(entry, ':', 1, true)
  local existing = string.sub(entry, 1, sep - 1)
  local held = tonumber(string.sub(entry, sep + 1))
  if existing == ARGV[2] then return {2, existing, stock, held} end
  if ARGV[4] ~= '' and redis.call('HGET', KEYS[4], ARGV[1]) == ARGV[4] then
    -- Taken by the worker: its message arrived, a restore can no longer take the unit, nothing to publish.
    if redis.call('HEXISTS', KEYS[7], existing) == 1 then return {3, existing, stock, held} end
    redis.call('HSET', KEYS[5], existing, '1')
    return {2, existing, stock, held}
  end
  return {-7, existing, stock, held}
end

local nonce = nil
if info[5] and info[5] ~= '' then
  if ARGV[5] == '' then return {-9, '', stock, 0} end
  if ARGV[5] == '-' or redis.call('SISMEMBER', KEYS[6], ARGV[5]) == 1 then return {-10, '', stock, 0} end
  nonce = ARGV[5]
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(info[1]) then return {-3, '', stock, 0} end
if now >= tonumber(info[2]) then return {-4, '', stock, 0} end
if info[4] == 'paused' then return {-5, '', stock, 0} end

if quantity > tonumber(info[3]) then return {-6, '', stock, 0} end
if stock < quantity then return {-8, '', stock, 0} end

if nonce then
  redis.call('SADD', KEYS[6], nonce)
  redis.call('PEXPIREAT', KEYS[6], math.max(now, tonumber(info[2])) + keepMs)
end
stock = redis.call('DECRBY', KEYS[1], quantity)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. quantity)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[1], ARGV[4]) end
return {1, ARGV[2], stock, quantity}
