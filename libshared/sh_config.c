/* Table-driven configuration: environment first, --flags for development. */
#include "sh_config.h"
#include "sh_err.h"
#include "sh_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return SH_EINVAL;
    *out = v;
    return SH_OK;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on")) {
        *out = true;
        return SH_OK;
    }
    if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off") || !*s) {
        *out = false;
        return SH_OK;
    }
    return SH_EINVAL;
}

/* Store text 'val' into item's destination, checking type and range. */
static int assign(const struct sh_cfg_item *it, const char *val, const char *from,
                  char *err, size_t errlen)
{
    int64_t iv;

    switch (it->type) {
    case SH_CFG_STR: {
        char **dst = it->dst;
        char *copy = strdup(val);
        if (!copy)
            return SH_ENOMEM;
        free(*dst);
        *dst = copy;
        return SH_OK;
    }
    case SH_CFG_INT:
        if (parse_int(val, &iv)) {
            snprintf(err, errlen, "%s: %s=\"%s\" is not an integer", from, it->env, val);
            return SH_EINVAL;
        }
        if (it->min <= it->max && (iv < it->min || iv > it->max)) {
            snprintf(err, errlen, "%s: %s=%lld is outside [%lld, %lld]", from, it->env,
                     (long long)iv, (long long)it->min, (long long)it->max);
            return SH_EINVAL;
        }
        *(int64_t *)it->dst = iv;
        return SH_OK;
    case SH_CFG_BOOL:
        if (parse_bool(val, it->dst)) {
            snprintf(err, errlen, "%s: %s=\"%s\" is not a boolean", from, it->env, val);
            return SH_EINVAL;
        }
        return SH_OK;
    }
    return SH_EINVAL;
}

int sh_config_load(const struct sh_cfg_item *items, size_t n,
                   int argc, char **argv, char *err, size_t errlen)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(items[i].env);
        const char *def = items[i].def ? items[i].def : (items[i].type == SH_CFG_STR ? "" : "0");
        if ((rc = assign(&items[i], def, "default", err, errlen)))
            return rc;
        if (v && (rc = assign(&items[i], v, "environment", err, errlen)))
            return rc;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        const char *eq;
        size_t i;

        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            sh_config_usage(stdout, argv[0], items, n);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0 || !(eq = strchr(arg, '='))) {
            snprintf(err, errlen, "unexpected argument \"%s\" (use --name=value)", arg);
            return SH_EINVAL;
        }
        for (i = 0; i < n; i++) {
            size_t len = strlen(items[i].name);
            if ((size_t)(eq - arg - 2) == len && !strncmp(arg + 2, items[i].name, len))
                break;
        }
        if (i == n) {
            snprintf(err, errlen, "unknown flag \"%.*s\"", (int)(eq - arg), arg);
            return SH_EINVAL;
        }
        if ((rc = assign(&items[i], eq + 1, "flag", err, errlen)))
            return rc;
    }
    return SH_OK;
}

void sh_config_free(const struct sh_cfg_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i].type == SH_CFG_STR) {
            char **dst = items[i].dst;
            free(*dst);
            *dst = NULL;
        }
    }
}

void sh_config_usage(FILE *f, const char *prog, const struct sh_cfg_item *items, size_t n)
{
    fprintf(f, "usage: %s [--name=value ...]\nEvery setting is read from the environment first.\n\n",
            prog);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  --%-22s %-28s default \"%s\"\n      %s\n", items[i].name, items[i].env,
                items[i].def ? items[i].def : "", items[i].help);
}

void sh_config_log(const struct sh_cfg_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct sh_cfg_item *it = &items[i];
        switch (it->type) {
        case SH_CFG_STR: {
            const char *v = *(char **)it->dst;
            sh_log(SH_LOG_DEBUG, "config", "key=%s value=\"%s\"", it->env,
                   it->secret ? (v && *v ? "***" : "") : (v ? v : ""));
            break;
        }
        case SH_CFG_INT:
            sh_log(SH_LOG_DEBUG, "config", "key=%s value=%lld", it->env,
                   (long long)*(int64_t *)it->dst);
            break;
        case SH_CFG_BOOL:
            sh_log(SH_LOG_DEBUG, "config", "key=%s value=%s", it->env,
                   *(bool *)it->dst ? "true" : "false");
            break;
        }
    }
}
