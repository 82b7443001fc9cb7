-- wrk script: print one JSON line with the totals when the run ends.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'{"requests": %d, "bytes": %d, "duration_us": %d, "errors": %d, ' ..
		'"lat_p50_us": %d, "lat_p99_us": %d}\n',
		summary.requests, summary.bytes, summary.duration,
		e.connect + e.read + e.write + e.status + e.timeout,
		latency:percentile(50), latency:percentile(99)))
end
