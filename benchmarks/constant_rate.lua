-- wrk at a constant rate: `wrk -t1 -cN -dS -s benchmarks/constant_rate.lua URL -- RATE [BODY [HEADER ...]]`.
-- With BODY (a file), every request is a POST of that file's content, with each HEADER
-- ("Name: value") added: bench_jobs.py posts jobs this way.
--
-- Debian packages wrk, not wrk2. wrk asks the script's delay() before each request a
-- connection sends; here every call claims the next slot of one schedule (a slot every
-- 1/RATE s, per thread) and waits for it, so the thread sends RATE requests/s whatever
-- the server does, as long as a connection is free when a slot comes. A slot already
-- past when it is claimed (the server, or wrk itself, fell behind) is sent at once and
-- counted as late: wrk times a request from when it was sent, so latency hidden by a
-- stall ("coordinated omission") shows up as late sends instead. done() prints one JSON
-- line: requests, seconds, errors, late sends, latency percentiles in microseconds.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } devmatrix_timespec;
int clock_gettime(int clock_id, devmatrix_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("devmatrix_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local interval_ms, next_due
late = 0 -- global: done() reads it from each thread with thread:get("late")

function init(args)
  local rate = tonumber(args[1])
  if rate == nil or rate <= 0 then
    error("usage: wrk ... -s constant_rate.lua URL -- RATE (requests per second per thread)")
  end
  interval_ms = 1000 / rate
  if args[2] then
    local file = assert(io.open(args[2], "rb"))
    wrk.method, wrk.body = "POST", file:read("*a")
    file:close()
    for i = 3, #args do
      local name, value = args[i]:match("^([^:]+):%s*(.*)$")
      wrk.headers[name] = value
    end
  end
end

function delay()
  local now = now_ms()
  next_due = (next_due or now) + interval_ms
  local wait = next_due - now
  if wait < -1 then
    late = late + 1
  end
  -- wrk's timers count whole milliseconds; the schedule itself stays exact.
  return wait > 0 and math.floor(wait + 0.5) or 0
end

function done(summary, latency, _)
  local sent_late = 0
  for _, thread in ipairs(threads) do
    sent_late = sent_late + thread:get("late")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "errors": %d, "late": %d, '
    .. '"p50_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.status + e.timeout, sent_late,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
