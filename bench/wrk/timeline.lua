-- wrk script: shoppers.lua, and when in the run its answers came (BENCH_TIMELINE=1, a diagnosis switch of
-- `npm run bench`). Each answer is counted in its 50-ms slice of the run (a monotonic clock through
-- LuaJIT's FFI: wrk's Lua has no clock finer than a second), with the 202s among them. wrk cannot pair an
-- answer with its request, so a slice tells its rate, not its latencies: with N connections each holding
-- one request, a slice of R answers per second averages N/R seconds per answer (Little's law).
-- done() prints `WRK_TIMELINE 0:<answers>/<202s> 50:…` for the first 3 s, after shoppers.lua's line.
-- Defining response() costs wrk CPU on every answer: never on for the figures that are quoted.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "shoppers.lua")

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } stampede_ts;
  int clock_gettime(int clock, stampede_ts *tp);
]]
local CLOCK_MONOTONIC = 1
local SLICE_MS = 50
local SHOWN_SLICES = 60
local ts = ffi.new("stampede_ts")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- Per thread (wrk copies these globals back to done() with thread:get).
answers = {}
accepted = {}
local first = nil
function response(status, headers, body)
  local t = now_ms()
  if not first then first = t end
  local k = math.floor((t - first) / SLICE_MS)
  answers[k] = (answers[k] or 0) + 1
  if status == 202 then accepted[k] = (accepted[k] or 0) + 1 end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

local shoppers_done = done
function done(summary, latency, requests)
  shoppers_done(summary, latency, requests)
  local out = {}
  for _, thread in ipairs(threads) do
    local a, ok = thread:get("answers"), thread:get("accepted")
    for k = 0, SHOWN_SLICES - 1 do
      out[#out + 1] = string.format("%d:%d/%d", k * SLICE_MS, a[k] or 0, ok[k] or 0)
    end
  end
  io.write("WRK_TIMELINE " .. table.concat(out, " ") .. "\n")
end
