/* UUID helpers: time-ordered v7 ids for events, validation for input. */
#include "sh_uuid.h"
#include "sh_time.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static void format(const uint8_t b[16], char out[SH_UUID_LEN + 1]);

void sh_uuid_v7(char out[SH_UUID_LEN + 1])
{
    uint8_t b[16];
    uint64_t ms = (uint64_t)sh_now_ms();

    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x70);     /* version 7 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
    format(b, out);
}

/* By hand: snprintf costs ~6k instructions, and a uuid is formatted per token frame. */
static void format(const uint8_t b[16], char out[SH_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

/* 64-bit FNV-1a over 'base' '\0' 'salt', continued from 'h'. */
static uint64_t fnv(uint64_t h, const char *base, const char *salt)
{
    for (const char *p = base; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (const char *p = salt; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    /* final avalanche (splitmix64) so nearby inputs differ in every bit */
    h ^= h >> 30; h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27; h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

void sh_uuid_derive(const char *base, const char *salt, char out[SH_UUID_LEN + 1])
{
    uint64_t hi = fnv(1469598103934665603ULL, base, salt);
    uint64_t lo = fnv(0x84222325cbf29ce4ULL, base, salt);
    uint8_t b[16];

    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(hi >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x80);     /* version 8: custom */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    format(b, out);
}

bool sh_uuid_valid(const char *s)
{
    if (!s || strlen(s) != SH_UUID_LEN)
        return false;
    for (int i = 0; i < SH_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}
