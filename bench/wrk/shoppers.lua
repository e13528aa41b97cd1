-- wrk script: every request carries the next shopper's token (one thread, so one counter); a POST with a
-- small JSON body unless the third argument says GET (the waiting room's status polls).
-- Usage: wrk -t1 -cN -dS --latency -s shoppers.lua URL -- <path> <tokens-file> [POST|GET]
-- done() prints one line `WRK_JSON {...}` the bench parses (requests, duration, percentiles, errors).
local tokens = {}
local path = "/"
local body = '{"quantity":1}'
local method = "POST"
local i = 0

function init(args)
  path = args[1] or "/"
  if args[2] then
    for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
  end
  if #tokens == 0 then tokens[1] = "none" end
  method = args[3] or "POST"
end

-- A line is "<access token>" or "<access token><TAB><purchase token>" (a token-guarded sale).
function request()
  i = i + 1
  local line = tokens[(i - 1) % #tokens + 1]
  local tab = string.find(line, "\t", 1, true)
  local headers = {}
  if method == "POST" then headers["Content-Type"] = "application/json" end
  if tab then
    headers["Authorization"] = "Bearer " .. string.sub(line, 1, tab - 1)
    headers["Purchase-Token"] = string.sub(line, tab + 1)
  else
    headers["Authorization"] = "Bearer " .. line
  end
  if method == "GET" then return wrk.format("GET", path, headers) end
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
