/* Clocks and timestamps. */
#ifndef SH_TIME_H
#define SH_TIME_H
#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch (for envelopes and logs). */
int64_t sh_now_ms(void);
/* Monotonic milliseconds / microseconds (for deadlines and latency). */
int64_t sh_mono_ms(void);
int64_t sh_mono_us(void);
/* Format 'ms' (epoch) as RFC 3339 UTC with milliseconds into 'buf'
 * ("2026-11-25T04:11:37.123Z"); 'len' >= 25. Returns 'buf'. */
char *sh_iso8601(int64_t ms, char *buf, size_t len);

#endif
