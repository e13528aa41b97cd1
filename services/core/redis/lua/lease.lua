--[[
  lease: one holder at a time for a periodic job run by every replica (the orders reconciler).

  KEYS[1] lease   <prefix>:orders:reconciler-lease   string: the holder's id, with a TTL

  ARGV[1] holder  this process' id
  ARGV[2] ttl     milliseconds; the holder renews it every run, so a dead holder's lease lapses by then

  Returns
     1 HELD   the lease was free or already ours: it is ours for ttl more milliseconds
     0 TAKEN  another holder has it
]]
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
