/* A small HTTP/1.1 admin server on its own thread: GET /healthz, /readyz
 * and /metrics for orchestrators and Prometheus.
 *
 * One request per connection (answered with "Connection: close"), served
 * one connection at a time; a client gets SH_ADMIN_IO_MS to send its
 * request and read the answer (then up to 500 ms to close), so a stuck
 * client delays the others by at most that. A request head larger than
 * SH_ADMIN_MAX_REQUEST bytes gets 431; a malformed one 400.
 *
 *   GET /healthz  200 "ok": the process runs (liveness)
 *   GET /readyz   the service's readiness callback: 200 "ready", or 503
 *                 "not ready: <reason>" (no callback: always ready)
 *   GET /metrics  the sh_metrics registry in Prometheus text format
 *                 (404 when the server has no registry)
 *   other paths 404, other methods 405 (HEAD is answered like GET, without a body). */
#ifndef SH_ADMIN_H
#define SH_ADMIN_H
#include <stddef.h>

#include "sh_metrics.h"

#define SH_ADMIN_MAX_REQUEST 8192
#define SH_ADMIN_IO_MS 2000

struct sh_admin;

/* Readiness: return 0 when ready; otherwise nonzero with a short reason
 * (one line, e.g. "kafka not connected") written into 'reason'
 * ('reason_len' bytes, NUL-terminated; it starts empty). Runs on the admin
 * thread, so it must only read thread-safe state (atomics, or its own lock),
 * and return promptly. */
typedef int (*sh_admin_ready_fn)(void *ctx, char *reason, size_t reason_len);

/* Bind 'host' ("0.0.0.0" when NULL; numeric IPv4/IPv6 or a name) on 'port'
 * (0: an ephemeral port, see sh_admin_port()), listen, and start the server
 * thread. 'metrics' (may be NULL) and 'ready'/'ready_ctx' (may be NULL) are
 * borrowed and must outlive the server. Returns NULL with a one-line
 * reason in 'err' when the address cannot be bound or a resource fails.
 * Stop and free with sh_admin_destroy(). */
struct sh_admin *sh_admin_create(const char *host, int port, struct sh_metrics *metrics,
                                 sh_admin_ready_fn ready, void *ready_ctx, char *err,
                                 size_t errlen);
/* The TCP port the server listens on (the ephemeral one when created with
 * port 0), or -1 for NULL. */
int sh_admin_port(const struct sh_admin *a);
/* Stop the thread (at once: it is woken, and polls with <= 200 ms timeouts
 * besides), close every socket and free 'a'. The connection in progress, if
 * any, is dropped. NULL-safe. */
void sh_admin_destroy(struct sh_admin *a);

/* For a service's main(): the admin server as configured. With 'port' < 0
 * (disabled) sets '*out' to NULL and returns 0. Otherwise sh_admin_create()
 * with the same arguments; on success logs "admin listening" with host= and
 * port= (the bound port: tests and operators read an ephemeral one from this
 * line), sets '*out' and returns 0; on failure logs "admin server" with the
 * reason at error level, sets '*out' to NULL and returns SH_EIO. Unlike the
 * rest of this module it logs, because it stands in for main(), where the
 * failure is handled. The caller frees '*out' with sh_admin_destroy(). */
int sh_admin_start(const char *host, int port, struct sh_metrics *metrics,
                   sh_admin_ready_fn ready, void *ready_ctx, struct sh_admin **out);

#endif
