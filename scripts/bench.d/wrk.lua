-- wrk script for scripts/bench. Everything comes from the environment:
--   BENCH_METHOD  GET (default) or POST
--   BENCH_AUTH    value of the Authorization header (absent when empty)
--   BENCH_BODY    request body (sent with Content-Type: application/json)
--   BENCH_DELAY_MS  pause of each connection between two requests (a paced load instead of
--                   a closed loop that takes all the CPU it can)
--   BENCH_HEADER  one more header, "Name: value" (If-Match, If-None-Match)
--   BENCH_UNIQUE  a prefix: each request gets "{n}" in its body replaced by PREFIX-THREAD-N,
--                 unique in the run (creates); with BENCH_IDEMPOTENCY=1 also an
--                 Idempotency-Key of that value; "{b}" becomes true and false in turn (a
--                 boolean field that changes at every request of a connection)
--   BENCH_PATHS   paths separated by spaces: each request of a connection takes the next one
--                 (with BENCH_UNIQUE; writes spread over several rows)
-- At the end it prints one machine-readable line:
--   BENCH rps=<req/s> p50=<ms> p99=<ms> mean=<ms> requests=<n> errors=<n>
-- where errors counts non-2xx/3xx answers, connect/read/write errors and timeouts.
local method = os.getenv("BENCH_METHOD") or "GET"
local auth = os.getenv("BENCH_AUTH") or ""
local body = os.getenv("BENCH_BODY") or ""
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "") or 0
local extra = os.getenv("BENCH_HEADER") or ""
local unique = os.getenv("BENCH_UNIQUE") or ""
local keyed = os.getenv("BENCH_IDEMPOTENCY") == "1"
local paths = {}
for p in (os.getenv("BENCH_PATHS") or ""):gmatch("%S+") do
    table.insert(paths, p)
end

wrk.method = method
if auth ~= "" then
    wrk.headers["Authorization"] = auth
end
if body ~= "" then
    wrk.body = body
    wrk.headers["Content-Type"] = "application/json"
end

if extra ~= "" then
    local name, value = extra:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
end

if unique ~= "" then
    local threads = 0
    function setup(thread)
        threads = threads + 1
        thread:set("tid", threads)
    end
    local n = 0
    request = function()
        n = n + 1
        local id = string.format("%s-%d-%d", unique, tid, n)
        local headers = {}
        for k, v in pairs(wrk.headers) do
            headers[k] = v
        end
        if keyed then
            headers["Idempotency-Key"] = id
        end
        local flag = (n % 2 == 0) and "true" or "false"
        local path = nil
        if #paths > 0 then
            path = paths[(n + tid) % #paths + 1]
        end
        return wrk.format(nil, path, headers, (body:gsub("{n}", id):gsub("{b}", flag)))
    end
end

if pause > 0 then
    delay = function()
        return pause
    end
end

done = function(summary, latency, requests)
    local e = summary.errors
    local errors = e.connect + e.read + e.write + e.timeout + e.status
    local seconds = summary.duration / 1000000
    io.write(string.format(
        "BENCH rps=%.1f p50=%.2f p99=%.2f mean=%.2f requests=%d errors=%d\n",
        summary.requests / seconds,
        latency:percentile(50) / 1000,
        latency:percentile(99) / 1000,
        latency.mean / 1000,
        summary.requests,
        errors))
end
