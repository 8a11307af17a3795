/* Unit tests for the HTTP request parser: byte-by-byte arrival, pipelining, limits and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "sh_err.h"

static const char post_req[] =
    "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "Content-Type: application/json\r\n"
    "X-Mock-Fault:  429once \r\n"
    "Content-Length: 17\r\n"
    "\r\n"
    "{\"messages\": [1]}";

static void test_complete_post(void **state)
{
    struct mock_http_req req;
    size_t len = strlen(post_req);

    (void)state;
    assert_int_equal(mock_http_parse(post_req, len, &req), MOCK_HTTP_DONE);
    assert_true(mock_http_method_is(&req, "POST"));
    assert_true(mock_http_path_is(&req, "/v1/chat/completions"));
    assert_int_equal(req.minor, 1);
    assert_true(req.keep_alive);
    assert_true(req.has_length);
    assert_int_equal(req.content_length, 17);
    assert_int_equal(req.total_len, len);
    assert_memory_equal(req.body, "{\"messages\": [1]}", 17);
    assert_int_equal(req.fault_len, 7);
    assert_memory_equal(req.fault, "429once", 7);
}

/* Every prefix is "need more", never an error, and the head is known once it is all there. */
static void test_every_byte_boundary(void **state)
{
    size_t len = strlen(post_req), head = strstr(post_req, "\r\n\r\n") + 4 - post_req;
    struct mock_http_req req;

    (void)state;
    for (size_t k = 0; k < len; k++) {
        /* A fresh heap copy of exactly k bytes, so ASan catches any read past the end. */
        char *part = malloc(k ? k : 1);
        memcpy(part, post_req, k);
        assert_int_equal(mock_http_parse(part, k, &req), MOCK_HTTP_MORE);
        assert_int_equal(req.head_len, k >= head ? head : 0);
        free(part);
    }
    assert_int_equal(mock_http_parse(post_req, len, &req), MOCK_HTTP_DONE);
}

/* Two requests in one buffer, split in two pieces at every position: both come out whole. */
static void test_pipelined_split_everywhere(void **state)
{
    char buf[1024];
    const char *get = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t len;

    (void)state;
    len = (size_t)snprintf(buf, sizeof(buf), "%s%s", post_req, get);
    for (size_t cut = 0; cut <= len; cut++) {
        struct mock_http_req req;
        size_t have = cut, off = 0, done = 0;

        /* Feed the first 'cut' bytes, then everything, like two reads would. */
        for (int round = 0; round < 2; round++) {
            int rc;
            while ((rc = mock_http_parse(buf + off, have - off, &req)) == MOCK_HTTP_DONE) {
                if (done == 0)
                    assert_true(mock_http_path_is(&req, "/v1/chat/completions"));
                else
                    assert_true(mock_http_path_is(&req, "/healthz"));
                off += req.total_len;
                done++;
            }
            assert_int_equal(rc, MOCK_HTTP_MORE);
            have = len;
        }
        assert_int_equal(done, 2);
        assert_int_equal(off, len);
    }
}

static void test_keep_alive_rules(void **state)
{
    struct mock_http_req req;

    (void)state;
    assert_int_equal(mock_http_parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 37, &req),
                     MOCK_HTTP_DONE);
    assert_false(req.keep_alive);
    assert_int_equal(mock_http_parse("GET / HTTP/1.0\r\n\r\n", 18, &req), MOCK_HTTP_DONE);
    assert_false(req.keep_alive);
    assert_int_equal(req.minor, 0);
    const char *ka = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    assert_int_equal(mock_http_parse(ka, strlen(ka), &req), MOCK_HTTP_DONE);
    assert_true(req.keep_alive);
    const char *multi = "GET / HTTP/1.1\r\nconnection: upgrade, close\r\n\r\n";
    assert_int_equal(mock_http_parse(multi, strlen(multi), &req), MOCK_HTTP_DONE);
    assert_false(req.keep_alive);
}

static void test_lenient_framing(void **state)
{
    struct mock_http_req req;
    const char *lf = "\r\n\r\nGET /v1/models HTTP/1.1\nHost: x\n\n";

    (void)state;
    assert_int_equal(mock_http_parse(lf, strlen(lf), &req), MOCK_HTTP_DONE);
    assert_true(mock_http_path_is(&req, "/v1/models"));
    assert_int_equal(req.total_len, strlen(lf));
    const char *exp = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    assert_int_equal(mock_http_parse(exp, strlen(exp), &req), MOCK_HTTP_MORE);
    assert_true(req.expect_continue);
    assert_int_equal(req.head_len, strlen(exp));
}

struct bad_case {
    const char *text;
    int status;
};

static void test_rejections(void **state)
{
    static const struct bad_case cases[] = {
        {"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", 411},
        {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
        {"POST /x HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413},
        {"POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
        {"POST /x HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400},
        {"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"GET /x HTTP/2.0\r\n\r\n", 505},
        {"GET /x FTP/1.1\r\n\r\n", 400},
        {"GET x HTTP/1.1\r\n\r\n", 400},
        {"GET  HTTP/1.1\r\n\r\n", 400},
        {"G(T /x HTTP/1.1\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nBad Header: v\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nNoColon\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mock_http_req req;
        int rc = mock_http_parse(cases[i].text, strlen(cases[i].text), &req);
        if (rc != SH_EPROTO || req.status != cases[i].status)
            fail_msg("case %zu (%s): rc=%d status=%d", i, cases[i].text, rc, req.status);
        assert_non_null(req.error);
    }
}

static void test_head_limit(void **state)
{
    size_t n = MOCK_HTTP_MAX_HEAD + 100;
    char *big = malloc(n);
    struct mock_http_req req;

    (void)state;
    memset(big, 'a', n);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(mock_http_parse(big, n, &req), SH_EPROTO);
    assert_int_equal(req.status, 431);
    /* Just under the limit and unfinished: still waiting. */
    assert_int_equal(mock_http_parse(big, 4000, &req), MOCK_HTTP_MORE);
    free(big);
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(mock_http_reason(429), "Too Many Requests");
    assert_string_equal(mock_http_reason(411), "Length Required");
    assert_string_equal(mock_http_reason(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_post),
        cmocka_unit_test(test_every_byte_boundary),
        cmocka_unit_test(test_pipelined_split_everywhere),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_lenient_framing),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
