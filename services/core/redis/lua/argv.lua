--[[
  argv: the ARGV checks every script shares. Redis has no includes, so scripts.ts puts this text in front
  of each script's own (it is never a command of its own). No KEYS, no ARGV, no return of its own.

  A script checks all of its ARGV before it reads or writes a key, and refuses what it was not written
  for (a quantity of -500, a ttl of 1.5, an unknown state) with
    {-100, '<argument name>'}   ARGV_INVALID
  which scripts.ts turns into one typed error, whatever the script. Callers validate their input first:
  this is the last guard, so a bug or a new caller can never turn stock 10 into 510.
]]
local ARGV_INVALID = -100

local function refuse(name)
  return {ARGV_INVALID, name}
end

-- An integer in decimal digits within [lo, hi], else nil ("1e3", "0x10", " 5", "1.0" are no integers).
-- At most 16 characters, so every accepted value is exact in Lua's double.
local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%-?%d+$') then return nil end
  local n = tonumber(s)
  if n < lo or n > hi then return nil end
  return n
end

-- A string of 1..max bytes.
local function text(s, max)
  return type(s) == 'string' and #s >= 1 and #s <= max
end

-- A string of 0..max bytes (compared with stored values only, never written).
local function short(s, max)
  return type(s) == 'string' and #s <= max
end
