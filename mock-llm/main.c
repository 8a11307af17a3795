/* mock-llm: an OpenAI-compatible MOCK chat completions server (canned answers, not a model) — wiring only. */
#include "config.h"
#include "server.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sh_signal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

/* Each connection is one descriptor: lift the soft limit towards max_conns. */
static void raise_fd_limit(int64_t max_conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_conns + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)max_conns)
        sh_log(SH_LOG_WARN, "descriptor limit below max_conns", "nofile=%llu max_conns=%lld",
               (unsigned long long)rl.rlim_cur, (long long)max_conns);
}

int main(int argc, char **argv)
{
    struct mock_config cfg;
    struct mock_server *srv = NULL;
    char err[256] = "";
    int rc, status = EXIT_FAILURE;

    sh_log_init("mock-llm");
    rc = mock_config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1) {
        status = EXIT_SUCCESS;
        goto out;
    }
    if (rc) {
        sh_log(SH_LOG_ERROR, "invalid configuration", "error=\"%s\"", err[0] ? err : sh_strerror(rc));
        goto out;
    }
    if (sh_signal_install(NULL)) {
        sh_log(SH_LOG_ERROR, "cannot install signal handlers", NULL);
        goto out;
    }
    raise_fd_limit(cfg.max_conns);
    if (!(srv = mock_server_create(&cfg, err, sizeof(err)))) {
        sh_log(SH_LOG_ERROR, "cannot start", "error=\"%s\"", err);
        goto out;
    }
    sh_log(SH_LOG_INFO, "MOCK LLM server: canned deterministic answers, NOT a language model",
           "mock=true model=none host=%s port=%d tokens_per_sec=%lld ttft_ms=%lld faults=\"%s\" "
           "seed=%lld max_conns=%lld", cfg.host, mock_server_port(srv),
           (long long)cfg.tokens_per_sec, (long long)cfg.ttft_ms, cfg.faults,
           (long long)cfg.seed, (long long)cfg.max_conns);
    /* Test harnesses read the port from this line (MOCK_LLM_PORT=0 picks a free one). */
    printf("listening port=%d\n", mock_server_port(srv));
    fflush(stdout);
    if (mock_server_run(srv, &sh_stop) == SH_OK)
        status = EXIT_SUCCESS;
    sh_log(SH_LOG_INFO, "stopped", "status=%d", status);
out:
    mock_server_destroy(srv);
    mock_config_free(&cfg);
    return status;
}
