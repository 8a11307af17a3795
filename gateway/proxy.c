/* Trusted reverse proxies: parsing GATEWAY_TRUSTED_PROXIES, matching an
 * address against it, and picking the client address out of
 * X-Forwarded-For. Everything is bounded by fixed buffers: the header is
 * client input (a trusted proxy appends to what the client sent). */
#include "proxy.h"
#include "sh_err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define ENTRY_MAX 64            /* "[v6]:port" and some slack; longer is not an address */

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The address in 's' (exactly 'n' bytes, no brackets, no port) as 16 bytes,
 * IPv4 mapped into IPv6. */
static bool ip_parse(const char *s, size_t n, uint8_t out[16])
{
    char buf[GW_IP_STRLEN];

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, out + 12) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        return true;
    }
    return inet_pton(AF_INET6, buf, out) == 1;
}

static bool is_mapped_v4(const uint8_t a[16])
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return !memcmp(a, pfx, sizeof(pfx));
}

/* Canonical text of 'a' into 'out' ("" when it does not fit). */
static void ip_format(const uint8_t a[16], char *out, size_t cap)
{
    const char *r = is_mapped_v4(a) ? inet_ntop(AF_INET, a + 12, out, (socklen_t)cap)
                                    : inet_ntop(AF_INET6, a, out, (socklen_t)cap);

    if (!r && cap)
        out[0] = '\0';
}

static bool in_range(const struct gw_cidr *c, const uint8_t a[16])
{
    unsigned full = c->bits / 8, rest = c->bits % 8;

    if (memcmp(c->net, a, full) != 0)
        return false;
    return rest == 0 || ((a[full] ^ c->net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool list_has(const struct gw_proxy_list *l, const uint8_t a[16])
{
    for (size_t i = 0; i < l->n; i++)
        if (in_range(&l->v[i], a))
            return true;
    return false;
}

/* One GATEWAY_TRUSTED_PROXIES entry "addr[/bits]" of 'n' bytes into 'c'. */
static bool cidr_parse(const char *s, size_t n, struct gw_cidr *c)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    unsigned bits = 0, max;

    if (!ip_parse(s, alen, c->net))
        return false;
    /* An IPv4 range written as such counts over the mapped form; "::ffff:0:0/96" is
     * written in IPv6 and counts as is. */
    max = memchr(s, ':', alen) ? 128 : 32;
    if (slash) {
        const char *d = slash + 1, *end = s + n;
        if (d == end || end - d > 3)
            return false;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return false;
            bits = bits * 10 + (unsigned)(*d - '0');
        }
        if (bits > max)
            return false;
    } else {
        bits = max;
    }
    c->bits = (uint8_t)(max == 32 ? bits + 96 : bits);
    for (unsigned i = c->bits; i < 128; i++)           /* clear the host bits */
        c->net[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
    return true;
}

int gw_proxy_list_parse(struct gw_proxy_list *l, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;

    memset(l, 0, sizeof(*l));
    while (p && *p) {
        const char *start, *end = strchr(p, ','), *e;

        start = p;
        e = end ? end : p + strlen(p);
        while (start < e && is_space(*start))
            start++;
        while (e > start && is_space(e[-1]))
            e--;
        if (e > start) {        /* empty entries ("a,,b", a trailing comma) are skipped */
            if (l->n == GW_PROXY_MAX) {
                snprintf(err, errlen, "more than %d entries", GW_PROXY_MAX);
                goto fail;
            }
            if (!cidr_parse(start, (size_t)(e - start), &l->v[l->n])) {
                snprintf(err, errlen, "\"%.*s\" is not an IP address or CIDR range",
                         (int)(e - start > 80 ? 80 : e - start), start);
                goto fail;
            }
            l->n++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return SH_OK;
fail:
    memset(l, 0, sizeof(*l));
    return SH_EINVAL;
}

bool gw_proxy_trusted(const struct gw_proxy_list *l, const char *ip)
{
    uint8_t a[16];

    return ip && ip_parse(ip, strlen(ip), a) && list_has(l, a);
}

/* A port: 1-5 digits from 'p' to 'end'. */
static bool port_ok(const char *p, const char *end)
{
    if (end - p < 1 || end - p > 5)
        return false;
    for (; p < end; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* One X-Forwarded-For entry ('n' bytes, blanks trimmed): "v4", "v4:port",
 * "v6", "[v6]" or "[v6]:port". */
static bool xff_entry_parse(const char *s, size_t n, uint8_t a[16])
{
    const char *end = s + n, *close, *colon;

    if (n == 0 || n > ENTRY_MAX)
        return false;
    if (s[0] == '[') {
        close = memchr(s, ']', n);
        if (!close || !memchr(s, ':', (size_t)(close - s)))
            return false;                               /* "[1.2.3.4]" is no form */
        if (close + 1 < end && (close[1] != ':' || !port_ok(close + 2, end)))
            return false;
        return ip_parse(s + 1, (size_t)(close - s) - 1, a);
    }
    colon = memchr(s, ':', n);
    if (colon && !memchr(colon + 1, ':', (size_t)(end - colon) - 1)) {
        if (!port_ok(colon + 1, end))                   /* one colon: "v4:port" */
            return false;
        n = (size_t)(colon - s);
    }
    return ip_parse(s, n, a);
}

bool gw_proxy_client_ip(const struct gw_proxy_list *l, const char *peer, const char *xff,
                        char *out, size_t cap)
{
    uint8_t pa[16], a[16];
    const char *e;
    size_t len;

    if (!cap)
        return false;
    if (!peer || !ip_parse(peer, strlen(peer), pa)) {
        snprintf(out, cap, "%s", peer ? peer : "");
        return false;
    }
    ip_format(pa, out, cap);
    if (!l->n || !xff || !list_has(l, pa))
        return false;
    len = strnlen(xff, GW_PROXY_XFF_MAX + 1);
    if (len == 0 || len > GW_PROXY_XFF_MAX)
        return false;
    /* From the right: each trusted proxy appended the address it saw. The first entry that
     * is not a trusted proxy is where the chain of trust ends; what lies left of it is the
     * client's to write and is never read. */
    for (e = xff + len;;) {
        const char *start = e, *s, *t;

        while (start > xff && start[-1] != ',')
            start--;
        for (s = start; s < e && is_space(*s); s++)
            ;
        for (t = e; t > s && is_space(t[-1]); t--)
            ;
        if (!xff_entry_parse(s, (size_t)(t - s), a))
            return false;                               /* malformed: the peer it is */
        if (!list_has(l, a))
            break;
        if (start == xff)
            break;              /* every entry is a trusted proxy: the farthest one */
        e = start - 1;          /* the comma before this entry */
    }
    ip_format(a, out, cap);
    return true;
}
