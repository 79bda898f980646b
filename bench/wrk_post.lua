-- wrk script for bench/create_incidents.py: one POST /api/v1/incidents per request.
--
-- Reads the API token and the JSON body from the environment:
--   OPSDESK_BENCH_TOKEN  an API token (opsdesk tokens create tech@example.com)
--   OPSDESK_BENCH_BODY   the JSON body of an incident
-- Counts 201 responses apart from every other status, and prints one machine-readable
-- line "BENCH_RESULT {json}" at the end (latencies in microseconds).
--
-- Manual use:
--   OPSDESK_BENCH_TOKEN=... OPSDESK_BENCH_BODY='{"title":"x"}' \
--     wrk -t2 -c16 -d15s --latency -s bench/wrk_post.lua http://127.0.0.1:8000/api/v1/incidents

local token = os.getenv("OPSDESK_BENCH_TOKEN") or error("OPSDESK_BENCH_TOKEN is not set")
local body = os.getenv("OPSDESK_BENCH_BODY") or error("OPSDESK_BENCH_BODY is not set")

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

-- Per-thread counters (every wrk thread runs this file in its own Lua state).
created = 0
other = 0
first_other = ""

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function response(status, headers, response_body)
   if status == 201 then
      created = created + 1
   else
      other = other + 1
      if first_other == "" then
         first_other = tostring(status) .. " " .. string.sub(response_body or "", 1, 200)
      end
   end
end

local function json_string(s)
   return '"' .. string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local total_created, total_other, sample = 0, 0, ""
   for _, thread in ipairs(threads) do
      total_created = total_created + thread:get("created")
      total_other = total_other + thread:get("other")
      if sample == "" then
         sample = thread:get("first_other")
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"created":%d,"other":%d,"duration_us":%d,'
         .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,'
         .. '"timeouts":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
         .. '"first_other":%s}\n',
      summary.requests, total_created, total_other, summary.duration,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, json_string(sample)
   ))
end
