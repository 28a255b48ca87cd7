-- wrk script for bench/run section f: POSTs one 1-doc JSON request per call over keep-alive
-- connections to a Flow's HTTP gateway (`wrk -t2 -c32 -d5s -s bench/post.lua http://HOST:PORT/post`)
-- and, when done, prints one JSON line shaped like shoal_loadgen's (latencies in microseconds;
-- errors: connect/read/write/timeout failures and non-2xx answers).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"execEndpoint": "/default", "data": [{"text": "hello from wrk, document 0"}]}'

done = function(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"label":"wrk","method":"http","requests":%d,"seconds":%.3f,"rps":%.1f,' ..
    '"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"errors":%d,"responses_total":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout, summary.requests))
end
