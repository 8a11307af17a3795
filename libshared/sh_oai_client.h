/* Chat Completions client: many concurrent (streaming or not) requests in one thread on curl-multi. */
#ifndef SH_OAI_CLIENT_H
#define SH_OAI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_oai_chunk.h"

/* Client settings. Zero / NULL fields take the default in brackets. */
struct sh_oai_client_conf {
    const char *base_url;         /* e.g. "http://127.0.0.1:8090/v1"; "/chat/completions" is
                                   * appended. Required. */
    const char *api_key;          /* "Authorization: Bearer ..." unless NULL or "" */
    long connect_timeout_ms;      /* TCP+TLS connect, per attempt [10000] */
    long timeout_ms;              /* whole transfer, per attempt [600000]; < 0 disables */
    long idle_timeout_ms;         /* no byte received for this long, counted from the start of
                                   * each attempt [60000]; < 0 disables */
    int max_retries;              /* retries after the first attempt [4]; 0 takes the default,
                                   * so pass a negative value for "no retries" */
    long backoff_base_ms;         /* first retry delay before jitter [250] */
    long backoff_max_ms;          /* cap on a computed delay [8000]; raised to the base if
                                   * below it */
    long max_retry_after_ms;      /* a retry-after longer than this is not waited for:
                                   * the request fails instead [60000] */
    int max_transfers;            /* transfers running at once; more wait in a queue [64] */
    long max_host_connections;    /* CURLMOPT_MAX_HOST_CONNECTIONS, 0 = unlimited [0] */
    size_t max_event_bytes;       /* largest SSE event [1 MiB] */
    size_t max_body_bytes;        /* largest non-streaming body [16 MiB] */
};

/* Why a request ended. */
enum sh_oai_class {
    SH_OAI_OK = 0,
    SH_OAI_CANCELLED,             /* sh_oai_client_cancel() or destroy */
    SH_OAI_RETRIES_EXHAUSTED,     /* every attempt failed retryably; 'cause' says how */
    SH_OAI_RATE_LIMITED,          /* 429 (not quota) */
    SH_OAI_QUOTA,                 /* 429 insufficient_quota: not retried */
    SH_OAI_HTTP_4XX,              /* other 4xx: not retried */
    SH_OAI_HTTP_5XX,              /* 5xx */
    SH_OAI_NETWORK,               /* connect / send / receive failure */
    SH_OAI_TIMEOUT,               /* connect, overall or idle timeout */
    SH_OAI_PROTOCOL,              /* malformed body or SSE, oversized event */
    SH_OAI_CUT,                   /* 2xx stream ended without [DONE] or a finish_reason */
    SH_OAI_SERVER,                /* 2xx response carrying an "error" object */
};

/* Short static name of a class, e.g. "rate_limited". */
const char *sh_oai_class_name(enum sh_oai_class cls);

/* Delivered once per request. Every pointer is valid only during on_done. */
struct sh_oai_result {
    uint64_t req_id;
    bool ok;                      /* cls == SH_OAI_OK */
    enum sh_oai_class cls;
    enum sh_oai_class cause;      /* what the last attempt failed with (== cls unless
                                   * cls is RETRIES_EXHAUSTED or CANCELLED) */
    long http_status;             /* of the last attempt, 0 if none got that far */
    int attempts;                 /* transfers started, >= 0 (0: cancelled while queued) */
    bool delivered;               /* on_delta got content or tool fragments */
    const char *error_code;       /* OpenAI error.code or NULL */
    const char *error_type;       /* OpenAI error.type or NULL */
    const char *error_message;    /* OpenAI error.message or NULL */
    const char *detail;           /* transport detail (curl message), "" if none */
    const char *request_id;       /* x-request-id response header, "" if none */
    const char *content;          /* assistant text, "" if none */
    size_t content_len;
    const struct sh_oai_tool_call *tool_calls;  /* sorted by index, arguments parsed */
    size_t n_tool_calls;
    const char *finish_reason;    /* NULL if none arrived */
    bool has_usage;
    struct sh_oai_usage usage;
};

/* Callbacks run only inside sh_oai_client_poll() (and cancel/destroy for on_done), never from
 * another thread. They may call sh_oai_client_start() and sh_oai_client_cancel(); they must
 * not call poll or destroy. */
struct sh_oai_callbacks {
    /* A streamed chunk with content, tool fragments, a finish_reason or usage. 'd' and its
     * strings are valid during the call. Never called for non-streaming requests, unless the
     * server answered a streaming request with a whole JSON body: then once, with all of it. */
    void (*on_delta)(void *user, const struct sh_oai_delta *d);
    /* Exactly once per started request, after which nothing more is called for it. Required. */
    void (*on_done)(void *user, const struct sh_oai_result *res);
};

struct sh_oai_client;

/* Create a client; 'conf' is copied (strings too). Returns NULL on bad conf or no memory.
 * Call curl_global_init() once in the program before the first client. */
struct sh_oai_client *sh_oai_client_create(const struct sh_oai_client_conf *conf);

/* Cancel every request (on_done with SH_OAI_CANCELLED fires for each, here), then free.
 * NULL-safe. Not from inside a callback. */
void sh_oai_client_destroy(struct sh_oai_client *c);

/* Queue a POST of 'body' (JSON, copied) to <base_url>/chat/completions. It streams when the body
 * has "stream": true. 'cb' is copied; 'user' is passed back. Stores the request's id (never 0) in
 * '*req_id_out' if not NULL. Returns 0, after which on_done is guaranteed exactly once; or
 * SH_EINVAL (body not a JSON object, on_done missing), SH_EFORBID (client shutting down),
 * SH_ENOMEM, with no callback at all. No callback runs before start returns. */
int sh_oai_client_start(struct sh_oai_client *c, const char *body,
                        const struct sh_oai_callbacks *cb, void *user, uint64_t *req_id_out);
/* Like sh_oai_client_start() for a body of 'len' bytes that the caller built itself (say with
 * sh_oai_request_build()) and knows to be a JSON object: it is not parsed again, and 'stream'
 * says whether it asks for streaming. */
int sh_oai_client_start_built(struct sh_oai_client *c, const char *body, size_t len, bool stream,
                              const struct sh_oai_callbacks *cb, void *user,
                              uint64_t *req_id_out);

/* Abort a request, whether running, waiting for a retry or queued; no on_delta follows. Its
 * on_done (cls SH_OAI_CANCELLED, with whatever content had arrived) runs before cancel returns;
 * when cancel is called from inside a callback, it runs later in the same poll() instead, never
 * nested in another callback. Returns 0, or SH_ENOTFOUND when the id is unknown or finished. */
int sh_oai_client_cancel(struct sh_oai_client *c, uint64_t req_id);

/* Wait up to 'timeout_ms' (0 = don't wait) for network activity or a timer, move every transfer
 * forward and run the callbacks that are due. Returns early after doing work, so call it in a
 * loop. Returns the number of requests finished during the call, SH_EIO when curl fails, or
 * SH_EFORBID when called from inside a callback. */
int sh_oai_client_poll(struct sh_oai_client *c, int timeout_ms);

/* Make a poll() blocked in another thread return soon. The only thread-safe call. */
int sh_oai_client_wakeup(struct sh_oai_client *c);

/* Requests started whose on_done has not run yet (running, queued, waiting for a retry, or
 * finished with on_done still to be delivered by the next poll). */
size_t sh_oai_client_active(const struct sh_oai_client *c);

#endif
