/* The plain-content fast path (sh_oai_fast.c) against the full parser (sh_oai_chunk_parse):
 * known chunks, then a few hundred thousand mutations of them. Whenever the fast path accepts
 * a chunk, the full parser must accept it too and find the same content and nothing else.
 * The same for sh_oai_fast_meta() (role, finish_reason and usage chunks): the full parser must
 * find the same content, role, finish_reason and usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sh_oai_chunk.h"
#include "sh_oai_fast.h"

static const char *const seeds[] = {
    "{\"id\":\"chatcmpl-x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
    "\"system_fingerprint\":\"fp\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Mock\"},"
    "\"logprobs\":null,\"finish_reason\":null}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\\n\\u00e9\\\"\\\\ \\u20ac x\"},"
    "\"finish_reason\":null}]}",
    "{\"choices\":[{\"delta\":{\"content\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}}],"
    "\"usage\":null}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null},\"finish_reason\":null}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}",
    "[DONE]",
};

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* 1 when sh_oai_fast_meta() took 'buf', 0 when it left it to the full parser. */
static int check_meta(const char *buf, size_t len)
{
    struct sh_oai_delta a, b;
    char out[64];
    int rc;

    if (!sh_oai_fast_meta(buf, len, &a, out, sizeof(out)))
        return 0;
    rc = sh_oai_chunk_parse(buf, len, &b);
    assert_int_equal(rc, 0);
    assert_false(b.error.present || b.n_tools || b.done);
    assert_int_equal(a.content_len, b.content_len);
    assert_memory_equal(a.content, b.content, a.content_len);
    assert_int_equal(a.content[a.content_len], '\0');
    assert_true(same_str(a.role, b.role));
    assert_true(same_str(a.finish_reason, b.finish_reason));
    assert_int_equal(a.has_usage, b.has_usage);
    assert_true(a.usage.prompt_tokens == b.usage.prompt_tokens &&
                a.usage.completion_tokens == b.usage.completion_tokens &&
                a.usage.total_tokens == b.usage.total_tokens);
    assert_null(a.tools);
    assert_null(a.root);
    sh_oai_delta_free(&b);
    return 1;
}

/* 1 when the fast path took 'buf', 0 when it left it to the full parser. */
static int check(const char *buf, size_t len)
{
    struct sh_oai_delta a, b;
    char small[16], *scratch = NULL;
    int rc;

    if (!sh_oai_fast_chunk(buf, len, &a, small, sizeof(small), &scratch))
        return 0;
    rc = sh_oai_chunk_parse(buf, len, &b);
    assert_int_equal(rc, 0);
    assert_false(b.error.present || b.n_tools || b.finish_reason || b.has_usage || b.done);
    assert_int_equal(a.content_len, b.content_len);
    assert_memory_equal(a.content, b.content, a.content_len);
    assert_int_equal(a.content[a.content_len], '\0');
    sh_oai_delta_free(&b);
    free(scratch);
    return 1;
}

static void test_known_chunks(void **state)
{
    (void)state;
    assert_int_equal(check(seeds[0], strlen(seeds[0])), 1);
    assert_int_equal(check(seeds[1], strlen(seeds[1])), 1);   /* escapes, > 16 bytes: scratch */
    assert_int_equal(check(seeds[2], strlen(seeds[2])), 1);   /* raw UTF-8 */
    assert_int_equal(check(seeds[3], strlen(seeds[3])), 1);   /* null content */
    for (int i = 4; i < 8; i++)                                /* role, stop, usage, [DONE] */
        assert_int_equal(check(seeds[i], strlen(seeds[i])), 0);
}

static void test_mutations_agree(void **state)
{
    static const char alpha[] = "{}[]\",:\\u0123456789abcdefnulltrue \x80\xc3\xff\x01-.eE";
    uint64_t x = 88172645463325252ULL;
    char buf[1024];
    long fast = 0, meta = 0;

    (void)state;
    for (int it = 0; it < 300000; it++) {
        const char *sd = seeds[it % 8];
        size_t len = strlen(sd);
        int muts = 1 + (int)(x % 3);

        memcpy(buf, sd, len);
        for (int m = 0; m < muts; m++) {
            size_t pos;
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            pos = (size_t)(x >> 8) % len;
            switch (x % 4) {
            case 0: buf[pos] = alpha[(x >> 40) % (sizeof(alpha) - 1)]; break;
            case 1: if (len > 1) { memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; } break;
            case 2:
                if (len < sizeof(buf) - 1) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = alpha[(x >> 40) % (sizeof(alpha) - 1)];
                    len++;
                }
                break;
            default: buf[pos] = (char)(x >> 32); break;
            }
        }
        fast += check(buf, len);
        meta += check_meta(buf, len);
    }
    assert_true(fast > 1000);      /* the mutations do reach the fast path */
    assert_true(meta > 1000);      /* and the meta path */
}

static void test_meta_known_chunks(void **state)
{
    static const char *const more[] = {
        /* the mock's and OpenAI's shapes, with the fields they add */
        "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
        "\"system_fingerprint\":\"fp\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
        "\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],"
        "\"usage\":null}",
        "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
        "\"finish_reason\":\"length\"}],\"usage\":null}",
        "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,"
        "\"total_tokens\":29,\"prompt_tokens_details\":{\"cached_tokens\":0},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
        "{\"choices\":[{\"delta\":{\"content\":\"hi\\n\"},\"finish_reason\":\"st\\u006fp\"}],"
        "\"usage\":{\"prompt_tokens\":-0,\"total_tokens\":123456789012345678}}",
        " {\"choices\":[]} ",
    };
    static const char *const refused[] = {
        "{\"choices\":[{\"delta\":{\"role\":null}}]}",                  /* null role */
        "{\"choices\":[{\"delta\":{\"tool_calls\":[]}}]}",
        "{\"choices\":[{\"index\":1,\"delta\":{}}]}",
        "{\"choices\":[{\"delta\":{}},{\"delta\":{}}]}",                   /* two choices */
        "{\"choices\":[],\"usage\":{\"total_tokens\":1.5}}",
        "{\"choices\":[],\"usage\":{\"total_tokens\":1,\"total_tokens\":2}}",
        "{\"choices\":[],\"usage\":{\"total_tokens\":--1}}",
        "{\"choices\":[],\"usage\":{\"total_tokens\":1234567890123456789}}",
        "{\"choices\":[],\"usage\":5}",
        "{\"choices\":[],\"error\":{\"message\":\"x\"}}",
        "{\"choices\":[{\"finish_reason\":\"stop\",\"finish_reason\":null}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"a\",\"content\":\"b\"}}]}",
        "{\"usage\":{\"total_tokens\":1}}",                              /* no choices */
        "{\"choices\":[]} x",
        "[DONE]",
    };
    struct sh_oai_delta d;
    char out[64];

    (void)state;
    assert_int_equal(check_meta(seeds[4], strlen(seeds[4])), 1);
    assert_int_equal(check_meta(seeds[5], strlen(seeds[5])), 1);
    assert_int_equal(check_meta(seeds[6], strlen(seeds[6])), 1);
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        assert_int_equal(check_meta(more[i], strlen(more[i])), 1);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_false(sh_oai_fast_meta(refused[i], strlen(refused[i]), &d, out, sizeof(out)));
    /* what the worker needs from them */
    assert_true(sh_oai_fast_meta(more[2], strlen(more[2]), &d, out, sizeof(out)));
    assert_true(d.has_usage);
    assert_int_equal(d.usage.completion_tokens, 10);
    assert_true(sh_oai_fast_meta(more[1], strlen(more[1]), &d, out, sizeof(out)));
    assert_string_equal(d.finish_reason, "length");
    /* strings that do not fit 'buf' go to the full parser */
    assert_false(sh_oai_fast_meta(more[0], strlen(more[0]), &d, out, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_chunks),
        cmocka_unit_test(test_mutations_agree),
        cmocka_unit_test(test_meta_known_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
