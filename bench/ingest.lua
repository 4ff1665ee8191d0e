-- bench/ingest.lua: wrk script for bench/ingest.  POSTs a ~400-byte
-- structured CloudEvent (application/cloudevents+json) whose id is unique
-- per request: <tag>-<thread>-<counter>.  `wrk ... -s ingest.lua -- TAG`.
-- done() prints one machine-readable RESULT line.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("tid", #threads)
end

local prefix, n

function init(args)
	prefix = string.format("%s-%d-", args[1] or "run", tid)
	n = 0
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/cloudevents+json"
end

-- A realistic event: an order placed in some shop, padded to ~400 bytes.
local head = '{"specversion":"1.0","type":"com.example.shop.order.placed",' ..
    '"source":"https://shop.example.com/orders","subject":"order/'
local tail = '","time":"2026-11-23T12:00:00Z",' ..
    '"datacontenttype":"application/json",' ..
    '"data":{"order":{"customer":"c-1029","currency":"EUR",' ..
    '"total":"129.90","lines":[{"sku":"BK-1001","qty":1,' ..
    '"price":"99.90"},{"sku":"SH-0042","qty":2,"price":"15.00"}]},' ..
    '"channel":"web"}}'

local function event(id)
	return head .. id .. '","id":"' .. id .. tail
end

function request()
	n = n + 1
	return wrk.format(nil, nil, nil, event(prefix .. n))
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
	    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
	    "non2xx=%d connect=%d read=%d write=%d timeout=%d body=%d\n",
	    summary.requests, summary.duration,
	    latency:percentile(50), latency:percentile(99),
	    e.status, e.connect, e.read, e.write, e.timeout,
	    #event("run-1-100000")))
end
