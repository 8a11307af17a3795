/* The reply path in the lws thread: what the Kafka thread queued (worker
 * replies and delivery reports) becomes frames for the local connections
 * of a session, acks or errors; "attached" is consumed here. */
#include "conn.h"
#include "kafka_bridge.h"
#include "sh_err.h"
#include "sh_log.h"

#include <stdlib.h>
#include <string.h>

#define DRAIN_MAX 512   /* items per wake-up, so sockets are served in between */

/* The connection an "attached" answers. The worker answers each resuming
 * session_open in order, and this gateway's requests for one session keep
 * their order, so it is the oldest connection still waiting; one of the
 * same user is preferred in case an earlier waiter has gone. */
static struct gw_conn *attach_target(struct gw_sess_link *l, const char *user_id)
{
    struct gw_conn *first = NULL;

    for (; l; l = l->next) {
        struct gw_conn *c = gw_conn_of(l);
        if (!c->awaiting_attach)
            continue;
        if (!strcmp(c->user_id, user_id))
            return c;
        if (!first)
            first = c;
    }
    return first;
}

static void on_attached(struct gw_sess_link *l, struct sh_env *e)
{
    struct gw_conn *c = attach_target(l, e->user_id);
    json_t *code = json_object_get(e->payload, "code");
    const char *cs = json_is_string(code) ? json_string_value(code) : "unavailable";

    if (!c) {
        sh_log(SH_LOG_DEBUG, "attached for no waiting connection", "session=%s",
               e->session_id);
        return;
    }
    c->awaiting_attach = false;
    if (json_is_true(json_object_get(e->payload, "ok"))) {
        json_t *next = json_object_get(e->payload, "next_seq");
        /* A last_seq from the future (a confused client) must not mute the
         * stream: nothing at or above next_seq has been sent yet. */
        if (json_is_integer(next) && c->max_seq >= json_integer_value(next))
            c->max_seq = json_integer_value(next) - 1;
        sh_log(SH_LOG_INFO, "session resumed", "conn=%llu session=%s last_seq=%lld",
               (unsigned long long)c->id, c->session_id, (long long)c->last_seq);
        return;
    }
    sh_log(SH_LOG_INFO, "resume refused", "conn=%llu session=%s user=%s code=%s",
           (unsigned long long)c->id, c->session_id, c->user_id, cs);
    if (!strcmp(cs, "forbidden"))
        gw_conn_reject(c, "forbidden", "this session belongs to another user", 4403);
    else if (!strcmp(cs, "session_not_found"))
        gw_conn_reject(c, "session_not_found", "no such session", 4404);
    else
        gw_conn_reject(c, "unavailable", "the session cannot be resumed now; reconnect",
                       LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
}

/* One worker reply: to every local connection of its session. */
static void on_reply(void *ctx, struct sh_env *e)
{
    struct gw_app *app = ctx;
    struct gw_sess_link *l = gw_sessions_first(app->sessions, e->session_id), *next;
    /* "duplicate": the worker dropped a resend; the turn is over too. */
    bool done = !strcmp(e->type, "done") || !strcmp(e->type, "duplicate");
    size_t len;
    char *frame;

    if (!l) {
        sh_log(SH_LOG_DEBUG, "reply for no local connection", "session=%s type=%s",
               e->session_id, e->type);
        return;
    }
    if (!strcmp(e->type, "attached")) {
        on_attached(l, e);
        return;
    }
    frame = gw_frame_reply(e, &len);
    if (!frame) {
        sh_log(SH_LOG_ERROR, "out of memory for a reply frame", "session=%s turn=%s",
               e->session_id, e->turn_id);
        return;
    }
    for (; l; l = next) {
        struct gw_conn *c = gw_conn_of(l);

        next = l->next;
        /* A resuming connection gets the worker's replay after "attached",
         * which repeats anything streamed before it, in order. */
        if (c->state != GW_CONN_OPEN || c->awaiting_attach) {
            if (done && e->turn_id[0])
                gw_conn_turn_forget(c, e->turn_id);
            continue;
        }
        gw_conn_announce(c);    /* a reply proves Kafka has the session_open */
        if (e->turn_id[0]) {
            if (gw_conn_ack(c, e->turn_id))     /* the sender's ack goes first */
                sh_log(SH_LOG_DEBUG, "ack sent ahead of its delivery report",
                       "session=%s turn=%s", e->session_id, e->turn_id);
            if (done)
                gw_conn_turn_forget(c, e->turn_id);
        }
        if (e->seq >= 0) {
            if (e->seq <= c->max_seq)
                continue;           /* already shown: a replay overlapping the live stream */
            c->max_seq = e->seq;
        }
        gw_conn_send(c, frame, len);
    }
    free(frame);
}

/* Kafka's verdict on something a connection published. */
static void on_delivery(void *ctx, void *opaque, int err)
{
    struct gw_app *app = ctx;
    struct gw_pub *pub = opaque;
    struct gw_sess_link *l = gw_sessions_find(app->sessions, pub->conn_id);
    struct gw_conn *c = l ? gw_conn_of(l) : NULL;
    struct gw_turn *t;

    if (err)
        sh_log(SH_LOG_WARN, "request not delivered", "session=%s turn=%s kind=%d",
               pub->session_id, pub->turn_id, (int)pub->kind);
    if (!c) {
        if (pub->kind == GW_PUB_MESSAGE)
            sh_log(SH_LOG_DEBUG, "ack for a closed connection", "session=%s turn=%s",
                   pub->session_id, pub->turn_id);
        free(pub);
        return;
    }
    switch (pub->kind) {
    case GW_PUB_MESSAGE:
        t = gw_conn_turn(c, pub->turn_id);
        if (!err) {
            gw_conn_ack(c, pub->turn_id);       /* no-op when a reply beat us */
        } else if (t && !t->acked) {
            gw_conn_turn_forget(c, pub->turn_id);
            gw_conn_send_error(c, "unavailable", "Kafka did not take the message; resend",
                               pub->client_id, NULL);
        }
        /* else the worker already answered: the message did get through */
        break;
    case GW_PUB_STOP:
        if (err)
            gw_conn_send_error(c, "unavailable", "Kafka did not take the stop; resend", NULL,
                               NULL);
        break;
    case GW_PUB_OPEN:
        if (!err)
            gw_conn_announce(c);
        else
            gw_conn_reject(c, "unavailable", "cannot reach the chat service; reconnect",
                           LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
        break;
    case GW_PUB_CLOSE:
        break;
    }
    free(pub);
}

void gw_replies_drain(struct gw_app *app)
{
    if (!app->bridge)
        return;
    if (gw_bridge_drain(app->bridge, DRAIN_MAX, on_reply, on_delivery, app) > 0)
        lws_cancel_service(app->ctx);   /* more next round, after the sockets */
}
