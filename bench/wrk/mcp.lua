-- wrk script for bench/run.sh.
--
-- Environment:
--   BENCH_BODY   JSON-RPC request body with "id":<number> (required); the id is
--                rewritten so that no two requests in flight share one
--   BENCH_SID    Mcp-Session-Id to send (optional: none for initialize)
--   BENCH_IDS    file of session ids, one a line: each request uses one picked
--                at random (instead of BENCH_SID)
--   BENCH_PROTO  MCP-Protocol-Version sent with a session (default 2025-11-25)
--   BENCH_HEADERS more request headers, "Name: value" separated by "|"
--                (a 2026-07-28 request: MCP-Protocol-Version, Mcp-Method,
--                Mcp-Name, and no session)
--
-- Every request is formatted up front, in a ring of at least 1024 per thread
-- (one per id in BENCH_IDS when there are more), and request() only walks the
-- ring: the client cost per request is the same for every target and mode.
-- JSON-RPC ids are unique per thread and a ring is far longer than the
-- requests a thread has in flight (-c/-t), so a session never sees two
-- concurrent requests with the same id (the TypeScript SDK maps responses
-- by id and would leave one of them unanswered).
--
-- Counts non-2xx answers in the response hook and prints one line
--   BENCHJSON {...}
-- with requests/s, latency percentiles (microseconds) and error counts.

local body  = os.getenv("BENCH_BODY") or error("BENCH_BODY not set")
local sid   = os.getenv("BENCH_SID")
local ids   = os.getenv("BENCH_IDS")
local proto = os.getenv("BENCH_PROTO") or "2025-11-25"
local extra = os.getenv("BENCH_HEADERS")
if sid == "" then sid = nil end
if ids == "" then ids = nil end
if not body:find('"id":%d+') then error('BENCH_BODY needs "id":<number>') end

wrk.method = "POST"
wrk.body   = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local ring, nring, pos = {}, 0, 0

function init(args)
  non2xx = 0
  responses = 0
  math.randomseed(os.time() * 1000 + tid)
  local sessions = {}
  if ids then
    for line in io.lines(ids) do
      if line ~= "" then sessions[#sessions + 1] = line end
    end
    if #sessions == 0 then error("no session ids in " .. ids) end
  elseif sid then
    sessions[1] = sid
  end
  local n = math.max(1024, #sessions)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
  }
  if extra and extra ~= "" then
    for h in extra:gmatch("[^|]+") do
      local k, v = h:match("^%s*([^:]+):%s*(.-)%s*$")
      if not k then error("BENCH_HEADERS: bad header " .. h) end
      headers[k] = v
    end
  end
  for i = 1, n do
    if #sessions > 0 then
      headers["Mcp-Session-Id"] = sessions[math.random(#sessions)]
      headers["MCP-Protocol-Version"] = proto
    end
    local b = body:gsub('"id":%d+', '"id":' .. (tid * 10000000 + i), 1)
    ring[i] = wrk.format("POST", nil, headers, b)
  end
  nring = n
end

function request()
  pos = pos + 1
  if pos > nring then pos = 1 end
  return ring[pos]
end

function response(status, headers, rbody)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad, seen = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    seen = seen + (t:get("responses") or 0)
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"non2xx":%d,"responses":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, bad, seen,
    e.connect, e.read, e.write, e.status, e.timeout))
end
