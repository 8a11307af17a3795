/* libFuzzer target: the OpenAI chunk parser and stream accumulator
 * (libshared/sh_oai_chunk.c). Each input line is one SSE data payload, folded
 * into an accumulator as the LLM client does; the whole input is also parsed
 * as a non-streaming response body and as an error body. Checks the
 * accumulator's invariants after every step, and that the allocation-free fast
 * paths (sh_oai_fast.c: content chunks, and role/finish_reason/usage chunks) never accept a
 * line the full parser reads differently. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sh_err.h"
#include "sh_oai_chunk.h"
#include "sh_oai_fast.h"

static void check_acc(const struct sh_oai_acc *acc)
{
    if (!acc->content || acc->content[acc->content_len] != '\0')
        abort();
    for (size_t i = 0; i < acc->n_calls; i++) {
        const struct sh_oai_tool_call *c = &acc->calls[i];

        if (i && acc->calls[i - 1].index >= c->index)
            abort();                    /* sorted by index, no duplicates */
        if (!c->id || !c->name || !c->arguments || strlen(c->arguments) != c->arguments_len)
            abort();
        if (acc->finished && c->args_valid != (c->args != NULL))
            abort();
    }
}

/* When the fast path takes a line, the full parser must accept it as a chunk that
 * carries exactly the same content and nothing else. */
static void check_fast(const char *s, size_t len)
{
    struct sh_oai_delta a = {0}, b = {0};
    char buf[16], *scratch = NULL;
    int rc;

    if (!sh_oai_fast_chunk(s, len, &a, buf, sizeof(buf), &scratch))
        return;
    if (a.content[a.content_len] != '\0')
        abort();
    rc = sh_oai_chunk_parse(s, len, &b);
    if (rc == SH_ENOMEM)
        goto out;
    if (rc != 0 || b.done || b.error.present || b.n_tools || b.finish_reason || b.has_usage ||
        a.content_len != b.content_len || memcmp(a.content, b.content, a.content_len) != 0)
        abort();
out:
    sh_oai_delta_free(&b);
    free(scratch);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The same for the meta fast path (role, finish_reason and usage chunks): what it takes, the
 * full parser reads as the same content, role, finish_reason and usage, and nothing else. */
static void check_meta(const char *s, size_t len)
{
    struct sh_oai_delta a = {0}, b = {0};
    char buf[64];
    int rc;

    if (!sh_oai_fast_meta(s, len, &a, buf, sizeof(buf)))
        return;
    if (a.content[a.content_len] != '\0' || a.tools || a.root)
        abort();
    rc = sh_oai_chunk_parse(s, len, &b);
    if (rc == SH_ENOMEM)
        goto out;
    if (rc != 0 || b.done || b.error.present || b.n_tools || a.content_len != b.content_len ||
        memcmp(a.content, b.content, a.content_len) != 0 || !same_str(a.role, b.role) ||
        !same_str(a.finish_reason, b.finish_reason) || a.has_usage != b.has_usage ||
        a.usage.prompt_tokens != b.usage.prompt_tokens ||
        a.usage.completion_tokens != b.usage.completion_tokens ||
        a.usage.total_tokens != b.usage.total_tokens)
        abort();
out:
    sh_oai_delta_free(&b);
}

static void stream(const char *s, size_t len)
{
    struct sh_oai_acc acc;
    const char *end = s + len, *nl;

    if (sh_oai_acc_init(&acc))
        return;
    while (s < end) {
        struct sh_oai_delta d;
        int rc;

        nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            nl = end;
        check_fast(s, (size_t)(nl - s));
        check_meta(s, (size_t)(nl - s));
        rc = sh_oai_chunk_parse(s, (size_t)(nl - s), &d);
        if (rc == 0 && !d.error.present && sh_oai_acc_add(&acc, &d) == 0)
            check_acc(&acc);
        else if (rc != 0 && rc != SH_EPROTO && rc != SH_ENOMEM)
            abort();
        sh_oai_delta_free(&d);
        s = nl + 1;
    }
    if (sh_oai_acc_finish(&acc) == 0)
        check_acc(&acc);
    sh_oai_acc_reset(&acc);
    check_acc(&acc);
    sh_oai_acc_free(&acc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sh_oai_acc acc;
    struct sh_oai_error err;
    json_t *root = NULL;
    int rc;

    stream((const char *)data, size);

    if (sh_oai_acc_init(&acc) == 0) {
        rc = sh_oai_response_parse((const char *)data, size, &acc, &err, &root);
        if (rc == 0)
            check_acc(&acc);
        else if (rc == 1 && !err.present)
            abort();
        json_decref(root);
        sh_oai_acc_free(&acc);
    }
    rc = sh_oai_error_parse((const char *)data, size, &err, &root);
    if (rc == 0 && !err.present)
        abort();
    json_decref(root);
    return 0;
}
