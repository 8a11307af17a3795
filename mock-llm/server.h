/* The mock's event loop: one thread, epoll, nonblocking sockets, a timer heap for pacing. */
#ifndef MOCK_SERVER_H
#define MOCK_SERVER_H
#include <signal.h>

#include "config.h"

struct mock_server;

/* Bind and listen as 'cfg' says ('cfg' is borrowed and must outlive the server). Returns the
 * server, or NULL with a one-line reason in 'err'. Free with mock_server_destroy(). */
struct mock_server *mock_server_create(const struct mock_config *cfg, char *err, size_t errlen);
/* The bound TCP port (the chosen one when the config said 0). */
int mock_server_port(const struct mock_server *s);
/* Serve until '*stop' becomes non-zero, then stop accepting, let answers in flight finish for
 * up to cfg->drain_ms, and close every connection. Returns 0, or SH_EIO if epoll failed. */
int mock_server_run(struct mock_server *s, volatile sig_atomic_t *stop);
/* Close everything and free 's'; NULL-safe. */
void mock_server_destroy(struct mock_server *s);

#endif
