/* Request routing: health, models, stats, chat completions (faults applied here), and error responses. */
#include "conn.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sse.h"

#include <stdio.h>
#include <string.h>

#define MOCK_HEADER "X-Mock-LLM: mock server, not a model\r\n"

int mock_respond(struct mock_conn *c, int status, const char *ctype, const char *extra,
                 const char *body, size_t len)
{
    if (!c->keep_alive)
        c->close_after = true;
    if (mock_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Connection: %s\r\n" MOCK_HEADER "%s\r\n", status,
                        mock_http_reason(status), ctype, len,
                        c->keep_alive ? "keep-alive" : "close", extra ? extra : "") ||
        mock_buf_append(&c->out, body, len))
        return SH_ENOMEM;
    return SH_OK;
}

int mock_respond_error(struct mock_conn *c, int status, const char *message, const char *type,
                       const char *param, const char *code, const char *extra)
{
    struct mock_buf body;
    int rc;

    mock_buf_init(&body);
    rc = mock_error_json(&body, message, type, param, code);
    if (!rc)
        rc = mock_respond(c, status, "application/json", extra, mock_buf_ptr(&body),
                          mock_buf_size(&body));
    mock_buf_free(&body);
    return rc;
}

static void respond_stats(struct mock_conn *c)
{
    const struct mock_server *s = c->srv;
    const struct mock_stats *st = &s->stats;
    struct mock_buf b;

    mock_buf_init(&b);
    mock_buf_printf(&b, "{\"mock\":true,\"requests\":%llu,\"chat_requests\":%llu,\"streams\":%llu,"
                    "\"completed\":%llu,\"disconnects\":%llu,\"refused\":%llu,"
                    "\"connections\":%zu,\"in_flight\":%zu,\"faults\":{",
                    (unsigned long long)st->requests, (unsigned long long)st->chat_requests,
                    (unsigned long long)st->streams, (unsigned long long)st->completed,
                    (unsigned long long)st->disconnects, (unsigned long long)st->refused,
                    s->n_conns, s->n_active);
    for (int f = MOCK_FAULT_429; f <= MOCK_FAULT_HANG; f++)
        mock_buf_printf(&b, "%s\"%s\":%llu", f == MOCK_FAULT_429 ? "" : ",",
                        mock_fault_name((enum mock_fault)f), (unsigned long long)st->faults[f]);
    mock_buf_puts(&b, "}}");
    mock_respond(c, 200, "application/json", NULL, mock_buf_ptr(&b), mock_buf_size(&b));
    mock_buf_free(&b);
}

/* Which fault applies: a [[fault:]] marker beats the X-Mock-Fault header, which beats the
 * MOCK_LLM_FAULTS draw. Returns 0, or SH_EINVAL after answering 400 for a bad header. */
static int choose_fault(struct mock_conn *c, const struct mock_http_req *req,
                        const struct mock_reply *r, enum mock_fault *fault)
{
    struct mock_server *s = c->srv;

    if (r->has_marker) {
        *fault = r->marker_fault;
    } else if (req->fault) {
        if (mock_fault_parse(req->fault, req->fault_len, fault)) {
            char msg[160];
            snprintf(msg, sizeof(msg), "Unknown X-Mock-Fault \"%.*s\" (mock-llm knows 429, "
                     "429once, 500, 500once, quota, cut, slow, hang, none).",
                     (int)(req->fault_len > 40 ? 40 : req->fault_len), req->fault);
            mock_respond_error(c, 400, msg, "invalid_request_error", NULL, "invalid_fault", NULL);
            return SH_EINVAL;
        }
    } else {
        *fault = mock_faults_draw(&s->faults);
    }
    *fault = mock_faults_once(&s->faults, *fault, r->fingerprint);
    s->stats.faults[*fault]++;
    return SH_OK;
}

/* Answer a chat completion request; returns the HTTP status (for the debug log). */
static int chat(struct mock_conn *c, const struct mock_http_req *req)
{
    struct mock_reply r;
    enum mock_fault fault = MOCK_FAULT_NONE;
    int rc, status = 200;

    c->srv->stats.chat_requests++;
    rc = mock_reply_build(req->body, req->content_length, &r);
    if (rc == SH_EINVAL) {
        status = 400;
        mock_respond_error(c, 400, r.error, "invalid_request_error", r.error_param,
                           r.error_code, NULL);
    } else if (rc) {
        status = 500;
        mock_respond_error(c, 500, "Out of memory (mock)", "server_error", NULL, NULL, NULL);
    } else if (choose_fault(c, req, &r, &fault)) {
        status = 400;
    } else if (fault == MOCK_FAULT_429) {
        status = 429;
        mock_respond_error(c, 429, "Rate limit reached (mock)", "requests", NULL,
                           "rate_limit_exceeded",
                           "retry-after: 1\r\nx-ratelimit-remaining-requests: 0\r\n"
                           "x-ratelimit-reset-requests: 1s\r\n");
    } else if (fault == MOCK_FAULT_500) {
        status = 500;
        mock_respond_error(c, 500, "The server had an error while processing your request. "
                           "(mock)", "server_error", NULL, "server_error", NULL);
    } else if (fault == MOCK_FAULT_QUOTA) {
        status = 429;
        mock_respond_error(c, 429, "You exceeded your current quota, please check your plan "
                           "and billing details. (mock)", "insufficient_quota", NULL,
                           "insufficient_quota", NULL);
    } else if (mock_resp_start(c, &r, fault, req->minor)) {
        status = 500;
        mock_respond_error(c, 500, "Out of memory (mock)", "server_error", NULL, NULL, NULL);
    }
    mock_reply_free(&r);       /* empty when mock_resp_start() took it */
    return status;
}

void mock_handle(struct mock_conn *c, const struct mock_http_req *req)
{
    bool get = mock_http_method_is(req, "GET");
    bool post = mock_http_method_is(req, "POST");
    const char *allow = "Allow: GET\r\n";
    int status = 200;

    c->srv->stats.requests++;
    if (mock_http_path_is(req, "/healthz")) {
        if (get)
            mock_respond(c, 200, "text/plain", NULL, "ok", 2);
        else
            status = 405;
    } else if (mock_http_path_is(req, "/v1/models") || mock_http_path_is(req, "/models")) {
        struct mock_buf b;
        mock_buf_init(&b);
        if (!get)
            status = 405;
        else if (!mock_models_json(&b))
            mock_respond(c, 200, "application/json", NULL, mock_buf_ptr(&b), mock_buf_size(&b));
        mock_buf_free(&b);
    } else if (mock_http_path_is(req, "/mock/stats")) {
        if (get)
            respond_stats(c);
        else
            status = 405;
    } else if (mock_http_path_is(req, "/v1/chat/completions") ||
               mock_http_path_is(req, "/chat/completions")) {
        allow = "Allow: POST\r\n";
        status = post ? chat(c, req) : 405;
    } else {
        char msg[160];
        status = 404;
        snprintf(msg, sizeof(msg), "Unknown request URL: %.*s %.*s. (mock-llm)",
                 (int)(req->method_len > 16 ? 16 : req->method_len), req->method,
                 (int)(req->path_len > 100 ? 100 : req->path_len), req->path);
        mock_respond_error(c, 404, msg, "invalid_request_error", NULL, "unknown_url", NULL);
    }
    if (status == 405)
        mock_respond_error(c, 405, "Method not allowed for this URL. (mock-llm)",
                           "invalid_request_error", NULL, "method_not_allowed", allow);
    if (sh_log_enabled(SH_LOG_DEBUG))
        sh_log(SH_LOG_DEBUG, "request", "method=%.*s path=\"%.*s\" status=%d",
               (int)req->method_len, req->method, (int)req->path_len, req->path, status);
}
