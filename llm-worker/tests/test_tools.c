/* Unit tests for the tool registry: schema shape, get_weather determinism and bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sh_err.h"
#include "tools.h"

/* Run a tool expecting 'want_rc'; returns the parsed result object. */
static json_t *run(const char *name, const char *args, int want_rc)
{
    char *out = NULL;
    json_t *res;

    assert_int_equal(llm_tools_run(name, args, &out), want_rc);
    assert_non_null(out);
    res = json_loads(out, 0, NULL);
    assert_true(json_is_object(res));
    free(out);
    return res;
}

static void test_schema(void **state)
{
    json_t *tools = llm_tools_schema(), *fn, *params;

    (void)state;
    assert_true(json_is_array(tools));
    assert_int_equal(json_array_size(tools), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "type")),
                        "function");
    fn = json_object_get(json_array_get(tools, 0), "function");
    assert_string_equal(json_string_value(json_object_get(fn, "name")), "get_weather");
    assert_non_null(json_string_value(json_object_get(fn, "description")));
    params = json_object_get(fn, "parameters");
    assert_string_equal(json_string_value(json_object_get(params, "type")), "object");
    assert_string_equal(json_string_value(json_array_get(json_object_get(params, "required"), 0)),
                        "location");
    assert_int_equal(json_array_size(json_object_get(json_object_get(json_object_get(params,
                     "properties"), "unit"), "enum")), 2);
    json_decref(tools);
}

static void test_weather_shape(void **state)
{
    json_t *r = run("get_weather", "{\"location\":\"Paris\"}", 0);
    json_int_t t, h, w;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(r, "location")), "Paris");
    assert_string_equal(json_string_value(json_object_get(r, "unit")), "celsius");
    assert_string_equal(json_string_value(json_object_get(r, "source")), "simulated");
    assert_non_null(json_string_value(json_object_get(r, "condition")));
    t = json_integer_value(json_object_get(r, "temperature"));
    h = json_integer_value(json_object_get(r, "humidity"));
    w = json_integer_value(json_object_get(r, "wind_kph"));
    assert_true(json_is_integer(json_object_get(r, "temperature")));
    assert_true(t >= -10 && t <= 35);
    assert_true(h >= 20 && h <= 95);
    assert_true(w >= 0 && w <= 45);
    json_decref(r);
}

static void test_weather_deterministic(void **state)
{
    static const char *const keys[] = { "temperature", "condition", "humidity", "wind_kph" };
    json_t *a = run("get_weather", "{\"location\":\"Paris\"}", 0);
    json_t *b = run("get_weather", "{\"location\":\"Paris\",\"unit\":\"celsius\"}", 0);
    json_t *c = run("get_weather", "{\"location\":\"  PARIS \"}", 0);
    json_t *d = run("get_weather", "{\"location\":\"Tokyo\"}", 0);
    json_t *f = run("get_weather", "{\"location\":\"paris\",\"unit\":\"fahrenheit\"}", 0);
    int differs = 0;
    json_int_t tc, tf;

    (void)state;
    assert_true(json_equal(a, b));
    for (size_t i = 0; i < 4; i++) {
        assert_true(json_equal(json_object_get(a, keys[i]), json_object_get(c, keys[i])));
        differs += !json_equal(json_object_get(a, keys[i]), json_object_get(d, keys[i]));
    }
    assert_string_equal(json_string_value(json_object_get(c, "location")), "PARIS");
    assert_true(differs > 0);                 /* another city, other weather */
    tc = json_integer_value(json_object_get(a, "temperature"));
    tf = json_integer_value(json_object_get(f, "temperature"));
    assert_string_equal(json_string_value(json_object_get(f, "unit")), "fahrenheit");
    assert_true(tf * 5 >= tc * 9 + 160 - 3 && tf * 5 <= tc * 9 + 160 + 3);   /* F = C*9/5+32 */
    assert_true(json_equal(json_object_get(a, "condition"), json_object_get(f, "condition")));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
    json_decref(f);
}

static void test_bad_arguments(void **state)
{
    static const char *const bad[] = {
        "{", "not json", "[\"Paris\"]", "\"Paris\"", "{}", "{\"location\":42}",
        "{\"location\":\"   \"}", "{\"location\":\"Paris\",\"unit\":\"kelvin\"}",
        "{\"location\":\"Paris\",\"unit\":3}", "{\"city\":\"Paris\"}",
    };
    char *out = (char *)"sentinel";
    json_t *r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = run("get_weather", bad[i], 1);
        assert_non_null(json_string_value(json_object_get(r, "error")));
        assert_int_equal(json_object_size(r), 1);
        json_decref(r);
    }
    r = run("get_weather", NULL, 1);          /* no arguments = {} = missing location */
    json_decref(r);
    r = run("get_weather", "", 1);
    json_decref(r);
    r = run("launch_rockets", "{}", 1);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "launch_rockets"));
    json_decref(r);
    r = run("get_weather", "{\"location\":\"Oslo\",\"unit\":null,\"extra\":true}", 0);
    assert_string_equal(json_string_value(json_object_get(r, "unit")), "celsius");
    json_decref(r);
    assert_int_equal(llm_tools_run(NULL, "{}", &out), SH_EINVAL);
    assert_null(out);
    assert_int_equal(llm_tools_run("get_weather", "{}", NULL), SH_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_weather_shape),
        cmocka_unit_test(test_weather_deterministic),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests_name("llm_tools", tests, NULL, NULL);
}
