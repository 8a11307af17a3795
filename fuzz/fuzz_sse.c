/* libFuzzer target: the incremental SSE parser (libshared/sh_sse.c).
 * The first two input bytes pick two split points; the rest is the stream.
 * The stream is parsed three ways - whole, in three chunks at those points,
 * and one byte at a time - and all three must dispatch the same events and
 * end in the same state, so chunk boundaries (inside "\r\n", a BOM, a field
 * name) cannot change what a stream means. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sh_err.h"
#include "sh_sse.h"

#define MAX_EVENT 4096                  /* small, so the size limit is reachable */

/* A running digest of every dispatched event, with the stop rule below. */
struct trace {
    uint64_t hash;
    unsigned events;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;      /* FNV-1a */
    return (h ^ 0xff) * 1099511628211ULL;       /* field separator */
}

static int on_event(void *user, const struct sh_sse_event *ev)
{
    struct trace *t = user;

    if (!ev->type || !ev->data || !ev->id || ev->data[ev->data_len] != '\0' ||
        strlen(ev->id) > MAX_EVENT)
        abort();
    t->hash = mix(t->hash, ev->type, strlen(ev->type));
    t->hash = mix(t->hash, ev->data, ev->data_len);
    t->hash = mix(t->hash, ev->id, strlen(ev->id));
    t->events++;
    /* A callback may stop the parser; the stop must land at the same event. */
    return ev->data_len == 4 && !memcmp(ev->data, "STOP", 4) ? 1 : 0;
}

/* Parse 'buf' fed in pieces ending at 'cuts' (ascending, last == len). */
static void run(const char *buf, const size_t *cuts, size_t ncuts, struct trace *t, int *rc,
                long *retry)
{
    struct sh_sse_parser p;
    struct trace saved;
    size_t from = 0;

    memset(t, 0, sizeof(*t));
    sh_sse_init(&p, MAX_EVENT, on_event, t);
    *rc = 0;
    for (size_t i = 0; i < ncuts && *rc == 0; i++) {
        *rc = sh_sse_feed(&p, buf + from, cuts[i] - from);
        from = cuts[i];
    }
    if (*rc == 0)
        *rc = sh_sse_finish(&p);
    *retry = sh_sse_retry_ms(&p);
    /* Reuse after reset must behave like a fresh parser (the trace is left as it was). */
    saved = *t;
    sh_sse_reset(&p);
    if (sh_sse_feed(&p, "data: x\n\n", 9) != 0 || t->events != saved.events + 1 ||
        sh_sse_retry_ms(&p) != -1)
        abort();
    *t = saved;
    sh_sse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace whole, split, bytes;
    int rc_whole, rc_split, rc_bytes;
    long rt_whole, rt_split, rt_bytes;
    size_t cuts[3], len, a, b, *one;

    if (size < 2 || size > 64 * 1024)
        return 0;
    len = size - 2;
    a = len ? data[0] % (len + 1) : 0;
    b = len ? (a + data[1] * 7u) % (len + 1) : 0;
    if (b < a) {
        size_t tmp = a;
        a = b;
        b = tmp;
    }
    data += 2;
    cuts[0] = a;
    cuts[1] = b;
    cuts[2] = len;
    run((const char *)data, &len, 1, &whole, &rc_whole, &rt_whole);
    run((const char *)data, cuts, 3, &split, &rc_split, &rt_split);
    if (rc_whole != rc_split || whole.hash != split.hash || whole.events != split.events ||
        rt_whole != rt_split)
        abort();
    if (len <= 1024) {                  /* byte-wise feeding is slow: short inputs only */
        one = malloc((len ? len : 1) * sizeof(*one));
        if (!one)
            return 0;
        for (size_t i = 0; i < len; i++)
            one[i] = i + 1;
        run((const char *)data, one, len, &bytes, &rc_bytes, &rt_bytes);
        free(one);
        if (rc_whole != rc_bytes || whole.hash != bytes.hash || rt_whole != rt_bytes)
            abort();
    }
    if (rc_whole != 0 && rc_whole != 1 && rc_whole != SH_ETOOBIG)
        abort();
    return 0;
}
