-- wrk script: rotate through pre-made requests, one "path<TAB>Cookie header" per line.
--   wrk -t2 -c32 -d20s --latency -s bench/rotate.lua http://127.0.0.1:8765 -- FILE
-- Counts every response that is not 200 (wrk itself only counts >= 400, so a redirect
-- to the sign-in page would pass unnoticed) and prints one "RESULT {...}" JSON line.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file = args[1] or error("give the request file after --")
  list = {}
  for line in io.lines(file) do
    local path, cookie = line:match("^([^\t]+)\t(.+)$")
    if path then
      list[#list + 1] = wrk.format("GET", path, { ["Cookie"] = cookie })
    end
  end
  if #list == 0 then error("no requests in " .. file) end
  -- threads start far apart in the list
  index = ((id - 1) * 7919) % #list
  not_ok, s3xx, s4xx, s5xx = 0, 0, 0, 0
end

function request()
  index = index % #list + 1
  return list[index]
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
    if status >= 500 then s5xx = s5xx + 1
    elseif status >= 400 then s4xx = s4xx + 1
    elseif status >= 300 then s3xx = s3xx + 1 end
  end
end

function done(summary, latency, requests)
  local n, r3, r4, r5 = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    n = n + thread:get("not_ok")
    r3 = r3 + thread:get("s3xx")
    r4 = r4 + thread:get("s4xx")
    r5 = r5 + thread:get("s5xx")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "not_200": %d, "status_3xx": %d, '
    .. '"status_4xx": %d, "status_5xx": %d, "socket_errors": %d, "timeouts": %d, '
    .. '"latency_mean_us": %.1f, "latency_p50_us": %d, "latency_p90_us": %d, "latency_p99_us": %d, '
    .. '"latency_max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, n, r3, r4, r5,
    e.connect + e.read + e.write, e.timeout, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max))
end
