/* Plain HTTP on the gateway port: /healthz, /readyz, /metrics, the read API under
 * /api/ (api.c) and the static web UI from GATEWAY_STATIC_DIR, confined to
 * that folder. */
#include "http.h"
#include "api.h"
#include "kafka_bridge.h"
#include "sh_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const struct {
    const char *ext, *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".wasm", "application/wasm"},
    {".webmanifest", "application/manifest+json"},
};

static const char *mime_type(const char *file)
{
    const char *dot = strrchr(file, '.');
    const char *slash = strrchr(file, '/');

    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
            if (!strcasecmp(dot, mime_types[i].ext))
                return mime_types[i].type;
    return "application/octet-stream";
}

int gw_http_static_init(struct gw_app *app, const char *dir)
{
    struct stat st;

    app->static_root[0] = '\0';
    if (!dir || !*dir || !realpath(dir, app->static_root) || stat(app->static_root, &st) ||
        !S_ISDIR(st.st_mode)) {
        app->static_root[0] = '\0';
        sh_log(SH_LOG_DEBUG, "static files not served", "dir=\"%s\"", dir ? dir : "");
        return 0;
    }
    sh_log(SH_LOG_INFO, "serving static files", "dir=\"%s\"", app->static_root);
    return 0;
}

/* Send a complete short response (headers and body in one write), then
 * let the connection take its next request. */
static int respond(struct lws *wsi, unsigned int status, const char *body)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start;
    unsigned char *end = buf + sizeof(buf) - 1;
    size_t blen = strlen(body);

    if (lws_add_http_common_headers(wsi, status, "text/plain; charset=utf-8", blen, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < blen)
        return -1;
    memcpy(p, body, blen);
    p += blen;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP) != (int)(p - start))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* GET /metrics: the registry in Prometheus text format, in one write (lws buffers what
 * the socket does not take at once). */
static int respond_metrics(struct lws *wsi, struct gw_app *app)
{
    static const char ctype[] = "text/plain; version=0.0.4; charset=utf-8";
    unsigned char *buf = NULL, *start, *p, *end;
    char *text = NULL;
    size_t len = 0;
    int rc = -1;

    if (!app->metrics.reg || sh_metrics_render(app->metrics.reg, &text, &len))
        return respond(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "metrics unavailable\n");
    buf = malloc(LWS_PRE + 512 + len);
    if (!buf)
        goto out;
    start = p = buf + LWS_PRE;
    end = start + 512 + len;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, ctype, len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < len)
        goto out;
    memcpy(p, text, len);
    p += len;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP) != (int)(p - start))
        goto out;
    rc = lws_http_transaction_completed(wsi) ? -1 : 0;
out:
    free(buf);
    free(text);
    return rc;
}

/* Map a URL path to a regular file inside the static root, trying
 * <path>, <path>/index.html and <path>.html (static-export layouts).
 * Returns 0 with 'out' filled, or -1. */
static int resolve_static(const struct gw_app *app, const char *path, char *out, size_t cap)
{
    static const char *const suffixes[] = {"", "/index.html", ".html"};
    size_t rlen = strlen(app->static_root);
    char cand[PATH_MAX], real[PATH_MAX];
    struct stat st;

    /* lws already collapses "." and ".." segments; refuse anything odd
     * anyway, and check the resolved path below (symlinks). */
    if (path[0] != '/' || strstr(path, "/..") || strchr(path, '\\'))
        return -1;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        int n = snprintf(cand, sizeof(cand), "%s%s%s", app->static_root,
                         strcmp(path, "/") ? path : "", suffixes[i]);
        if (n < 0 || (size_t)n >= sizeof(cand) || !realpath(cand, real))
            continue;
        if (strncmp(real, app->static_root, rlen) != 0 || (real[rlen] != '/' && real[rlen]))
            continue;                       /* escaped the root */
        if (stat(real, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (strlen(real) >= cap)
            return -1;
        memcpy(out, real, strlen(real) + 1);
        return 0;
    }
    return -1;
}

int gw_http_request(struct lws *wsi, struct gw_app *app, const char *path)
{
    char file[PATH_MAX];
    int n;

    if (!strncmp(path, "/api/", 5) || !strcmp(path, "/api"))
        return gw_api_request(wsi, app, path);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (!strcmp(path, "/healthz"))
        return respond(wsi, HTTP_STATUS_OK, "ok\n");
    if (!strcmp(path, "/readyz")) {
        if (!app->shutting_down && gw_bridge_ready(app->bridge))
            return respond(wsi, HTTP_STATUS_OK, "ready\n");
        return respond(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "not ready\n");
    }
    if (!strcmp(path, "/metrics"))
        return respond_metrics(wsi, app);
    if (!app->static_root[0] || resolve_static(app, path, file, sizeof(file)) != 0)
        return respond(wsi, HTTP_STATUS_NOT_FOUND, "not found\n");
    n = lws_serve_http_file(wsi, file, mime_type(file), NULL, 0);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
        return -1;
    return 0;
}
