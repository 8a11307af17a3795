/* The allocation-free fast paths for the usual chunks of a streamed chat completion
 * (sh_oai_fast.c); sh_oai_client.c tries them before sh_oai_chunk_parse(). */
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

/* The other chunks of a streamed answer, also without jansson: a single choice (index 0) whose
 * delta holds at most "role" and "content" (strings; content may be null) with a finish_reason
 * string or null, and/or "usage" with integer prompt/completion/total_tokens, "choices" possibly
 * empty. Fills 'd' as sh_oai_chunk_parse() would (content, role, finish_reason, usage; no id or
 * model) with its strings in 'buf' ('cap' bytes), or returns false with 'd' untouched: the
 * caller then uses sh_oai_chunk_parse(). 'd' owns nothing. */
bool sh_oai_fast_meta(const char *data, size_t len, struct sh_oai_delta *d, char *buf,
                      size_t cap);

#endif
