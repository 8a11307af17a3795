/* One WebSocket connection (lws allocates it as the per-session data) and
 * the operations the reply path needs; implemented in ws.c. Everything
 * here runs in the lws thread. */
#ifndef GW_CONN_H
#define GW_CONN_H
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "frames.h"
#include "outq.h"
#include "sessions.h"
#include "sh_envelope.h"

enum gw_conn_state {
    GW_CONN_NONE,       /* HTTP request or not yet established */
    GW_CONN_OPEN,       /* session frame sent, frames flow */
    GW_CONN_CLOSING,    /* sending what is queued, then the close frame */
    GW_CONN_DEAD,       /* closed or being killed; nothing more is sent */
};

/* An unanswered user message: accepted, not yet seen "done" for. */
struct gw_turn {
    char id[SH_UUID_LEN + 1];
    bool acked;                         /* the ack went out */
    bool answered;                      /* done arrived; kept to recognise resends */
    int64_t since_ms;                   /* monotonic */
    char client_id[GW_CLIENT_ID_MAX + 1];
};

struct gw_conn {
    struct gw_sess_link link;           /* registry entry; conn id lives here */
    struct gw_app *app;
    struct lws *wsi;
    uint64_t id;                        /* never reused; 0 = not a connection */
    int64_t opened_ms;                  /* monotonic, for the close log */
    int64_t max_seq;                    /* highest seq sent (starts at last_seq) */
    int64_t last_seq;                   /* from the query, -1 when absent */
    struct gw_outq outq;
    unsigned char *rx;                  /* fragmented text being assembled */
    size_t rx_len, rx_cap;              /* bytes of the current message so far */
    struct gw_turn *turns;              /* unanswered turns; NULL when none */
    uint16_t nturns;
    uint16_t close_code;                /* for GW_CONN_CLOSING */
    uint8_t state;                      /* enum gw_conn_state */
    bool rx_active;                     /* inside a message */
    bool rx_binary;                     /* ... and it is binary */
    bool resumed;                       /* session_id came with the URL */
    bool awaiting_attach;               /* resumed, worker has not said ok */
    bool announce_pending;              /* new session: its frame waits for Kafka's ack of
                                         * session_open, so an id a client holds exists;
                                         * the client's frames are not read meanwhile */
    int64_t announce_by_ms;             /* monotonic: refused as unavailable after this */
    bool rx_paused;                     /* lws_rx_flow_control(0) while announce_pending */
    bool rejected;                      /* worker refused: no session_close */
    bool rx_refused;                    /* closing over bad input: drop further input */
    bool close_started;                 /* handed the close to lws: writable is a no-op */
    const char *close_reason;           /* static text for the close frame */
    const char *setup_err;              /* bad URL: error code to send, or NULL */
    const char *setup_msg;
    bool counted;                       /* in the connection caps (quota.c) */
    char session_id[SH_UUID_LEN + 1];
    char user_id[SH_USER_ID_MAX + 1];
    char peer[48];                      /* client IP, for the per-IP cap (behind a trusted
                                         * proxy: from X-Forwarded-For) */
    int64_t token_deadline_ms;          /* wall clock: the token's exp + leeway, when the
                                         * connection is closed with 4401; 0 = no token */
};

/* What gw_bridge_publish() carries as opaque: enough to find the connection
 * again by id (never by pointer: it may be gone) when Kafka reports. */
enum gw_pub_kind { GW_PUB_OPEN, GW_PUB_MESSAGE, GW_PUB_STOP, GW_PUB_CLOSE };
struct gw_pub {
    uint64_t conn_id;
    enum gw_pub_kind kind;
    char session_id[SH_UUID_LEN + 1];
    char turn_id[SH_UUID_LEN + 1];
    char client_id[GW_CLIENT_ID_MAX + 1];
};

/* The connection a registry link belongs to. */
struct gw_conn *gw_conn_of(struct gw_sess_link *l);
/* Queue one text frame (copied) and ask for a writable callback. When the
 * queue is full the connection is dropped with 1008 and SH_EFULL returned;
 * SH_EINVAL when it no longer takes frames. */
int gw_conn_send(struct gw_conn *c, const char *text, size_t len);
/* Queue the session frame of a new session whose session_open Kafka has taken, unless
 * it went out already. Every frame of the session follows it. */
void gw_conn_announce(struct gw_conn *c);
/* Queue an error frame; see gw_frame_error() for the optional ids. */
void gw_conn_send_error(struct gw_conn *c, const char *code, const char *msg,
                        const char *client_id, const char *turn_id);
/* Send what is queued, then close with 'code' and static 'reason'; the
 * connection is killed if that takes longer than a few seconds. */
void gw_conn_close(struct gw_conn *c, uint16_t code, const char *reason);
/* The worker refused the session: error frame, leave the registry without
 * session_close, close with 'close_code'. */
void gw_conn_reject(struct gw_conn *c, const char *code, const char *msg, uint16_t close_code);
/* The unanswered turn 'turn_id' of this connection, or NULL. */
struct gw_turn *gw_conn_turn(struct gw_conn *c, const char *turn_id);
/* Forget unanswered turn 'turn_id' (its "done" went out, or it failed). */
void gw_conn_turn_forget(struct gw_conn *c, const char *turn_id);
/* Queue the ack of this connection's turn 'turn_id' unless it went out
 * already. Called for the delivery report and for each reply frame of the
 * turn, whichever comes first: a reply proves the message is in Kafka, and
 * this way the ack always precedes the turn's frames. Returns true when an
 * ack was queued. */
bool gw_conn_ack(struct gw_conn *c, const char *turn_id);

/* In the lws thread, on LWS_CALLBACK_EVENT_WAIT_CANCELLED: handle what the
 * Kafka thread queued (replies.c). */
void gw_replies_drain(struct gw_app *app);

#endif
