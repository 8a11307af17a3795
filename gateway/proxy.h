/* Trusted reverse proxies (GATEWAY_TRUSTED_PROXIES): a list of IPv4/IPv6
 * addresses and CIDR ranges, and the client address of a request that came
 * through them (X-Forwarded-For). Pure: no lws, no allocation. */
#ifndef GW_PROXY_H
#define GW_PROXY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_PROXY_MAX     64        /* entries of GATEWAY_TRUSTED_PROXIES */
#define GW_PROXY_XFF_MAX 1024      /* X-Forwarded-For bytes read: the right-hand end of it */
#define GW_PROXY_FRAG_MAX 4096     /* one header line (lws keeps no longer headers) */
#define GW_PROXY_FRAGS_MAX 256     /* header lines looked at (lws has fewer slots) */
#define GW_IP_STRLEN     46        /* a canonical address and its NUL (INET6_ADDRSTRLEN) */

/* One range. IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96),
 * so one comparison serves both families and a peer reported in either form
 * matches. */
struct gw_cidr {
    uint8_t net[16];            /* the network, host bits zero */
    uint8_t bits;               /* prefix length over the 128-bit form */
};

struct gw_proxy_list {
    struct gw_cidr v[GW_PROXY_MAX];
    size_t n;                   /* 0 = trust nobody */
};

/* Parse 'spec' ("10.0.0.0/8, 192.168.1.7, fd00::/8"; NULL or "" = empty)
 * into 'l'. A bare address is a /32 or /128; host bits below the prefix
 * are ignored (10.1.2.3/8 is 10.0.0.0/8). Returns 0, or SH_EINVAL with the
 * offending entry described in 'err' ('l' is then empty). */
int gw_proxy_list_parse(struct gw_proxy_list *l, const char *spec, char *err, size_t errlen);

/* Is 'ip' (a textual IPv4 or IPv6 address) inside one of the ranges of
 * 'l'? False for anything that is not an address. */
bool gw_proxy_trusted(const struct gw_proxy_list *l, const char *ip);

/* The client address of a request whose TCP peer is 'peer' and whose
 * X-Forwarded-For is 'xff' (NULL when absent), written canonically
 * (inet_ntop; IPv4-mapped IPv6 as IPv4) into 'out' (>= GW_IP_STRLEN).
 * Only when 'peer' is trusted does 'xff' count: its rightmost entry that
 * is not itself a trusted proxy is the client (the leftmost one when every
 * entry is trusted). An entry may be "a.b.c.d", "a.b.c.d:port", an IPv6
 * address or "[v6]" / "[v6]:port". A header that is empty, longer than
 * GW_PROXY_XFF_MAX or holds a malformed entry on the way is ignored.
 * Returns true when the address came from 'xff', false when it is 'peer'
 * (canonical when it parses, else copied as is, truncated to 'cap'). */
bool gw_proxy_client_ip(const struct gw_proxy_list *l, const char *peer, const char *xff,
                        char *out, size_t cap);

#endif
