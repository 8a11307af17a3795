/* Internals shared by server.c (loop, sockets), handler.c (routing) and stream.c (paced answers). */
#ifndef MOCK_CONN_H
#define MOCK_CONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "faults.h"
#include "http.h"
#include "reply.h"
#include "server.h"
#include "theap.h"

#define mock_container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* Timers due within this window fire together: one wakeup serves many streams. */
#define MOCK_TIMER_SLACK_US 2000
/* Stop producing tokens for a connection whose unsent output is this large. */
#define MOCK_OUT_HIGH_WATER ((size_t)256 * 1024)

struct mock_stats {
    uint64_t requests;
    uint64_t chat_requests;
    uint64_t streams;              /* streaming answers started */
    uint64_t completed;            /* answers fully sent */
    uint64_t disconnects;          /* clients gone while an answer was in flight */
    uint64_t refused;              /* connections over max_conns */
    uint64_t faults[MOCK_FAULT_HANG + 1];
};

struct mock_resp;                  /* stream.c */

/* One client connection. Owned by the server's list; freed only after the event batch that
 * closed it, so pointers held during a batch stay valid (check 'dead'). */
struct mock_conn {
    struct mock_server *srv;
    int fd;
    uint32_t events;               /* epoll interest currently registered */
    struct mock_buf in;            /* bytes read, not yet parsed */
    struct mock_buf out;           /* bytes to send */
    struct mock_timer timer;       /* pacing of 'resp', else the idle timeout */
    struct mock_resp *resp;        /* answer in progress, NULL between requests */
    bool keep_alive;               /* of the request being answered */
    bool close_after;              /* close once 'out' is sent */
    bool continue_sent;            /* 100 Continue sent for the request being read */
    bool peer_eof;
    bool dead;
    struct mock_conn *prev, *next;
};

struct mock_server {
    const struct mock_config *cfg; /* borrowed */
    int epfd;
    int lfd;                       /* listening socket, -1 once closed */
    int port;
    bool accepting;                /* lfd registered with epoll */
    int64_t accept_resume_us;      /* when accepting was paused for lack of fds */
    struct mock_theap timers;
    struct mock_faults faults;
    struct mock_buf scratch;       /* events of one timer firing, framed afterwards */
    struct mock_conn *conns;       /* live connections */
    struct mock_conn *dead;        /* closed in this batch, freed after it */
    size_t n_conns;
    size_t n_active;               /* answers in flight */
    uint64_t next_id;
    int64_t now_us;                /* monotonic time of this loop turn */
    bool draining;
    struct mock_stats stats;
};

/* server.c: close 'c' now (fd, timer, answer); it is freed after the current batch. */
void mock_conn_close(struct mock_conn *c);
/* server.c: send what 'out' holds and update epoll interest. Returns 0, or SH_EIO when the
 * connection was closed (peer gone, or close_after with everything sent): then touch only
 * c->dead. */
int mock_conn_flush(struct mock_conn *c);
/* server.c: the answer on 'c' is complete and c->resp freed: go on with the next request. */
void mock_conn_resp_done(struct mock_conn *c);
/* server.c: (re)arm the connection's timer. Returns 0 or SH_ENOMEM. */
int mock_conn_arm(struct mock_conn *c, int64_t due_us);

/* handler.c: answer one complete request: write a response to c->out or start c->resp. */
void mock_handle(struct mock_conn *c, const struct mock_http_req *req);
/* handler.c: append a complete response with 'body' to c->out; 'extra' holds whole header
 * lines ("Name: v\r\n") or is NULL. Sets close_after unless keep-alive. Returns 0 or SH_ENOMEM. */
int mock_respond(struct mock_conn *c, int status, const char *ctype, const char *extra,
                 const char *body, size_t len);
/* handler.c: an OpenAI-style error response (see mock_error_json()). */
int mock_respond_error(struct mock_conn *c, int status, const char *message, const char *type,
                       const char *param, const char *code, const char *extra);

/* stream.c: start answering 'reply' (moved into the answer: *reply is zeroed) with 'fault'
 * (NONE, CUT, SLOW or HANG); HTTP/1.0 clients get close-delimited streams. Returns 0 or
 * SH_ENOMEM (then nothing was started and *reply is untouched). */
int mock_resp_start(struct mock_conn *c, struct mock_reply *reply, enum mock_fault fault,
                    int http_minor);
/* stream.c: the connection's timer fired while an answer is in progress. */
void mock_resp_fire(struct mock_conn *c);
/* stream.c: free an answer; NULL-safe. */
void mock_resp_destroy(struct mock_resp *r);

#endif
