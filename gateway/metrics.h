/* Gateway metrics (chat_gateway_*), served as GET /metrics on the gateway port. Updated
 * from the lws thread only; rendered there too. */
#ifndef GW_METRICS_H
#define GW_METRICS_H
#include "sh_metrics.h"

/* Every pointer may be NULL (not initialised): the sh_* updates are then no-ops. */
struct gw_metrics {
    struct sh_metrics *reg;
    struct sh_metric *connections;      /* chat_gateway_connections (gauge) */
    struct sh_metric *messages;         /* chat_gateway_messages_received_total */
    struct sh_metric *frames;           /* chat_gateway_frames_sent_total */
    struct sh_metric *errors;           /* chat_gateway_errors_total{code} */
    struct sh_metric *outq_closes;      /* chat_gateway_outq_full_closes_total */
};

/* Create the registry and every family. Returns 0 or SH_ENOMEM (then every update is a
 * no-op and /metrics answers 503). Free with gw_metrics_free(). */
int gw_metrics_init(struct gw_metrics *m);
/* Free the registry. NULL-safe, may be called twice. */
void gw_metrics_free(struct gw_metrics *m);
/* Count one error frame sent with 'code' (the protocol's fixed set of codes). */
void gw_metrics_error(struct gw_metrics *m, const char *code);

#endif
