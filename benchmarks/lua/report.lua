-- Appended to every scenario: one JSON line with what the harness needs.
done = function(summary, latency, requests)
  local non_2xx = summary.errors.status
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, non_2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
