//! Resilience policies for any async call: timeout, retry with backoff and budget, circuit breaker, bulkhead, rate limit, fallback.
