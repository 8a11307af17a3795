/* The mock's event loop: one thread, epoll, nonblocking sockets, a timer heap for pacing. */
#include "conn.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sh_time.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 512
#define READ_CHUNK ((size_t)16 * 1024)
/* A full request (16 KiB head, 1 MiB body) plus the start of a pipelined one. */
#define IN_LIMIT (MOCK_HTTP_MAX_HEAD + MOCK_HTTP_MAX_BODY + READ_CHUNK)
#define POLL_MAX_MS 200
#define ACCEPT_PAUSE_US 100000

static const char busy_reply[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 98\r\n"
    "Connection: close\r\n\r\n"
    "{\"error\":{\"message\":\"Too many connections (mock)\",\"type\":\"server_error\","
    "\"param\":null,\"code\":null}}";

static int listen_on(struct mock_server *s, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char port[8];
    int one = 1, rc, fd = -1;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof(port), "%d", (int)s->cfg->port);
    if ((rc = getaddrinfo(s->cfg->host, port, &hints, &res))) {
        snprintf(err, errlen, "MOCK_LLM_HOST=%s: %s", s->cfg->host, gai_strerror(rc));
        return SH_EINVAL;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, SOMAXCONN))
            break;
        snprintf(err, errlen, "cannot listen on %s:%s: %s", s->cfg->host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return SH_EIO;
    s->lfd = fd;
    {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return SH_OK;
}

static int set_accepting(struct mock_server *s, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

    if (s->lfd < 0 || s->accepting == on)
        return SH_OK;
    if (epoll_ctl(s->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->lfd, &ev))
        return SH_EIO;
    s->accepting = on;
    return SH_OK;
}

struct mock_server *mock_server_create(const struct mock_config *cfg, char *err, size_t errlen)
{
    struct mock_server *s = calloc(1, sizeof(*s));

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->lfd = -1;
    s->epfd = -1;
    mock_theap_init(&s->timers);
    mock_buf_init(&s->scratch);
    /* The spec was checked by mock_config_load(); this cannot fail for a loaded config. */
    if (mock_faults_init(&s->faults, cfg->faults, (uint64_t)cfg->seed, err, errlen))
        goto fail;
    if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    if (listen_on(s, err, errlen))
        goto fail;
    if (set_accepting(s, true)) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    s->now_us = sh_mono_us();
    return s;
fail:
    mock_server_destroy(s);
    return NULL;
}

int mock_server_port(const struct mock_server *s)
{
    return s->port;
}

/* Register what 'c' needs now: input unless closing or full, output while any is pending.
 * EPOLLRDHUP stays on so a client leaving mid-answer is noticed even when not reading. */
static void update_interest(struct mock_conn *c)
{
    uint32_t want = 0;
    struct epoll_event ev;

    if (c->dead)
        return;
    /* After EOF, EPOLLRDHUP would stay ready and spin the loop while output drains. */
    if (!c->peer_eof)
        want |= EPOLLRDHUP;
    if (!c->close_after && !c->peer_eof && mock_buf_size(&c->in) < IN_LIMIT)
        want |= EPOLLIN;
    if (mock_buf_size(&c->out))
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    ev.events = want;
    ev.data.ptr = c;
    if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev))
        mock_conn_close(c);
    else
        c->events = want;
}

int mock_conn_arm(struct mock_conn *c, int64_t due_us)
{
    return mock_theap_arm(&c->srv->timers, &c->timer, due_us);
}

static void arm_idle(struct mock_conn *c)
{
    const struct mock_config *cfg = c->srv->cfg;

    if (cfg->idle_ms > 0)
        mock_conn_arm(c, c->srv->now_us + cfg->idle_ms * 1000);
    else
        mock_theap_disarm(&c->srv->timers, &c->timer);
}

void mock_conn_close(struct mock_conn *c)
{
    struct mock_server *s = c->srv;

    if (c->dead)
        return;
    c->dead = true;
    if (c->resp) {
        mock_resp_destroy(c->resp);
        c->resp = NULL;
        s->n_active--;
    }
    mock_theap_disarm(&s->timers, &c->timer);
    close(c->fd);              /* also removes it from the epoll set */
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = s->dead;
    s->dead = c;
    s->n_conns--;
}

/* Close after a complete answer. Unread input would make the kernel reset the connection
 * and could destroy the answer before the client reads it, so read it away first. */
static void close_gently(struct mock_conn *c)
{
    char sink[4096];

    /* Bounded: a client that keeps sending gets its reset anyway. */
    for (int i = 0; i < 16 && read(c->fd, sink, sizeof(sink)) > 0; i++)
        ;
    mock_conn_close(c);
}

int mock_conn_flush(struct mock_conn *c)
{
    while (!c->dead && mock_buf_size(&c->out)) {
        ssize_t n = send(c->fd, mock_buf_ptr(&c->out), mock_buf_size(&c->out), MSG_NOSIGNAL);
        if (n >= 0) {
            mock_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        if (c->resp)
            c->srv->stats.disconnects++;
        mock_conn_close(c);    /* EPIPE, ECONNRESET: the client is gone */
        return SH_EIO;
    }
    if (c->dead)
        return SH_EIO;
    if (!mock_buf_size(&c->out) && c->close_after) {
        close_gently(c);
        return SH_EIO;
    }
    update_interest(c);
    return c->dead ? SH_EIO : SH_OK;
}

/* Parse and answer requests from 'in' until one needs time (c->resp) or more bytes. */
static void conn_process(struct mock_conn *c)
{
    struct mock_http_req req;

    while (!c->dead && !c->resp && !c->close_after) {
        int rc = mock_http_parse(mock_buf_ptr(&c->in), mock_buf_size(&c->in), &req);

        if (rc == MOCK_HTTP_MORE) {
            if (req.head_len && req.expect_continue && !c->continue_sent) {
                mock_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                c->continue_sent = true;
            }
            break;
        }
        c->keep_alive = rc == MOCK_HTTP_DONE && req.keep_alive && !c->srv->draining;
        c->continue_sent = false;
        if (rc < 0) {
            c->srv->stats.requests++;
            mock_respond_error(c, req.status, req.error, "invalid_request_error", NULL,
                               "bad_http_request", NULL);
            break;
        }
        mock_handle(c, &req);
        mock_buf_consume(&c->in, req.total_len);
    }
    if (!c->dead && !c->resp && c->peer_eof)
        c->close_after = true; /* the client sent everything it will send */
    mock_conn_flush(c);
}

void mock_conn_resp_done(struct mock_conn *c)
{
    struct mock_server *s = c->srv;

    mock_resp_destroy(c->resp);
    c->resp = NULL;
    s->n_active--;
    s->stats.completed++;
    if (!c->keep_alive)
        c->close_after = true;
    arm_idle(c);
    conn_process(c);
}

static void on_readable(struct mock_conn *c)
{
    ssize_t n;

    if (mock_buf_reserve(&c->in, READ_CHUNK)) {
        mock_conn_close(c);
        return;
    }
    n = recv(c->fd, c->in.data + c->in.len, READ_CHUNK, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        /* A client that leaves mid-answer frees its stream at once. Half-closing clients
         * with an answer pending are treated the same way: HTTP clients rarely do it. */
        if (n < 0 || c->resp) {
            if (c->resp)
                c->srv->stats.disconnects++;
            mock_conn_close(c);
            return;
        }
        c->peer_eof = true;
    } else {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = '\0';
    }
    if (!c->resp)
        arm_idle(c);
    conn_process(c);
}

static void accept_ready(struct mock_server *s)
{
    for (int i = 0; i < 256 && s->lfd >= 0; i++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        struct epoll_event ev;
        struct mock_conn *c;

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the pending connection would wake us again at once. */
                sh_log(SH_LOG_WARN, "accept paused", "error=\"%s\" conns=%zu", strerror(errno),
                       s->n_conns);
                set_accepting(s, false);
                s->accept_resume_us = s->now_us + ACCEPT_PAUSE_US;
            }
            return;
        }
        if (s->n_conns >= (size_t)s->cfg->max_conns || s->draining) {
            s->stats.refused++;
            if (send(fd, busy_reply, sizeof(busy_reply) - 1, MSG_NOSIGNAL) < 0)
                (void)0;       /* best effort: the client may already be gone */
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!(c = calloc(1, sizeof(*c)))) {
            close(fd);
            continue;
        }
        c->srv = s;
        c->fd = fd;
        c->keep_alive = true;
        mock_timer_init(&c->timer);
        c->events = EPOLLIN | EPOLLRDHUP;
        ev.events = c->events;
        ev.data.ptr = c;
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        arm_idle(c);
    }
}

static void on_event(struct mock_server *s, struct epoll_event *ev)
{
    struct mock_conn *c = ev->data.ptr;

    if (!c) {
        accept_ready(s);
        return;
    }
    if (c->dead)
        return;
    if (ev->events & EPOLLERR) {
        if (c->resp)
            s->stats.disconnects++;
        mock_conn_close(c);
        return;
    }
    if ((ev->events & (EPOLLRDHUP | EPOLLHUP)) && c->resp) {
        s->stats.disconnects++;
        mock_conn_close(c);
        return;
    }
    if (ev->events & EPOLLOUT)
        mock_conn_flush(c);
    if (!c->dead && !c->peer_eof && (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
        on_readable(c);
}

/* Fire every timer due by now (plus the batching slack). Each timer fires at most once per
 * turn, so a stream that re-arms in the past cannot starve the loop. */
static void run_timers(struct mock_server *s)
{
    size_t budget = s->timers.n;
    struct mock_timer *t;

    while (budget-- && (t = mock_theap_peek(&s->timers)) &&
           t->due_us <= s->now_us + MOCK_TIMER_SLACK_US) {
        struct mock_conn *c = mock_container_of(t, struct mock_conn, timer);

        mock_theap_disarm(&s->timers, t);
        if (c->resp)
            mock_resp_fire(c);
        else
            mock_conn_close(c); /* idle keep-alive connection */
    }
}

static void reap(struct mock_server *s)
{
    while (s->dead) {
        struct mock_conn *c = s->dead;
        s->dead = c->next;
        mock_buf_free(&c->in);
        mock_buf_free(&c->out);
        free(c);
    }
}

static int poll_timeout(const struct mock_server *s)
{
    const struct mock_timer *t = mock_theap_peek(&s->timers);
    int64_t wait = (int64_t)POLL_MAX_MS * 1000;

    if (t && t->due_us - MOCK_TIMER_SLACK_US - s->now_us < wait)
        wait = t->due_us - MOCK_TIMER_SLACK_US - s->now_us;
    if (!s->accepting && s->lfd >= 0 && s->accept_resume_us - s->now_us < wait)
        wait = s->accept_resume_us - s->now_us;
    return wait <= 0 ? 0 : (int)((wait + 999) / 1000);
}

/* Stop accepting, close idle connections and mark busy ones to close after their answer. */
static void begin_drain(struct mock_server *s)
{
    struct mock_conn *c, *next;

    s->draining = true;
    set_accepting(s, false);
    close(s->lfd);
    s->lfd = -1;
    for (c = s->conns; c; c = next) {
        next = c->next;
        c->keep_alive = false;
        if (c->resp)
            continue;          /* closes after its answer (keep_alive is off) */
        c->close_after = true;
        if (!mock_buf_size(&c->out))
            mock_conn_close(c);
    }
    reap(s);
}

int mock_server_run(struct mock_server *s, volatile sig_atomic_t *stop)
{
    struct epoll_event evs[MAX_EVENTS];
    int64_t deadline = 0;

    for (;;) {
        s->now_us = sh_mono_us();
        if (*stop && !s->draining) {
            begin_drain(s);
            deadline = s->now_us + s->cfg->drain_ms * 1000;
            sh_log(SH_LOG_INFO, "draining", "in_flight=%zu drain_ms=%lld", s->n_active,
                   (long long)s->cfg->drain_ms);
        }
        if (s->draining && (!s->n_conns || s->now_us >= deadline))
            break;
        if (!s->accepting && !s->draining && s->now_us >= s->accept_resume_us)
            set_accepting(s, true);
        int n = epoll_wait(s->epfd, evs, MAX_EVENTS, poll_timeout(s));
        if (n < 0 && errno != EINTR) {
            sh_log(SH_LOG_ERROR, "epoll_wait failed", "error=\"%s\"", strerror(errno));
            return SH_EIO;
        }
        s->now_us = sh_mono_us();
        for (int i = 0; i < n; i++)
            on_event(s, &evs[i]);
        run_timers(s);
        reap(s);
    }
    return SH_OK;
}

void mock_server_destroy(struct mock_server *s)
{
    if (!s)
        return;
    while (s->conns)
        mock_conn_close(s->conns);
    reap(s);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->epfd >= 0)
        close(s->epfd);
    mock_theap_free(&s->timers);
    mock_buf_free(&s->scratch);
    free(s);
}
