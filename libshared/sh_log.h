/* Structured logging to stderr: key=value lines or JSON lines.
 *
 * sh_log(SH_LOG_INFO, "turn done", "session=%s turn=%s tokens=%d", ...)
 * prints  ts=... level=info svc=llm-worker msg="turn done" session=... turn=...
 * or, with LOG_FORMAT=json, {"ts":"...","level":"info","svc":"llm-worker",
 * "msg":"turn done","session":"...","turn":"...","tokens":12}.
 * Values with spaces must be double-quoted in the format ("k=\"%s\""). */
#ifndef SH_LOG_H
#define SH_LOG_H

enum sh_log_level { SH_LOG_DEBUG, SH_LOG_INFO, SH_LOG_WARN, SH_LOG_ERROR };

/* Set the service name and read LOG_LEVEL (debug|info|warn|error) and
 * LOG_FORMAT (text|json) from the environment. Call once from main(). */
void sh_log_init(const char *service);
/* True when 'level' would be printed (skip building costly fields). */
int sh_log_enabled(enum sh_log_level level);
/* Emit one line; 'kvfmt' may be NULL. Thread-safe (one write per line). */
void sh_log(enum sh_log_level level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
