/* Incremental HTTP/1.x request parsing (pure: no I/O, no allocation) and status reasons. */
#include "http.h"
#include "sh_err.h"

#include <string.h>
#include <strings.h>

static int fail(struct mock_http_req *req, int status, const char *why)
{
    req->status = status;
    req->error = why;
    return SH_EPROTO;
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Next line in [p, end): sets *eol to the byte after '\n'; returns the length without the
 * line ending, or -1 when no '\n' is there yet. Bare LF is accepted as a line ending. */
static long next_line(const char *p, const char *end, const char **eol)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n;

    if (!nl)
        return -1;
    *eol = nl + 1;
    n = (size_t)(nl - p);
    if (n && p[n - 1] == '\r')
        n--;
    return (long)n;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static bool name_is(const char *name, size_t n, const char *lit)
{
    return strlen(lit) == n && !strncasecmp(name, lit, n);
}

/* Does the comma-separated header value contain 'tok' (case-insensitive)? */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        const char *s;
        size_t sl;

        while (j < n && v[j] != ',')
            j++;
        s = v + i;
        sl = j - i;
        trim(&s, &sl);
        if (sl == tl && !strncasecmp(s, tok, tl))
            return true;
        i = j + 1;
    }
    return false;
}

static int parse_request_line(const char *p, size_t n, struct mock_http_req *req)
{
    const char *sp1 = memchr(p, ' ', n);
    const char *sp2, *q, *end = p + n;

    if (!sp1 || sp1 == p)
        return fail(req, 400, "malformed request line");
    for (const char *m = p; m < sp1; m++)
        if (!is_tchar((unsigned char)*m))
            return fail(req, 400, "malformed method");
    sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1)
        return fail(req, 400, "malformed request line");
    if (sp1[1] != '/')
        return fail(req, 400, "request target must be a path");
    for (const char *t = sp1 + 1; t < sp2; t++)
        if ((unsigned char)*t <= 0x20 || *t == 0x7f)
            return fail(req, 400, "malformed request target");
    if ((size_t)(end - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0)
        return fail(req, 400, "malformed HTTP version");
    if (sp2[6] != '1' || sp2[7] != '.' || (sp2[8] != '0' && sp2[8] != '1'))
        return fail(req, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    req->method = p;
    req->method_len = (size_t)(sp1 - p);
    req->path = sp1 + 1;
    q = memchr(req->path, '?', (size_t)(sp2 - req->path));
    req->path_len = (size_t)((q ? q : sp2) - req->path);
    req->minor = sp2[8] - '0';
    return SH_OK;
}

static int parse_length(const char *v, size_t n, struct mock_http_req *req)
{
    size_t val = 0;

    if (!n)
        return fail(req, 400, "empty Content-Length");
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(req, 400, "malformed Content-Length");
        /* Anything past the body limit is rejected anyway; stop before overflow. */
        if (val > MOCK_HTTP_MAX_BODY)
            break;
        val = val * 10 + (size_t)(v[i] - '0');
    }
    if (req->has_length && req->content_length != val)
        return fail(req, 400, "conflicting Content-Length headers");
    req->has_length = true;
    req->content_length = val;
    return SH_OK;
}

/* One "name: value" line. */
static int parse_header(const char *p, size_t n, struct mock_http_req *req, bool *conn_close,
                        bool *conn_keep, bool *has_te)
{
    const char *colon = memchr(p, ':', n);
    const char *v;
    size_t nl, vl;

    if (p[0] == ' ' || p[0] == '\t')
        return fail(req, 400, "obsolete header line folding");
    if (!colon || colon == p)
        return fail(req, 400, "malformed header line");
    nl = (size_t)(colon - p);
    for (size_t i = 0; i < nl; i++)
        if (!is_tchar((unsigned char)p[i]))
            return fail(req, 400, "malformed header name");
    v = colon + 1;
    vl = n - nl - 1;
    trim(&v, &vl);
    if (name_is(p, nl, "content-length"))
        return parse_length(v, vl, req);
    if (name_is(p, nl, "transfer-encoding")) {
        *has_te = true;
    } else if (name_is(p, nl, "connection")) {
        *conn_close |= has_token(v, vl, "close");
        *conn_keep |= has_token(v, vl, "keep-alive");
    } else if (name_is(p, nl, "expect")) {
        req->expect_continue = vl == 12 && !strncasecmp(v, "100-continue", 12);
    } else if (name_is(p, nl, "x-mock-fault")) {
        req->fault = v;
        req->fault_len = vl;
    }
    return SH_OK;
}

int mock_http_parse(const char *buf, size_t len, struct mock_http_req *req)
{
    const char *p = buf, *end = buf + len, *eol;
    bool conn_close = false, conn_keep = false, has_te = false, first = true;
    long n;
    int rc;

    memset(req, 0, sizeof(*req));
    /* Tolerate stray CRLFs between pipelined requests (RFC 9112 section 2.2). */
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    for (;;) {
        n = next_line(p, end, &eol);
        if (n < 0) {
            if (len > MOCK_HTTP_MAX_HEAD)
                return fail(req, 431, "request head too large");
            return MOCK_HTTP_MORE;
        }
        if ((size_t)(eol - buf) > MOCK_HTTP_MAX_HEAD)
            return fail(req, 431, "request head too large");
        if (first) {
            if ((rc = parse_request_line(p, (size_t)n, req)))
                return rc;
            first = false;
        } else if (n == 0) {
            p = eol;
            break;
        } else if ((rc = parse_header(p, (size_t)n, req, &conn_close, &conn_keep, &has_te))) {
            return rc;
        }
        p = eol;
    }
    req->head_len = (size_t)(p - buf);
    req->body = p;
    req->keep_alive = req->minor == 1 ? !conn_close : (conn_keep && !conn_close);
    if (has_te)
        return fail(req, 411, "chunked request bodies are not supported; send Content-Length");
    if (!req->has_length) {
        if (mock_http_method_is(req, "POST") || mock_http_method_is(req, "PUT") ||
            mock_http_method_is(req, "PATCH"))
            return fail(req, 411, "Content-Length required");
        req->content_length = 0;
    }
    if (req->content_length > MOCK_HTTP_MAX_BODY)
        return fail(req, 413, "request body larger than 1 MiB");
    if (len - req->head_len < req->content_length)
        return MOCK_HTTP_MORE;
    req->total_len = req->head_len + req->content_length;
    return MOCK_HTTP_DONE;
}

bool mock_http_method_is(const struct mock_http_req *req, const char *method)
{
    size_t n = strlen(method);
    return req->method_len == n && !memcmp(req->method, method, n);
}

bool mock_http_path_is(const struct mock_http_req *req, const char *path)
{
    size_t n = strlen(path);
    return req->path_len == n && !memcmp(req->path, path, n);
}

const char *mock_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default:  return "Unknown";
    }
}
