/* A bounded FIFO of outgoing frames for one connection. Pure: no lws. */
#ifndef GW_OUTQ_H
#define GW_OUTQ_H
#include <stdbool.h>
#include <stddef.h>

struct gw_outq_item;

/* Embedded in each connection; gw_outq_init()/gw_outq_free(). Empty, it
 * owns no memory, so an idle connection pays only for this struct. */
struct gw_outq {
    struct gw_outq_item *head, *tail;
    size_t bytes;           /* memory charged: payloads, headroom, node overhead */
    size_t count;           /* frames queued */
    size_t max_bytes;       /* bound on 'bytes' (see gw_outq_push) */
    size_t headroom;        /* free bytes kept before each payload (LWS_PRE) */
};

/* Set up an empty queue. Allocates nothing. */
void gw_outq_init(struct gw_outq *q, size_t max_bytes, size_t headroom);
/* Append a copy of 'len' bytes. A frame that would take the queue past
 * max_bytes is refused with SH_EFULL (nothing queued) unless the queue is
 * empty, so one frame larger than the bound can still be sent to a client
 * that keeps up. Returns 0, SH_EFULL or SH_ENOMEM. */
int gw_outq_push(struct gw_outq *q, const void *data, size_t len);
/* The oldest frame's payload and its length, or NULL when empty. The
 * q->headroom bytes before the returned pointer belong to the caller until
 * gw_outq_pop() (lws_write writes its frame header there). */
unsigned char *gw_outq_peek(const struct gw_outq *q, size_t *len);
/* Drop the oldest frame. No-op when empty. */
void gw_outq_pop(struct gw_outq *q);
/* True when nothing is queued. */
bool gw_outq_empty(const struct gw_outq *q);
/* Drop everything; the queue stays usable. NULL-safe. */
void gw_outq_free(struct gw_outq *q);

#endif
