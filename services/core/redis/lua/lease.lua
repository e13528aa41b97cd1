--[[
  lease: one holder at a time for a periodic job run by every replica (the orders reconciler).

  KEYS[1] lease   <prefix>:orders:reconciler-lease   string: the holder's id, with a TTL

  ARGV[1] holder  this process' id (1..128 bytes)
  ARGV[2] ttl     milliseconds, integer 1..31536000000; the holder renews it every run, so a dead holder's
                  lease lapses by then

  Returns
     1 HELD   the lease was free or already ours: it is ours for ttl more milliseconds
     0 TAKEN  another holder has it
  -100 ARGV_INVALID {-100, '<argument name>'} (lua/argv.lua): nothing read or written
]]
if not text(ARGV[1], 128) then return refuse('holder') end
local ttl = int(ARGV[2], 1, 31536000000)
if not ttl then return refuse('ttl') end
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
