--[[
  queue-summary: what every shopper's status needs about an activity's waiting room, in one read. Each
  seckill process makes this call once per room per interval and answers status polls from memory.

  KEYS[1] info     <prefix>:{a:<id>}:info     hash start, end, room
  KEYS[2] stock    <prefix>:{a:<id>}:stock
  KEYS[3] room     <prefix>:{a:<id>}:room     hash commit, seed, openedAt, popped, admitted, noShows, bought
  KEYS[4] queue    <prefix>:{a:<id>}:queue
  KEYS[5] passes   <prefix>:{a:<id>}:passes
  KEYS[6] prequeue <prefix>:{a:<id>}:prequeue

  No ARGV.

  Returns {found, openedAt, popped, admitted, noShows, bought, waiting, active, preQueue, stock, commit,
           seed, now}
    found 0: no info hash or no room (the rest zero or ""). openedAt -1: not opened yet; seed "" until the
    room has opened (the commitment is public from the preheat). stock -1: not preheated. now: Redis' clock.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local info = redis.call('HMGET', KEYS[1], 'start', 'room')
if not info[1] or not info[2] or info[2] == '' then return {0, -1, 0, 0, 0, 0, 0, 0, 0, -1, '', '', now} end
local r = redis.call('HMGET', KEYS[3], 'openedAt', 'popped', 'admitted', 'noShows', 'bought', 'commit', 'seed')
local opened = r[1] ~= false and r[1] ~= nil
local seed = ''
if opened then seed = r[7] or '' end
return {
  1, tonumber(r[1] or '-1'), tonumber(r[2] or '0'), tonumber(r[3] or '0'), tonumber(r[4] or '0'),
  tonumber(r[5] or '0'), redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]),
  redis.call('SCARD', KEYS[6]), tonumber(redis.call('GET', KEYS[2]) or '-1'), r[6] or '', seed, now,
}
