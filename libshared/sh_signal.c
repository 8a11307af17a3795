/* Graceful-shutdown signal handling shared by every service. */
#include "sh_signal.h"
#include "sh_err.h"

#include <string.h>
#include <unistd.h>

volatile sig_atomic_t sh_stop;
static void (*wake_fn)(void);

static void on_signal(int sig)
{
    (void)sig;
    if (sh_stop)
        _exit(1);      /* second signal: the operator wants out now */
    sh_stop = 1;
    if (wake_fn)
        wake_fn();
}

int sh_signal_install(void (*wake)(void))
{
    struct sigaction sa;

    wake_fn = wake;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
        return SH_EIO;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL))
        return SH_EIO;
    return SH_OK;
}
