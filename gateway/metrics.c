/* Gateway metrics (chat_gateway_*): registered once at start, updated lock-free by the
 * WebSocket code, rendered by GET /metrics (http.c). */
#include "metrics.h"
#include "sh_err.h"

#include <stddef.h>

int gw_metrics_init(struct gw_metrics *m)
{
    struct sh_metrics *r = sh_metrics_create();

    if (!r)
        return SH_ENOMEM;
    m->reg = r;
    m->connections = sh_metrics_gauge(r, "chat_gateway_connections",
                                      "WebSocket connections open.", NULL);
    m->messages = sh_metrics_counter(r, "chat_gateway_messages_received_total",
                                     "Text messages received from clients.", NULL);
    m->frames = sh_metrics_counter(r, "chat_gateway_frames_sent_total",
                                   "WebSocket frames written to clients.", NULL);
    m->errors = sh_metrics_counter(r, "chat_gateway_errors_total",
                                   "Error frames sent to clients, by code.", "code");
    m->outq_closes = sh_metrics_counter(r, "chat_gateway_outq_full_closes_total",
                                        "Connections closed because the client did not read "
                                        "(outbound queue full).", NULL);
    if (!m->connections || !m->messages || !m->frames || !m->errors || !m->outq_closes) {
        gw_metrics_free(m);
        return SH_ENOMEM;
    }
    return SH_OK;
}

void gw_metrics_free(struct gw_metrics *m)
{
    if (!m)
        return;
    sh_metrics_destroy(m->reg);
    m->reg = NULL;
    m->connections = m->messages = m->frames = m->errors = m->outq_closes = NULL;
}

void gw_metrics_error(struct gw_metrics *m, const char *code)
{
    sh_counter_inc(sh_metric_child(m->errors, code));
}
