/* Incremental HTTP/1.x request parsing (pure: no I/O, no allocation) and status reasons. */
#ifndef MOCK_HTTP_H
#define MOCK_HTTP_H
#include <stdbool.h>
#include <stddef.h>

#define MOCK_HTTP_MAX_HEAD ((size_t)16 * 1024)   /* request line + headers */
#define MOCK_HTTP_MAX_BODY ((size_t)1024 * 1024) /* chat request bodies */

/* Results of mock_http_parse() besides negative errors. */
enum { MOCK_HTTP_MORE = 0, MOCK_HTTP_DONE = 1 };

/* One parsed request. Every pointer points into the caller's buffer and is valid only while
 * that buffer is unchanged; strings are not NUL-terminated (use the _len fields). */
struct mock_http_req {
    const char *method;
    size_t method_len;
    const char *path;          /* target without "?query" */
    size_t path_len;
    int minor;                 /* HTTP/1.<minor> */
    bool keep_alive;           /* after version default and Connection: */
    bool has_length;           /* Content-Length was present */
    size_t content_length;
    bool expect_continue;      /* Expect: 100-continue */
    const char *fault;         /* X-Mock-Fault value, or NULL */
    size_t fault_len;
    size_t head_len;           /* bytes up to and including the blank line; 0 = not yet */
    const char *body;          /* head end; content_length bytes when DONE */
    size_t total_len;          /* head_len + content_length when DONE */
    int status;                /* on error: the status to answer with (400, 411, 413, ...) */
    const char *error;         /* on error: short static reason */
};

/* Parse the request at the start of buf[0, len). Returns MOCK_HTTP_DONE when the whole request
 * (head and body) is there, MOCK_HTTP_MORE when more bytes are needed (req->head_len != 0 once
 * the head is complete, so the caller can answer Expect: 100-continue), or SH_EPROTO with
 * req->status/error set for a request that must be rejected and the connection closed.
 * Leading blank lines are skipped and counted in head_len. POST/PUT/PATCH need
 * Content-Length (411 otherwise, also for Transfer-Encoding); bodies over MOCK_HTTP_MAX_BODY
 * give 413 as soon as the head is read. */
int mock_http_parse(const char *buf, size_t len, struct mock_http_req *req);

/* Case-sensitive method and exact path comparisons against NUL-terminated literals. */
bool mock_http_method_is(const struct mock_http_req *req, const char *method);
bool mock_http_path_is(const struct mock_http_req *req, const char *path);

/* Reason phrase for a status code ("Unknown" for codes this server never sends). */
const char *mock_http_reason(int status);

#endif
