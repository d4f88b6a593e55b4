// The floor's server (DESIGN.md §9): the fastest fixed-size echo that plain read/write can do
// over a Unix socket, in two shapes, because on 2 cores which one wins depends on the load:
// one blocking thread per connection, and one level-triggered epoll loop per core. Each read
// takes whatever has arrived; each write sends every answer that read made due.
// Buffers: each connection owns its input and output buffer for its lifetime; the shared
// response template is read-only after start.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <poll.h>

#include "CBenchFloor.h"

/// Bytes taken per read: enough for hundreds of pipelined requests.
#define ECHO_READ_BYTES (64 * 1024)
/// Events handled per epoll_wait.
#define ECHO_EPOLL_EVENTS_MAX 64
/// Upper bound on epoll worker threads.
#define ECHO_EPOLL_WORKERS_MAX 16

static int g_request_bytes;
static int g_response_bytes;

typedef struct {
    int fd;
    int pending;   /* bytes of a partial request carried to the next read */
    uint8_t *in;
    uint8_t *out;
} echo_conn;

static echo_conn *conn_new(int fd) {
    echo_conn *c = calloc(1, sizeof(echo_conn));
    if (!c) return NULL;
    c->fd = fd;
    c->in = malloc(ECHO_READ_BYTES);
    /* One read of ECHO_READ_BYTES completes at most this many requests (plus one carried). */
    size_t max_answers = (size_t)(ECHO_READ_BYTES / g_request_bytes + 2);
    c->out = calloc(max_answers, (size_t)g_response_bytes);
    if (!c->in || !c->out) {
        free(c->in);
        free(c->out);
        free(c);
        return NULL;
    }
    return c;
}

static void conn_free(echo_conn *c) {
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/// Writes all `n` bytes; waits for room on a non-blocking socket. Returns 0 or -1.
static int write_all(int fd, const uint8_t *bytes, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(fd, bytes + done, n - done, MSG_NOSIGNAL);
        if (w > 0) {
            done += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 1000);
        } else {
            return -1;
        }
    }
    return 0;
}

/// One read and the write of every answer it completed. Returns 0 to go on, -1 to close.
static int serve_once(echo_conn *c) {
    ssize_t n = read(c->fd, c->in, ECHO_READ_BYTES);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n <= 0) return -1;
    int total = c->pending + (int)n;
    int answers = total / g_request_bytes;
    c->pending = total % g_request_bytes;
    if (answers == 0) return 0;
    return write_all(c->fd, c->out, (size_t)answers * (size_t)g_response_bytes);
}

static void *thread_conn_main(void *arg) {
    echo_conn *c = arg;
    while (serve_once(c) == 0) {}
    conn_free(c);
    return NULL;
}

typedef struct {
    int epfd;
} epoll_worker;

static void *epoll_worker_main(void *arg) {
    epoll_worker *w = arg;
    struct epoll_event events[ECHO_EPOLL_EVENTS_MAX];
    for (;;) {
        int n = epoll_wait(w->epfd, events, ECHO_EPOLL_EVENTS_MAX, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return NULL;
        for (int i = 0; i < n; i++) {
            echo_conn *c = events[i].data.ptr;
            if (serve_once(c) != 0) {
                epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
                conn_free(c);
            }
        }
    }
}

static int listen_on(const char *path) {
    struct sockaddr_un address;
    if (strlen(path) >= sizeof(address.sun_path)) return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    strcpy(address.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int start_thread(void *(*body)(void *), void *arg) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t thread;
    int e = pthread_create(&thread, &attr, body, arg);
    pthread_attr_destroy(&attr);
    return e;
}

int bench_echo_serve(const char *path, int use_epoll, int request_bytes, int response_bytes) {
    if (request_bytes <= 0 || response_bytes <= 0) return EINVAL;
    g_request_bytes = request_bytes;
    g_response_bytes = response_bytes;
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on(path);
    if (listener < 0) return -listener;
    epoll_worker workers[ECHO_EPOLL_WORKERS_MAX];
    int worker_count = 0;
    if (use_epoll) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        worker_count = cores < 1 ? 1 : (cores > ECHO_EPOLL_WORKERS_MAX ? ECHO_EPOLL_WORKERS_MAX : (int)cores);
        for (int i = 0; i < worker_count; i++) {
            workers[i].epfd = epoll_create1(EPOLL_CLOEXEC);
            if (workers[i].epfd < 0) return errno;
            int e = start_thread(epoll_worker_main, &workers[i]);
            if (e != 0) return e;
        }
    }
    for (unsigned next = 0;; next++) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return errno;
        }
        echo_conn *c = conn_new(fd);
        if (!c) {
            close(fd);
            continue;
        }
        if (use_epoll) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
            if (epoll_ctl(workers[next % (unsigned)worker_count].epfd, EPOLL_CTL_ADD, fd, &event) != 0) conn_free(c);
        } else if (start_thread(thread_conn_main, c) != 0) {
            conn_free(c);
        }
    }
}
