/* WebSocket connections: URL checks, the session frame and session_open,
 * reassembly and validation of client messages, the bounded outbound queue
 * written one frame per writable callback, and the close paths. */
#include "ws.h"
#include "auth.h"
#include "config.h"
#include "conn.h"
#include "http.h"
#include "kafka_bridge.h"
#include "quota.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sh_time.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define TURN_EXPIRE_MS   (10 * 60 * 1000)  /* an unanswered turn stops counting */
#define CLOSE_GRACE_S    5                 /* closing connections die after this */
#define TO_CLOSING       (PENDING_TIMEOUT_USER_REASON_BASE + 1)
#define TO_KILL      (PENDING_TIMEOUT_USER_REASON_BASE + 2)

struct gw_conn *gw_conn_of(struct gw_sess_link *l)
{
    return lws_container_of(l, struct gw_conn, link);
}

size_t gw_ws_pss_size(void)
{
    return sizeof(struct gw_conn);
}

/* Close now, whatever is queued: the queue is freed at once and the next
 * writable callback hands the close to lws, which sends the close frame if
 * the socket still takes it; the timeout ends the connection if it does
 * not (a client that reads nothing). */
static void kill_conn(struct gw_conn *c, uint16_t code, const char *reason)
{
    gw_outq_free(&c->outq);
    c->state = GW_CONN_DEAD;
    lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)reason,
                     strlen(reason));
    lws_set_timeout(c->wsi, TO_KILL, CLOSE_GRACE_S);
    lws_callback_on_writable(c->wsi);
}

int gw_conn_send(struct gw_conn *c, const char *text, size_t len)
{
    int rc;

    if (c->state != GW_CONN_OPEN)
        return SH_EINVAL;
    rc = gw_outq_push(&c->outq, text, len);
    if (rc == SH_EFULL) {
        sh_log(SH_LOG_WARN, "client not reading: outbound queue full", "conn=%llu session=%s "
               "queued=%zu", (unsigned long long)c->id, c->session_id, c->outq.bytes);
        sh_counter_inc(c->app->metrics.outq_closes);
        kill_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "outbound queue full");
        return rc;
    }
    if (rc)
        return rc;
    lws_callback_on_writable(c->wsi);
    return SH_OK;
}

void gw_conn_send_error(struct gw_conn *c, const char *code, const char *msg,
                        const char *client_id, const char *turn_id)
{
    size_t len;
    char *f = gw_frame_error(code, msg, client_id, turn_id, &len);

    gw_metrics_error(&c->app->metrics, code);
    if (f)
        gw_conn_send(c, f, len);
    free(f);
}

/* Read the client's frames again (paused while a new session waits for Kafka). */
static void rx_resume(struct gw_conn *c)
{
    if (!c->rx_paused)
        return;
    c->rx_paused = false;
    lws_rx_flow_control(c->wsi, 1);
}

void gw_conn_close(struct gw_conn *c, uint16_t code, const char *reason)
{
    if (c->state != GW_CONN_OPEN)
        return;
    rx_resume(c);                       /* the closing handshake needs the client's answer */
    c->state = GW_CONN_CLOSING;
    c->close_code = code;
    c->close_reason = reason;
    lws_set_timeout(c->wsi, TO_CLOSING, CLOSE_GRACE_S);
    lws_callback_on_writable(c->wsi);
}

void gw_conn_reject(struct gw_conn *c, const char *code, const char *msg, uint16_t close_code)
{
    c->rejected = true;
    c->announce_pending = false;        /* no id of a session that is refused */
    gw_sessions_remove(c->app->sessions, &c->link);
    gw_conn_send_error(c, code, msg, NULL, NULL);
    gw_conn_close(c, close_code, code);
}

struct gw_turn *gw_conn_turn(struct gw_conn *c, const char *turn_id)
{
    for (uint16_t i = 0; i < c->nturns; i++)
        if (!strcmp(c->turns[i].id, turn_id))
            return &c->turns[i];
    return NULL;
}

bool gw_conn_ack(struct gw_conn *c, const char *turn_id)
{
    struct gw_turn *t = gw_conn_turn(c, turn_id);
    size_t len;
    char *frame;

    if (!t || t->acked)
        return false;
    gw_conn_announce(c);
    t->acked = true;
    frame = gw_frame_ack(t->client_id, t->id, &len);
    if (frame)
        gw_conn_send(c, frame, len);
    free(frame);
    return true;
}

void gw_conn_turn_forget(struct gw_conn *c, const char *turn_id)
{
    for (uint16_t i = 0; i < c->nturns; i++) {
        if (strcmp(c->turns[i].id, turn_id) != 0)
            continue;
        /* Answered turns with a client id stay (until space is needed) so a
         * resend of that id is acked with this turn instead of run again. */
        if (c->turns[i].client_id[0])
            c->turns[i].answered = true;
        else
            c->turns[i] = c->turns[--c->nturns];
        break;
    }
    if (c->nturns == 0) {
        free(c->turns);     /* idle connections keep no turn table */
        c->turns = NULL;
    }
}

/* Count 'turn_id' (from client message 'client_id') as unanswered.
 * Returns 0, or SH_EFULL when the client already has max_pending of them
 * (after forgetting stale ones), or SH_ENOMEM. */
static int turn_add(struct gw_conn *c, const char *turn_id, const char *client_id)
{
    struct gw_turn *t;
    size_t max = (size_t)c->app->cfg->max_pending;
    int64_t now = sh_mono_ms();

    size_t unanswered = 0;
    int oldest = -1;

    for (uint16_t i = 0; i < c->nturns;) {
        if (now - c->turns[i].since_ms > TURN_EXPIRE_MS) {
            c->turns[i] = c->turns[--c->nturns];
            continue;
        }
        if (!c->turns[i].answered)
            unanswered++;
        else if (oldest < 0 || c->turns[i].since_ms < c->turns[oldest].since_ms)
            oldest = i;
        i++;
    }
    if (unanswered >= max)
        return SH_EFULL;
    if (c->nturns >= max)                   /* make room: drop the oldest answered one */
        c->turns[oldest] = c->turns[--c->nturns];
    if (!c->turns && !(c->turns = calloc(max, sizeof(*c->turns))))
        return SH_ENOMEM;
    t = &c->turns[c->nturns++];
    memcpy(t->id, turn_id, SH_UUID_LEN + 1);
    snprintf(t->client_id, sizeof(t->client_id), "%s", client_id);
    t->acked = false;
    t->answered = false;
    t->since_ms = now;
    return SH_OK;
}

/* Publish a request of 'type' for this connection with the fields of
 * 'payload' (stolen; 'has_payload' false means {}, true with a NULL
 * 'payload' means json_pack ran out of memory). Returns 0 or a negative
 * code; 'pub' is freed on error. */
static int publish(struct gw_conn *c, enum gw_pub_kind kind, const char *type,
                   const char *turn_id, bool has_payload, json_t *payload, struct gw_pub *pub)
{
    struct sh_env e;
    int rc = sh_env_init(&e, type, c->session_id, c->user_id, turn_id);

    if (rc == SH_OK && has_payload && !payload)
        rc = SH_ENOMEM;
    if (rc == SH_OK && payload)
        rc = json_object_update(e.payload, payload) ? SH_ENOMEM : SH_OK;
    json_decref(payload);
    if (rc == SH_OK) {
        pub->conn_id = c->id;
        pub->kind = kind;
        memcpy(pub->session_id, c->session_id, sizeof(pub->session_id));
        rc = gw_bridge_publish(c->app->bridge, &e, pub);
    }
    if (rc)
        free(pub);
    sh_env_free(&e);
    return rc;
}

static void on_user_message(struct gw_conn *c, struct gw_client_frame *f)
{
    struct gw_pub *pub = NULL;
    char turn_id[SH_UUID_LEN + 1];
    int64_t wait_ms;
    int rc;

    /* A resend of a message this connection already sent: ack it with the
     * turn that answers it instead of starting another. */
    for (uint16_t i = 0; f->id[0] && i < c->nturns; i++) {
        struct gw_turn *t = &c->turns[i];
        size_t len;
        char *frame;

        if (strcmp(t->client_id, f->id) != 0)
            continue;
        /* Not yet taken by Kafka: its delivery report answers both (an ack, or `unavailable`
         * when Kafka refused it, which an early ack here would hide). */
        if (!t->acked)
            return;
        frame = gw_frame_ack(t->client_id, t->id, &len);
        if (frame)
            gw_conn_send(c, frame, len);
        free(frame);
        return;
    }
    wait_ms = gw_quota_take(c->app->quota, c->user_id, sh_mono_ms());
    if (wait_ms > 0) {
        size_t len;
        char *frame = gw_frame_rate_limited(f->id, wait_ms, &len);
        gw_metrics_error(&c->app->metrics, "rate_limited");
        if (frame)
            gw_conn_send(c, frame, len);
        free(frame);
        return;
    }
    sh_uuid_v7(turn_id);
    rc = turn_add(c, turn_id, f->id);
    if (rc == SH_EFULL) {
        gw_conn_send_error(c, "busy", "too many unanswered messages", f->id, NULL);
        return;
    }
    pub = rc == SH_OK ? calloc(1, sizeof(*pub)) : NULL;
    if (pub) {
        memcpy(pub->turn_id, turn_id, sizeof(turn_id));
        memcpy(pub->client_id, f->id, sizeof(pub->client_id));
        rc = publish(c, GW_PUB_MESSAGE, "user_message", turn_id, true,
                     json_pack("{s:O, s:s}", "content", f->content, "client_id", f->id), pub);
    } else {
        rc = SH_ENOMEM;
    }
    if (rc) {
        gw_conn_turn_forget(c, turn_id);
        sh_log(SH_LOG_WARN, "user message not queued", "session=%s turn=%s error=%s",
               c->session_id, turn_id, sh_strerror(rc));
        gw_conn_send_error(c, "unavailable", "the message was not taken; resend", f->id, NULL);
        return;
    }
    sh_log(SH_LOG_DEBUG, "user message", "session=%s turn=%s conn=%llu", c->session_id,
           turn_id, (unsigned long long)c->id);
}

/* Close over bad input. The close starts from the next writable callback,
 * not by failing this receive callback: lws would drop the rest of the
 * bytes it has read, lose its place in the client's frames, and cut the
 * TCP connection before the close frame is out (a client still sending
 * would see a reset, 1006, instead of the code). What the client sends
 * until the closing handshake ends is dropped in on_receive(). */
static int refuse_rx(struct gw_conn *c, uint16_t code, const char *reason)
{
    c->rx_refused = true;
    kill_conn(c, code, reason);
    return 0;
}

/* One complete text message from the client. */
static int on_text(struct gw_conn *c, const char *buf, size_t len)
{
    struct gw_client_frame f;
    struct gw_pub *pub;
    size_t flen;
    char *pong;
    int rc;

    sh_counter_inc(c->app->metrics.messages);
    if (!gw_utf8_valid(buf, len))
        return refuse_rx(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid UTF-8");
    rc = gw_frame_parse(buf, len, &f);
    if (rc == SH_EPROTO) {
        gw_conn_send_error(c, f.err_code, f.err_msg, NULL, NULL);
    } else if (rc) {
        gw_conn_send_error(c, "unavailable", "out of memory; resend", NULL, NULL);
    } else if (f.type == GW_CF_USER_MESSAGE) {
        on_user_message(c, &f);
    } else if (f.type == GW_CF_STOP) {
        pub = calloc(1, sizeof(*pub));
        if (!pub || publish(c, GW_PUB_STOP, "stop", NULL, false, NULL, pub))
            gw_conn_send_error(c, "unavailable", "Kafka did not take the stop; resend",
                               NULL, NULL);
    } else {
        pong = gw_frame_pong(sh_now_ms(), &flen);
        if (pong)
            gw_conn_send(c, pong, flen);
        free(pong);
    }
    gw_client_frame_free(&f);
    return 0;
}

static void rx_reset(struct gw_conn *c)
{
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    c->rx_active = c->rx_binary = false;
}

/* A piece of a client message. Small unfragmented messages are handled in
 * place; only a message spread over several pieces gets a buffer, sized to
 * what the frame headers announce and freed when the message is done. */
static int on_receive(struct gw_conn *c, const unsigned char *in, size_t len)
{
    size_t max = (size_t)c->app->cfg->max_message;
    size_t remaining = lws_remaining_packet_payload(c->wsi);
    bool final = lws_is_final_fragment(c->wsi);
    int rc = 0;

    if (!c->rx_active) {
        c->rx_active = true;
        c->rx_binary = lws_frame_is_binary(c->wsi);
    }
    if (c->rx_refused)
        return 0;                       /* the close is under way: drop the rest */
    if (gw_rx_too_big(c->rx_len, len, remaining, max))
        return refuse_rx(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
    if (c->rx_binary || c->state != GW_CONN_OPEN) {
        c->rx_len += len;               /* counted for the limit, not kept */
        if (final) {
            if (c->rx_binary)
                gw_conn_send_error(c, "binary_not_supported", "send text frames", NULL, NULL);
            rx_reset(c);
        }
        return 0;
    }
    if (final && c->rx_len == 0)
        rc = on_text(c, (const char *)in, len);
    else {
        size_t need = c->rx_len + len + remaining;
        if (need > c->rx_cap) {
            size_t cap = c->rx_cap * 2 > need ? c->rx_cap * 2 : need;
            unsigned char *nb = realloc(c->rx, cap < max ? cap : max);
            if (!nb)
                return refuse_rx(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
            c->rx = nb;
            c->rx_cap = cap < max ? cap : max;
        }
        if (len)
            memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (final)
            rc = on_text(c, (const char *)c->rx, c->rx_len);
    }
    if (final)
        rx_reset(c);
    return rc;
}

/* Read session_id and last_seq from the query string. */
static void read_query(struct lws *wsi, struct gw_conn *c)
{
    char buf[4096];                     /* >= any header fragment lws keeps */
    bool have_sid = false, have_seq = false;

    for (int n = 0; n < 64; n++) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, n);
        if (flen <= 0 || flen >= (int)sizeof(buf) ||
            lws_hdr_copy_fragment(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_URI_ARGS, n) < 0)
            break;
        if (!have_sid && !strncmp(buf, "session_id=", 11)) {
            have_sid = c->resumed = true;
            if (!sh_uuid_valid(buf + 11)) {
                c->setup_err = "session_not_found";
                c->setup_msg = "session_id is not a UUID";
                continue;
            }
            for (int i = 0; i < SH_UUID_LEN; i++)      /* one key per session */
                c->session_id[i] = (char)tolower((unsigned char)buf[11 + i]);
            c->session_id[SH_UUID_LEN] = '\0';
        } else if (!have_seq && !strncmp(buf, "last_seq=", 9)) {
            have_seq = true;
            if (gw_last_seq_parse(buf + 9, &c->last_seq)) {
                c->setup_err = "invalid_message";
                c->setup_msg = "last_seq must be an integer >= -1";
            }
        }
    }
}

static int send_session_frame(struct gw_conn *c)
{
    size_t flen;
    char *frame = gw_frame_session(c->session_id, c->user_id, c->resumed,
                                   c->app->cfg->llm_label, &flen);
    int rc = frame ? gw_conn_send(c, frame, flen) : SH_ENOMEM;

    free(frame);
    return rc;
}

void gw_conn_announce(struct gw_conn *c)
{
    if (!c->announce_pending)
        return;
    c->announce_pending = false;
    if (send_session_frame(c) == SH_ENOMEM) {
        kill_conn(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    rx_resume(c);                       /* what the client sent meanwhile is answered now */
}

/* Join the registry and publish session_open. A resumed session's frame goes out now (the
 * worker still has its say with "attached"); a new one's once Kafka has the session_open:
 * a gateway that dies before that leaves its client no id of a session that never was. */
static int open_session(struct gw_conn *c)
{
    struct gw_app *app = c->app;
    struct gw_pub *pub;
    int rc;

    if (c->resumed) {
        if ((rc = send_session_frame(c)))
            return rc;
    } else {
        /* Nothing is answered before the session frame: not a pong, not an ack. */
        c->announce_pending = c->rx_paused = true;
        c->announce_by_ms = sh_mono_ms() + app->cfg->open_timeout_ms;
        lws_rx_flow_control(c->wsi, 0);
    }
    if (gw_sessions_add(app->sessions, c->session_id, c->id, &c->link) < 0)
        return SH_ENOMEM;
    pub = calloc(1, sizeof(*pub));
    if (!pub)
        return SH_ENOMEM;
    return publish(c, GW_PUB_OPEN, "session_open", NULL, true,
                   json_pack("{s:b, s:I}", "resume", c->resumed, "last_seq",
                             (json_int_t)(c->resumed ? c->last_seq : -1)), pub);
}

/* The close code that goes with a refusal of the connection's setup. */
static uint16_t setup_close_code(const char *err)
{
    if (!strcmp(err, "session_not_found"))
        return 4404;
    if (!strcmp(err, "unauthorized"))
        return 4401;
    if (!strcmp(err, "forbidden"))
        return 4403;
    if (!strcmp(err, "too_many_connections"))
        return 4429;
    if (!strcmp(err, "unavailable"))
        return LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
    return LWS_CLOSE_STATUS_POLICY_VIOLATION;
}

/* Send setup_err and close with its code. */
static void refuse_setup(struct gw_conn *c)
{
    sh_log(SH_LOG_INFO, "ws refused", "conn=%llu code=%s reason=\"%s\"",
           (unsigned long long)c->id, c->setup_err, c->setup_msg);
    gw_conn_send_error(c, c->setup_err, c->setup_msg, NULL, NULL);
    gw_conn_close(c, setup_close_code(c->setup_err), c->setup_err);
}

/* With JWT_SECRET the user is the token's subject (admission checked the
 * token before the upgrade; it is checked again here, where the client can
 * be told why). A user id in the path must be that subject. */
static void identify(struct lws *wsi, struct gw_conn *c)
{
    char uid[SH_USER_ID_MAX + 1];
    const char *why = NULL;
    bool mismatch = false;

    if (!c->app->cfg->jwt_secret[0])
        return;
    if (gw_auth_identify(wsi, c->app, uid, &mismatch, &c->token_deadline_ms, &why)) {
        c->setup_err = "unauthorized";
        c->setup_msg = "a valid access token is required";
    } else if (mismatch) {
        c->setup_err = "forbidden";
        c->setup_msg = "the user id in the URL is not the token's user";
    } else {
        memcpy(c->user_id, uid, sizeof(c->user_id));
    }
}

/* The connection's one wsi timer (lws cancels it with the connection), armed for whichever
 * comes first: the new session's opening deadline or the next look at the token. */
static void timer_arm(struct gw_conn *c)
{
    int64_t wait_ms = gw_auth_expiry_wait(c);

    if (c->announce_pending) {
        int64_t left = c->announce_by_ms - sh_mono_ms();
        if (left < 1)
            left = 1;
        if (wait_ms < 0 || left < wait_ms)
            wait_ms = left;
    }
    if (wait_ms > 0)
        lws_set_timer_usecs(c->wsi, (lws_usec_t)wait_ms * LWS_US_PER_MS);
}

static void on_timer(struct gw_conn *c)
{
    if (c->state != GW_CONN_OPEN)
        return;
    if (c->announce_pending && sh_mono_ms() >= c->announce_by_ms) {
        /* Not `rejected`: the session_open may still land, so session_close must follow it. */
        sh_log(SH_LOG_WARN, "session_open not taken in time", "conn=%llu session=%s "
               "timeout_ms=%lld", (unsigned long long)c->id, c->session_id,
               (long long)c->app->cfg->open_timeout_ms);
        c->announce_pending = false;
        gw_conn_send_error(c, "unavailable", "cannot reach the chat service; reconnect", NULL,
                           NULL);
        gw_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "unavailable");
        return;
    }
    if (gw_auth_expiry_check(c))
        return;
    timer_arm(c);
}

/* Parse the URL, send the session frame and publish session_open. A bad
 * URL gets an error frame and a close instead. */
static void on_established(struct lws *wsi, struct gw_app *app, struct gw_conn *c)
{
    const char *which = NULL;
    char path[512];
    int rc;

    c->app = app;
    c->wsi = wsi;
    c->id = ++app->next_conn_id;
    c->opened_ms = sh_mono_ms();
    c->last_seq = -1;
    c->state = GW_CONN_OPEN;
    gw_outq_init(&c->outq, (size_t)app->cfg->outq_max, LWS_PRE);
    app->nconns++;
    sh_gauge_set(app->metrics.connections, (double)app->nconns);

    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
        gw_ws_path_parse(path, c->user_id, sizeof(c->user_id)) != SH_OK) {
        c->setup_err = "invalid_message";
        c->setup_msg = "the user id must be 1-128 characters of A-Z a-z 0-9 _ . @ -";
    }
    read_query(wsi, c);
    if (!c->setup_err)
        identify(wsi, c);
    if (c->setup_err) {
        refuse_setup(c);
        return;
    }
    if (!c->user_id[0]) {
        char uuid[SH_UUID_LEN + 1];
        sh_uuid_v7(uuid);
        snprintf(c->user_id, sizeof(c->user_id), "anon-%s", uuid);
    }
    /* Checked before the upgrade already (429); counted from here on. */
    gw_auth_peer(wsi, app->cfg, c->peer, sizeof(c->peer));
    rc = gw_quota_conn_add(app->quota, c->user_id, c->peer, &which);
    if (rc) {
        c->setup_err = rc == SH_EFULL ? "too_many_connections" : "unavailable";
        c->setup_msg = rc == SH_EFULL ? "too many connections" : "out of memory; reconnect";
        refuse_setup(c);
        return;
    }
    c->counted = true;
    if (!c->resumed)
        sh_uuid_v7(c->session_id);
    c->max_seq = c->resumed ? c->last_seq : -1;
    c->awaiting_attach = c->resumed;

    rc = open_session(c);
    if (rc) {
        sh_log(SH_LOG_WARN, "session_open failed", "session=%s error=%s", c->session_id,
               sh_strerror(rc));
        c->rejected = true;             /* the worker never heard of it */
        c->announce_pending = false;
        gw_sessions_remove(app->sessions, &c->link);
        gw_conn_send_error(c, "unavailable", "cannot reach the chat service; reconnect",
                           NULL, NULL);
        gw_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "unavailable");
        return;
    }
    sh_log(SH_LOG_INFO, "ws open", "conn=%llu session=%s user=%s ip=%s resumed=%d "
           "last_seq=%lld", (unsigned long long)c->id, c->session_id, c->user_id, c->peer,
           c->resumed, (long long)c->last_seq);
    timer_arm(c);
}

/* Exactly one lws_write per call, from the head of the queue. */
static int on_writeable(struct gw_conn *c)
{
    unsigned char *buf;
    size_t len;

    /* Once lws runs the closing handshake it may still call here (a
     * writable request was pending); failing again would make it drop the
     * connection before the client's close arrives. */
    if (c->close_started)
        return 0;
    if (c->state == GW_CONN_DEAD) {
        c->close_started = true;
        return -1;                      /* lws sends the close set by kill_conn */
    }
    buf = gw_outq_peek(&c->outq, &len);
    if (buf) {
        if (lws_write(c->wsi, buf, len, LWS_WRITE_TEXT) < (int)len)
            return -1;
        sh_counter_inc(c->app->metrics.frames);
        gw_outq_pop(&c->outq);
        if (!gw_outq_empty(&c->outq) || c->state == GW_CONN_CLOSING)
            lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->state == GW_CONN_CLOSING) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        c->close_started = true;
        return -1;
    }
    return 0;
}

static void on_closed(struct gw_conn *c)
{
    struct gw_app *app = c->app;
    struct gw_pub *pub;
    int rc;

    if (!c->id || !app)
        return;                         /* never established */
    if (gw_sessions_remove(app->sessions, &c->link) == 1 && !c->rejected) {
        /* The last local connection of the session: drop our route. */
        pub = calloc(1, sizeof(*pub));
        rc = pub ? publish(c, GW_PUB_CLOSE, "session_close", NULL, false, NULL, pub) : SH_ENOMEM;
        if (rc)
            sh_log(SH_LOG_WARN, "session_close not queued", "session=%s error=%s",
                   c->session_id, sh_strerror(rc));
    }
    sh_log(SH_LOG_INFO, "ws closed", "conn=%llu session=%s user=%s secs=%lld",
           (unsigned long long)c->id, c->session_id, c->user_id,
           (long long)((sh_mono_ms() - c->opened_ms) / 1000));
    if (c->counted)
        gw_quota_conn_remove(app->quota, c->user_id, c->peer);
    c->counted = false;
    rx_reset(c);
    gw_outq_free(&c->outq);
    free(c->turns);
    c->turns = NULL;
    c->nturns = 0;
    c->state = GW_CONN_DEAD;
    c->id = 0;
    app->nconns--;
    sh_gauge_set(app->metrics.connections, (double)app->nconns);
}

int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct gw_app *app = lws_context_user(lws_get_context(wsi));
    struct gw_conn *c = user;
    char path[512];

    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return app->shutting_down ? -1 : 0;
    case LWS_CALLBACK_HTTP:
        return gw_http_request(wsi, app, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* Only WebSocket upgrades: an h2c upgrade would carry RFC 8441 WebSockets past
         * the Origin check and the pre-upgrade refusals. */
        if (!in || strcmp((const char *)in, "websocket") != 0)
            return -1;
        /* Other paths are refused below, without an answer, as before. */
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
            gw_ws_path_parse(path, NULL, 0) == SH_ENOTFOUND || app->shutting_down)
            return 0;
        return gw_auth_admit(wsi, app);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Only the session URLs upgrade; a bad user id is answered in
         * ESTABLISHED, where the client can be told why. */
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
            gw_ws_path_parse(path, NULL, 0) == SH_ENOTFOUND || app->shutting_down)
            return -1;
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        on_established(wsi, app, c);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return c->id ? on_receive(c, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c->id ? on_writeable(c) : 0;
    case LWS_CALLBACK_TIMER:
        if (c && c->id)
            on_timer(c);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (c)
            on_closed(c);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (app)
            gw_replies_drain(app);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int gw_ws_bearer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len)
{
    /* lws tells every protocol of a wake-up; the first one drains. */
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED)
        return 0;
    return gw_ws_callback(wsi, reason, user, in, len);
}

static void close_one(void *ctx, struct gw_sess_link *l)
{
    (void)ctx;
    gw_conn_close(gw_conn_of(l), LWS_CLOSE_STATUS_GOINGAWAY, "gateway shutting down");
}

void gw_ws_shutdown(struct gw_app *app)
{
    app->shutting_down = true;
    gw_sessions_each(app->sessions, close_one, NULL);
}
