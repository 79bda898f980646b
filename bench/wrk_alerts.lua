-- wrk script for bench/alerts_ingest.py: alert posts with bodies made per request.
--
-- Environment:
--   ALERTS_MODE   alertmanager (a webhook post of ALERTS_BATCH alerts, one group per post)
--                 | pagerduty (one Events v2 trigger) | alerta (one Alerta /alert body)
--   ALERTS_KEY    the routing key (pagerduty mode)
--   ALERTS_POOL   how many distinct alerts exist (their keys repeat: dedup on)
--   ALERTS_BATCH  alerts per Alertmanager post (default 50)
--   ALERTS_GROUPS how many alert groups (alertnames) the pool falls into (default 100)
-- Counts 2xx responses apart from the others and prints "BENCH_RESULT {json}" (microseconds).

local mode = os.getenv("ALERTS_MODE") or error("ALERTS_MODE is not set")
local key = os.getenv("ALERTS_KEY") or ""
local pool = tonumber(os.getenv("ALERTS_POOL") or "10000")
local batch = tonumber(os.getenv("ALERTS_BATCH") or "50")
local groups = tonumber(os.getenv("ALERTS_GROUPS") or "100")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local function am_alert(k, g)
   return string.format(
      '{"status":"firing","labels":{"alertname":"HighLoad%d","severity":"warning",'
         .. '"instance":"node%d:9100","job":"node"},"annotations":{"summary":"Load high on node%d"},'
         .. '"startsAt":"2026-12-04T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
         .. '"generatorURL":"http://prometheus:9090/graph","fingerprint":"%016x"}',
      g, k, k, k)
end

local function alertmanager_body()
   local bases = math.floor(pool / batch)
   local base = math.random(0, bases - 1)
   local g = base % groups
   local parts = {}
   for j = 0, batch - 1 do
      parts[#parts + 1] = am_alert(base * batch + j, g)
   end
   return string.format(
      '{"version":"4","groupKey":"{}:{alertname=\\"HighLoad%d\\"}","truncatedAlerts":0,'
         .. '"status":"firing","receiver":"bench","groupLabels":{"alertname":"HighLoad%d"},'
         .. '"commonLabels":{"alertname":"HighLoad%d"},"commonAnnotations":{},'
         .. '"externalURL":"http://alertmanager:9093","alerts":[%s]}',
      g, g, g, table.concat(parts, ","))
end

local function pagerduty_body()
   local k = math.random(0, pool - 1)
   return string.format(
      '{"routing_key":"%s","event_action":"trigger","dedup_key":"pd-%d",'
         .. '"payload":{"summary":"Disk almost full on host%d","source":"host%d",'
         .. '"severity":"warning","component":"disk","group":"group%d"}}',
      key, k, k, k, k % groups)
end

local function alerta_body()
   local k = math.random(0, pool - 1)
   return string.format(
      '{"resource":"host%d","event":"DiskFull","environment":"Production","severity":"warning",'
         .. '"service":["disk"],"group":"group%d","text":"Disk almost full on host%d",'
         .. '"origin":"bench"}',
      k, k % groups, k)
end

local make = ({alertmanager = alertmanager_body, pagerduty = pagerduty_body,
               alerta = alerta_body})[mode] or error("unknown ALERTS_MODE " .. mode)

local threads = {}
ok = 0
other = 0
first_other = ""

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
end

function request()
   return wrk.format(nil, nil, nil, make())
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      other = other + 1
      if first_other == "" then
         first_other = tostring(status) .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

local function json_string(s)
   return '"' .. string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local total_ok, total_other, sample = 0, 0, ""
   for _, thread in ipairs(threads) do
      total_ok = total_ok + thread:get("ok")
      total_other = total_other + thread:get("other")
      if sample == "" then
         sample = thread:get("first_other")
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"ok":%d,"other":%d,"duration_us":%d,"socket_errors":%d,'
         .. '"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"first_other":%s}\n',
      summary.requests, total_ok, total_other, summary.duration,
      e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99), latency.mean, json_string(sample)))
end
