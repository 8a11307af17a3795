/* Graceful-shutdown signal handling shared by every service. */
#ifndef SH_SIGNAL_H
#define SH_SIGNAL_H
#include <signal.h>

/* Set to 1 by the first SIGINT/SIGTERM; loops poll it (≤ 200 ms). */
extern volatile sig_atomic_t sh_stop;

/* Install SIGINT/SIGTERM handlers and ignore SIGPIPE. The first signal
 * sets sh_stop and calls 'wake' (may be NULL; it must be async-signal-safe,
 * e.g. a write to a pipe or lws_cancel_service); a second one exits at once
 * with status 1. Returns 0 or SH_EIO. */
int sh_signal_install(void (*wake)(void));

#endif
