/* A bounded FIFO of outgoing frames for one connection: a singly linked
 * list of heap nodes, each with headroom for the WebSocket frame header. */
#include "outq.h"
#include "sh_err.h"

#include <stdlib.h>
#include <string.h>

struct gw_outq_item {
    struct gw_outq_item *next;
    size_t len;                 /* payload bytes after the headroom */
    unsigned char buf[];        /* headroom, then payload */
};

static size_t item_cost(const struct gw_outq *q, size_t len)
{
    return sizeof(struct gw_outq_item) + q->headroom + len;
}

void gw_outq_init(struct gw_outq *q, size_t max_bytes, size_t headroom)
{
    memset(q, 0, sizeof(*q));
    q->max_bytes = max_bytes;
    q->headroom = headroom;
}

int gw_outq_push(struct gw_outq *q, const void *data, size_t len)
{
    size_t cost = item_cost(q, len);
    struct gw_outq_item *it;

    if (q->head && (cost > q->max_bytes || q->bytes > q->max_bytes - cost))
        return SH_EFULL;
    it = malloc(cost);
    if (!it)
        return SH_ENOMEM;
    it->next = NULL;
    it->len = len;
    memcpy(it->buf + q->headroom, data, len);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->bytes += cost;
    q->count++;
    return SH_OK;
}

unsigned char *gw_outq_peek(const struct gw_outq *q, size_t *len)
{
    if (!q->head)
        return NULL;
    *len = q->head->len;
    return q->head->buf + q->headroom;
}

void gw_outq_pop(struct gw_outq *q)
{
    struct gw_outq_item *it = q->head;

    if (!it)
        return;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= item_cost(q, it->len);
    q->count--;
    free(it);
}

bool gw_outq_empty(const struct gw_outq *q)
{
    return q->head == NULL;
}

void gw_outq_free(struct gw_outq *q)
{
    if (!q)
        return;
    while (q->head)
        gw_outq_pop(q);
}
