/* Table-driven configuration: environment first, --flags for development.
 *
 * Each service declares one table of struct sh_cfg_item; sh_config_load()
 * fills the destinations from defaults, then the environment, then
 * --name=value flags, checking types and ranges. */
#ifndef SH_CONFIG_H
#define SH_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sh_cfg_type { SH_CFG_STR, SH_CFG_INT, SH_CFG_BOOL };

struct sh_cfg_item {
    const char *name;       /* flag name: --name=value */
    const char *env;        /* environment variable */
    enum sh_cfg_type type;
    const char *def;        /* default as text; NULL = empty string / 0 */
    int64_t min, max;       /* range for SH_CFG_INT (ignored when min > max) */
    bool secret;            /* never printed by sh_config_log() */
    const char *help;       /* one line for --help and the README table */
    void *dst;              /* char ** (malloc'd, free with sh_config_free),
                               int64_t *, or bool * */
};

/* Fill every item's destination. Returns 0, 1 when --help was printed
 * (caller exits 0), or SH_EINVAL with a one-line reason in 'err'. */
int sh_config_load(const struct sh_cfg_item *items, size_t n,
                   int argc, char **argv, char *err, size_t errlen);
/* Free the strings sh_config_load() allocated. Safe to call twice. */
void sh_config_free(const struct sh_cfg_item *items, size_t n);
/* Print a usage table (flag, env, default, help) to 'f'. */
void sh_config_usage(FILE *f, const char *prog,
                     const struct sh_cfg_item *items, size_t n);
/* Log the effective configuration (secrets masked) at debug level. */
void sh_config_log(const struct sh_cfg_item *items, size_t n);

#endif
