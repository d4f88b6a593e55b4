// The benchmark's raw load generator: N connections, each a thread that keeps `depth` requests
// in flight with plain read/write, for the floor (against the echo servers) and for Redis (RESP
// commands prebuilt by the caller). It reads whatever has arrived, counts the responses that
// completed, and sends as many new requests in one write, which is the best a client can do.
// Buffers: each worker owns its read buffer, its out buffer and its latency array; the latency
// arrays are concatenated into one malloc'd array handed to the caller in `bench_result`.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "CBenchFloor.h"

/// Bytes taken per read.
#define LOAD_READ_BYTES (64 * 1024)
/// Initial capacity of a worker's latency array (it doubles when full).
#define LOAD_LATENCIES_INITIAL (1 << 16)
/// Most connections one run opens.
#define LOAD_CONNECTIONS_MAX 4096

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct {
    const bench_load *load;
    int index;
    pthread_barrier_t *connected;
    pthread_barrier_t *go;
    const volatile uint64_t *start_ns;
    uint64_t calls;
    uint64_t *latencies;
    uint64_t latency_count;
    uint64_t latency_capacity;
    int error;
} load_worker;

static int connect_to(const char *path) {
    struct sockaddr_un address;
    if (strlen(path) >= sizeof(address.sun_path)) return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    strcpy(address.sun_path, path);
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int send_all(int fd, const uint8_t *bytes, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(fd, bytes + done, n - done, MSG_NOSIGNAL);
        if (w > 0) done += (size_t)w;
        else if (w < 0 && errno == EINTR) continue;
        else return errno ? errno : EPIPE;
    }
    return 0;
}

static void record_latency(load_worker *w, uint64_t ns) {
    if (w->latency_count == w->latency_capacity) {
        uint64_t capacity = w->latency_capacity ? w->latency_capacity * 2 : LOAD_LATENCIES_INITIAL;
        uint64_t *grown = realloc(w->latencies, capacity * sizeof(uint64_t));
        if (!grown) return;
        w->latencies = grown;
        w->latency_capacity = capacity;
    }
    w->latencies[w->latency_count++] = ns;
}

/// Fills `out` with `count` requests, continuing the connection's variant cycle.
static size_t fill_requests(const bench_load *load, uint8_t *out, int count, uint64_t *next_variant) {
    size_t size = (size_t)load->request_bytes;
    for (int i = 0; i < count; i++) {
        uint64_t variant = (*next_variant)++ % (uint64_t)load->variant_count;
        memcpy(out + (size_t)i * size, load->requests + variant * size, size);
    }
    return (size_t)count * size;
}

/// Counts the responses that `bytes` completes; `partial` carries state between reads.
static int count_responses(const bench_load *load, const uint8_t *bytes, ssize_t n, uint64_t *partial, uint8_t *last) {
    if (load->response_kind == BENCH_RESPONSE_FIXED) {
        *partial += (uint64_t)n;
        int done = (int)(*partial / (uint64_t)load->response_bytes);
        *partial %= (uint64_t)load->response_bytes;
        return done;
    }
    int done = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (*last == '\r' && bytes[i] == '\n') {
            *partial += 1;
            if (*partial == (uint64_t)load->response_crlfs) {
                done++;
                *partial = 0;
            }
        }
        *last = bytes[i];
    }
    return done;
}

static int worker_loop(load_worker *w, int fd, uint8_t *in, uint8_t *out) {
    const bench_load *load = w->load;
    uint64_t start = *w->start_ns;
    uint64_t measure_from = start + load->warmup_ns;
    uint64_t end = measure_from + load->duration_ns;
    uint64_t next_variant = (uint64_t)w->index * 7919u;
    uint64_t partial = 0;
    uint8_t last = 0;
    int in_flight = load->depth;
    uint64_t sent_at = bench_now_ns();
    int e = send_all(fd, out, fill_requests(load, out, load->depth, &next_variant));
    if (e) return e;
    while (in_flight > 0) {
        ssize_t n = read(fd, in, LOAD_READ_BYTES);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n == 0 ? EPIPE : errno;
        int done = count_responses(load, in, n, &partial, &last);
        if (done == 0) continue;
        uint64_t now = bench_now_ns();
        in_flight -= done;
        if (now >= measure_from && now < end) {
            w->calls += (uint64_t)done;
            if (load->record_latencies) record_latency(w, now - sent_at);
        }
        if (now < end) {
            sent_at = now;
            e = send_all(fd, out, fill_requests(load, out, done, &next_variant));
            if (e) return e;
            in_flight += done;
        }
    }
    return 0;
}

static void *worker_main(void *arg) {
    load_worker *w = arg;
    int fd = connect_to(w->load->path);
    if (fd < 0) w->error = -fd;
    pthread_barrier_wait(w->connected);
    pthread_barrier_wait(w->go);
    if (fd < 0) return NULL;
    uint8_t *in = malloc(LOAD_READ_BYTES);
    uint8_t *out = malloc((size_t)w->load->depth * (size_t)w->load->request_bytes);
    if (!in || !out) w->error = ENOMEM;
    else w->error = worker_loop(w, fd, in, out);
    free(in);
    free(out);
    close(fd);
    return NULL;
}

static int check_load(const bench_load *load) {
    if (load->connections < 1 || load->connections > LOAD_CONNECTIONS_MAX) return EINVAL;
    if (load->depth < 1 || load->request_bytes < 1 || load->variant_count < 1) return EINVAL;
    if (load->response_kind == BENCH_RESPONSE_FIXED && load->response_bytes < 1) return EINVAL;
    if (load->response_kind == BENCH_RESPONSE_CRLF && load->response_crlfs < 1) return EINVAL;
    return 0;
}

/// Joins the workers' counts and latency arrays into `result`.
static void gather(load_worker *workers, int count, bench_result *result) {
    uint64_t total = 0;
    for (int i = 0; i < count; i++) total += workers[i].latency_count;
    result->latencies_ns = total ? malloc(total * sizeof(uint64_t)) : NULL;
    for (int i = 0; i < count; i++) {
        result->calls += workers[i].calls;
        if (!result->error && workers[i].error) result->error = workers[i].error;
        if (result->latencies_ns && workers[i].latency_count) {
            memcpy(result->latencies_ns + result->latency_count, workers[i].latencies,
                   workers[i].latency_count * sizeof(uint64_t));
            result->latency_count += workers[i].latency_count;
        }
        free(workers[i].latencies);
    }
}

int bench_run_load(const bench_load *load, bench_result *result) {
    memset(result, 0, sizeof(*result));
    int e = check_load(load);
    if (e) return result->error = e;
    int count = load->connections;
    load_worker *workers = calloc((size_t)count, sizeof(load_worker));
    pthread_t *threads = calloc((size_t)count, sizeof(pthread_t));
    if (!workers || !threads) {
        free(workers);
        free(threads);
        return result->error = ENOMEM;
    }
    pthread_barrier_t connected, go;
    pthread_barrier_init(&connected, NULL, (unsigned)count + 1);
    pthread_barrier_init(&go, NULL, (unsigned)count + 1);
    volatile uint64_t start_ns = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < count; i++) {
        workers[i] = (load_worker){.load = load, .index = i, .connected = &connected, .go = &go, .start_ns = &start_ns};
        if (pthread_create(&threads[i], &attr, worker_main, &workers[i]) != 0) abort();
    }
    pthread_attr_destroy(&attr);
    pthread_barrier_wait(&connected);
    start_ns = bench_now_ns();
    pthread_barrier_wait(&go);
    for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&connected);
    pthread_barrier_destroy(&go);
    result->elapsed_ns = load->duration_ns;
    gather(workers, count, result);
    free(workers);
    free(threads);
    return result->error;
}

void bench_result_free(bench_result *result) {
    free(result->latencies_ns);
    result->latencies_ns = NULL;
    result->latency_count = 0;
}
