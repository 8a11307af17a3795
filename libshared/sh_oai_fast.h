/* The allocation-free fast path for plain content chunks of a streamed chat completion
 * (sh_oai_fast.c); sh_oai_client.c tries it before sh_oai_chunk_parse(). */
#ifndef SH_OAI_FAST_H
#define SH_OAI_FAST_H
#include <stdbool.h>
#include <stddef.h>

#include "sh_oai_chunk.h"

/* Fill 'd' from 'data' when it is a valid JSON chunk whose only choice carries nothing but
 * delta.content (a string or null), finish_reason null and no usage or error. Returns false,
 * with 'd' untouched, for anything else: the caller then uses sh_oai_chunk_parse().
 * d->content is NUL-terminated, in 'buf' (room for 'cap' bytes) or, when the content does not
 * fit, in '*scratch' (malloc'd; the caller frees it). 'd' owns nothing: no
 * sh_oai_delta_free() needed. */
bool sh_oai_fast_chunk(const char *data, size_t len, struct sh_oai_delta *d, char *buf,
                       size_t cap, char **scratch);

#endif
