/* Admin HTTP server (healthz, readyz, metrics): plain sockets, one thread,
 * one bounded request per connection. */
#include "sh_admin.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sh_time.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define POLL_MS 200             /* longest sleep before the stop flag is looked at */
#define LINGER_MS 500           /* how long a closing connection's input is drained */
#define LINGER_MAX_BYTES 65536

struct sh_admin {
    int lfd;
    int wake[2];                /* a byte on wake[1] stops the thread at once */
    int port;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    struct sh_metrics *metrics;
    sh_admin_ready_fn ready;
    void *ready_ctx;
};

/* Wait until 'fd' is ready for 'events' or 'deadline' (monotonic ms) passes,
 * in slices of at most POLL_MS so that a stop is noticed. Returns 0 when
 * ready, SH_ETIMEDOUT, or SH_EIO (stopping, or a poll error). */
static int wait_fd(struct sh_admin *a, int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int64_t left = deadline - sh_mono_ms();
        int n;

        if (atomic_load(&a->stop))
            return SH_EIO;
        if (left <= 0)
            return SH_ETIMEDOUT;
        n = poll(&p, 1, (int)(left < POLL_MS ? left : POLL_MS));
        if (n > 0)
            return SH_OK;
        if (n < 0 && errno != EINTR)
            return SH_EIO;
    }
}

static int send_all(struct sh_admin *a, int fd, const char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        int rc;

        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return SH_EIO;
        if ((rc = wait_fd(a, fd, POLLOUT, deadline)))
            return rc;
    }
    return SH_OK;
}

/* Send one complete response; 'body' is omitted for HEAD but still counted
 * in Content-Length. */
static void respond(struct sh_admin *a, int fd, int64_t deadline, bool head, int status,
                    const char *reason, const char *ctype, const char *extra,
                    const char *body, size_t blen)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                     status, reason, ctype, blen, extra ? extra : "");

    if (n < 0 || (size_t)n >= sizeof(hdr))
        return;
    if (send_all(a, fd, hdr, (size_t)n, deadline) == SH_OK && !head && blen)
        send_all(a, fd, body, blen, deadline);
}

static void respond_text(struct sh_admin *a, int fd, int64_t deadline, bool head, int status,
                         const char *reason, const char *extra, const char *text)
{
    respond(a, fd, deadline, head, status, reason, "text/plain; charset=utf-8", extra, text,
            strlen(text));
}

static void serve_readyz(struct sh_admin *a, int fd, int64_t deadline, bool head)
{
    char why[256] = "", body[300];

    if (!a->ready || a->ready(a->ready_ctx, why, sizeof(why)) == 0) {
        respond_text(a, fd, deadline, head, 200, "OK", NULL, "ready\n");
        return;
    }
    why[sizeof(why) - 1] = '\0';
    /* One line only: a reason must not be able to add headers or lines. */
    for (char *p = why; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    snprintf(body, sizeof(body), "not ready: %s\n", why[0] ? why : "unspecified");
    respond_text(a, fd, deadline, head, 503, "Service Unavailable", NULL, body);
}

static void serve_metrics(struct sh_admin *a, int fd, int64_t deadline, bool head)
{
    char *text = NULL;
    size_t len = 0;

    if (!a->metrics) {
        respond_text(a, fd, deadline, head, 404, "Not Found", NULL, "no metrics\n");
        return;
    }
    if (sh_metrics_render(a->metrics, &text, &len) != SH_OK) {
        respond_text(a, fd, deadline, head, 500, "Internal Server Error", NULL,
                     "metrics unavailable\n");
        return;
    }
    respond(a, fd, deadline, head, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", NULL,
            text, len);
    free(text);
}

/* Route a complete request head ('req', NUL-terminated). */
static void dispatch(struct sh_admin *a, int fd, int64_t deadline, char *req)
{
    char *method = req, *target, *version, *eol, *q;
    bool head;

    eol = strpbrk(req, "\r\n");
    if (eol)
        *eol = '\0';
    target = strchr(method, ' ');
    version = target ? strchr(target + 1, ' ') : NULL;
    if (!target || !version || strncmp(version + 1, "HTTP/1.", 7) != 0) {
        respond_text(a, fd, deadline, false, 400, "Bad Request", NULL, "bad request\n");
        return;
    }
    *target++ = '\0';
    *version = '\0';
    if ((q = strchr(target, '?')))
        *q = '\0';                      /* the query does not change any answer */
    head = !strcmp(method, "HEAD");
    if (!head && strcmp(method, "GET") != 0) {
        respond_text(a, fd, deadline, false, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n",
                     "method not allowed\n");
    } else if (!strcmp(target, "/healthz")) {
        respond_text(a, fd, deadline, head, 200, "OK", NULL, "ok\n");
    } else if (!strcmp(target, "/readyz")) {
        serve_readyz(a, fd, deadline, head);
    } else if (!strcmp(target, "/metrics")) {
        serve_metrics(a, fd, deadline, head);
    } else {
        respond_text(a, fd, deadline, head, 404, "Not Found", NULL, "not found\n");
    }
}

/* After the answer: stop sending, then read what the client still sends
 * (briefly) so that closing does not reset the connection and discard the
 * answer before the client has read it. */
static void linger_close(struct sh_admin *a, int fd)
{
    int64_t deadline = sh_mono_ms() + LINGER_MS;
    size_t total = 0;
    char buf[2048];

    shutdown(fd, SHUT_WR);
    while (total < LINGER_MAX_BYTES && wait_fd(a, fd, POLLIN, deadline) == SH_OK) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            break;
        if (n > 0)
            total += (size_t)n;
    }
    close(fd);
}

/* Read one request head from 'fd' and answer it; closes 'fd'. */
static void serve_conn(struct sh_admin *a, int fd)
{
    int64_t deadline = sh_mono_ms() + SH_ADMIN_IO_MS;
    char req[SH_ADMIN_MAX_REQUEST + 1];
    size_t n = 0;

    for (;;) {
        ssize_t r;

        req[n] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) {
            dispatch(a, fd, deadline, req);
            break;
        }
        if (n == SH_ADMIN_MAX_REQUEST) {
            respond_text(a, fd, deadline, false, 431, "Request Header Fields Too Large", NULL,
                         "request too large\n");
            break;
        }
        r = recv(fd, req + n, SH_ADMIN_MAX_REQUEST - n, 0);
        if (r > 0) {
            /* A NUL byte would hide the rest of the head from strstr: refuse it. */
            if (memchr(req + n, '\0', (size_t)r)) {
                respond_text(a, fd, deadline, false, 400, "Bad Request", NULL, "bad request\n");
                break;
            }
            n += (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
            wait_fd(a, fd, POLLIN, deadline) != SH_OK) {
            close(fd);                  /* gone, broken or too slow: no answer */
            return;
        }
    }
    linger_close(a, fd);
}

static void *admin_main(void *arg)
{
    struct sh_admin *a = arg;

    while (!atomic_load(&a->stop)) {
        struct pollfd p[2] = {{.fd = a->lfd, .events = POLLIN},
                              {.fd = a->wake[0], .events = POLLIN}};
        int n = poll(p, 2, POLL_MS), fd;

        if (n <= 0 || (p[1].revents & POLLIN))
            continue;                   /* timeout, EINTR, or woken to stop */
        if (!(p[0].revents & POLLIN))
            continue;
        fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            serve_conn(a, fd);
    }
    return NULL;
}

/* Bind and listen on the first address of host:port that works. */
static int listen_on(struct sh_admin *a, const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char service[16];
    int gai, saved = 0, one = 1;

    snprintf(service, sizeof(service), "%d", port);
    if ((gai = getaddrinfo(host, service, &hints, &res)) != 0) {
        snprintf(err, errlen, "admin: cannot resolve \"%s\": %s", host, gai_strerror(gai));
        return SH_EINVAL;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
            a->lfd = fd;
            break;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (a->lfd < 0) {
        snprintf(err, errlen, "admin: cannot listen on %s:%d: %s", host, port, strerror(saved));
        return SH_EIO;
    }
    if (getsockname(a->lfd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, errlen, "admin: getsockname: %s", strerror(errno));
        return SH_EIO;
    }
    a->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return SH_OK;
}

struct sh_admin *sh_admin_create(const char *host, int port, struct sh_metrics *metrics,
                                 sh_admin_ready_fn ready, void *ready_ctx, char *err,
                                 size_t errlen)
{
    struct sh_admin *a;
    sigset_t all, old;
    char dummy[1];

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "admin: port %d is outside [0, 65535]", port);
        return NULL;
    }
    if (!(a = calloc(1, sizeof(*a)))) {
        snprintf(err, errlen, "admin: out of memory");
        return NULL;
    }
    a->lfd = a->wake[0] = a->wake[1] = -1;
    a->metrics = metrics;
    a->ready = ready;
    a->ready_ctx = ready_ctx;
    atomic_init(&a->stop, false);
    if (pipe2(a->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "admin: pipe: %s", strerror(errno));
        goto fail;
    }
    if (listen_on(a, host ? host : "0.0.0.0", port, err, errlen) != SH_OK)
        goto fail;
    /* Signals belong to the service's main thread: the admin thread blocks them all. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&a->thread, NULL, admin_main, a) == 0)
        a->thread_started = true;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!a->thread_started) {
        snprintf(err, errlen, "admin: cannot start the server thread");
        goto fail;
    }
    return a;
fail:
    sh_admin_destroy(a);
    return NULL;
}

int sh_admin_port(const struct sh_admin *a)
{
    return a ? a->port : -1;
}

void sh_admin_destroy(struct sh_admin *a)
{
    if (!a)
        return;
    atomic_store(&a->stop, true);
    if (a->wake[1] >= 0 && write(a->wake[1], "x", 1) < 0) {
        /* Full or broken pipe: the thread still sees 'stop' within POLL_MS. */
    }
    if (a->thread_started)
        pthread_join(a->thread, NULL);
    if (a->lfd >= 0)
        close(a->lfd);
    if (a->wake[0] >= 0)
        close(a->wake[0]);
    if (a->wake[1] >= 0)
        close(a->wake[1]);
    free(a);
}

int sh_admin_start(const char *host, int port, struct sh_metrics *metrics,
                   sh_admin_ready_fn ready, void *ready_ctx, struct sh_admin **out)
{
    char err[512];

    *out = NULL;
    if (port < 0)
        return SH_OK;
    *out = sh_admin_create(host, port, metrics, ready, ready_ctx, err, sizeof(err));
    if (!*out) {
        sh_log(SH_LOG_ERROR, "admin server", "err=\"%s\"", err);
        return SH_EIO;
    }
    sh_log(SH_LOG_INFO, "admin listening", "host=%s port=%d", host ? host : "0.0.0.0",
           sh_admin_port(*out));
    return SH_OK;
}
