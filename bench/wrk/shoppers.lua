-- wrk script: every request is a POST carrying the next shopper's token (one thread, so one counter).
-- Usage: wrk -t1 -cN -dS --latency -s shoppers.lua URL -- <path> <tokens-file>
-- done() prints one line `WRK_JSON {...}` the bench parses (requests, duration, percentiles, errors).
local tokens = {}
local path = "/"
local body = '{"quantity":1}'
local i = 0

function init(args)
  path = args[1] or "/"
  if args[2] then
    for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
  end
  if #tokens == 0 then tokens[1] = "none" end
end

function request()
  i = i + 1
  local t = tokens[(i - 1) % #tokens + 1]
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. t,
    ["Content-Type"] = "application/json",
  }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
