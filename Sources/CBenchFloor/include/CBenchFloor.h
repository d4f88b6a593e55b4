// The benchmark's raw-socket side, in plain C so that nothing but read/write stands between the
// two ends: the echo servers that set the floor (DESIGN.md §9: thread per connection and epoll),
// and the load generator that drives them and Redis with the same byte sizes and concurrency as
// the TokenGate client. Every buffer is owned by the function that allocates it; results hand
// latency arrays to the caller, who frees them with bench_result_free.
#ifndef CBENCHFLOOR_H
#define CBENCHFLOOR_H

#include <stddef.h>
#include <stdint.h>

/// Serves the fixed-size echo on `path` until killed: every complete request of
/// `request_bytes` is answered with `response_bytes`; one read, one write for what arrived.
/// `use_epoll` 0 = one thread per connection, 1 = one epoll loop per core. Returns an errno on
/// failure to start.
int bench_echo_serve(const char *path, int use_epoll, int request_bytes, int response_bytes);

/// How the end of one response is recognised.
enum bench_response_kind {
    /// Exactly `response_bytes` bytes.
    BENCH_RESPONSE_FIXED = 0,
    /// Redis replies: a response is complete after `response_crlfs` CRLF sequences.
    BENCH_RESPONSE_CRLF = 1,
};

/// One load run: `connections` connections, each keeping `depth` requests in flight (1 =
/// sequential round trips). Requests are `variant_count` prebuilt variants of
/// `request_bytes` bytes each, laid out one after another in `requests`, cycled per connection.
typedef struct {
    const char *path;
    int connections;
    int depth;
    const uint8_t *requests;
    int request_bytes;
    int variant_count;
    int response_kind;
    int response_bytes;
    int response_crlfs;
    uint64_t warmup_ns;
    uint64_t duration_ns;
    /// Record each round trip's latency (only meaningful with depth 1).
    int record_latencies;
} bench_load;

typedef struct {
    /// Round trips completed inside the measured window.
    uint64_t calls;
    /// Length of the measured window.
    uint64_t elapsed_ns;
    /// Latencies in ns, `latency_count` of them, malloc'd; NULL when not recorded.
    uint64_t *latencies_ns;
    uint64_t latency_count;
    /// 0, or the errno of the first failure.
    int error;
} bench_result;

/// Runs the load and fills `result`. Returns 0 or an errno.
int bench_run_load(const bench_load *load, bench_result *result);

/// Frees the latency array of a result.
void bench_result_free(bench_result *result);

/// CLOCK_MONOTONIC in nanoseconds.
uint64_t bench_now_ns(void);

#endif
