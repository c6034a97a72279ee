-- wrk's script for the load test's balancer-failover phase (role highload.cluster.loadtest):
--   wrk -t2 -c100 -d30s -H 'Connection: close' -s failover.lua URL -- ORIGIN
-- Each thread counts its answers in buckets of 100 ms since ORIGIN (epoch seconds, the phase's start on the
-- controller; this machine's clock), by status class (2xx, 3xx, 4xx, 5xx) and by the balancer that served them
-- (the X-Balancer header; "-" without one). done() gathers the threads' counts and prints one JSON document on
-- one line: origin, bucket_seconds, answers ([bucket, class, balancer, count], ...), summary (duration_us,
-- requests, bytes, errors: connect, read, write, status, timeout) and latency_us (mean, max, stdev and the
-- percentiles p50, p90, p95, p99). wrk counts its errors without a time: they are totals only.
-- Needs wrk built with LuaJIT (Debian's is): the clock is clock_gettime through its FFI.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } highload_timespec;
int clock_gettime(int clock_id, highload_timespec *tp);
]])

local CLOCK_REALTIME = 0
local BUCKET = 0.1
local spec = ffi.new("highload_timespec")

local function now()
    ffi.C.clock_gettime(CLOCK_REALTIME, spec)
    return tonumber(spec.tv_sec) + tonumber(spec.tv_nsec) / 1e9
end

-- The main state: the threads, for done().
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

-- Each thread's state.
origin = nil
counts = {}

function init(args)
    origin = tonumber(args[1]) or now()
end

function response(status, headers, body)
    local bucket = math.floor((now() - origin) / BUCKET)
    local class = tostring(math.floor(status / 100)) .. "xx"
    local balancer = headers["X-Balancer"] or headers["x-balancer"] or "-"
    local key = bucket .. "\t" .. class .. "\t" .. balancer
    counts[key] = (counts[key] or 0) + 1
end

local function quote(text)
    local escaped = text:gsub('[%c"\\]', function(char)
        return string.format("\\u%04x", string.byte(char))
    end)
    return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
    local merged, keys, origin_seen = {}, {}, nil
    for _, thread in ipairs(threads) do
        origin_seen = origin_seen or thread:get("origin")
        for key, count in pairs(thread:get("counts") or {}) do
            if merged[key] == nil then
                table.insert(keys, key)
            end
            merged[key] = (merged[key] or 0) + count
        end
    end
    table.sort(keys)
    local answers = {}
    for _, key in ipairs(keys) do
        local bucket, class, balancer = key:match("^(-?%d+)\t([^\t]+)\t(.*)$")
        table.insert(answers, string.format("[%d,%s,%s,%d]", tonumber(bucket), quote(class), quote(balancer), merged[key]))
    end
    local errors = summary.errors
    local document = string.format(
        '{"origin":%.6f,"bucket_seconds":%.1f,"answers":[%s],'
            .. '"summary":{"duration_us":%d,"requests":%d,"bytes":%d,'
            .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}},'
            .. '"latency_us":{"mean":%.1f,"max":%d,"stdev":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d}}',
        origin_seen or 0, BUCKET, table.concat(answers, ","),
        summary.duration, summary.requests, summary.bytes,
        errors.connect, errors.read, errors.write, errors.status, errors.timeout,
        latency.mean, latency.max, latency.stdev,
        latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99)
    )
    io.write(document, "\n")
end
