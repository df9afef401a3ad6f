/* shared/parse.c: the strict JSON check that guards the streaming JSON path, and YAML scalar
 * typing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "parse.h"

static const struct {
    const char *json;
    int ok;
} wf_cases[] = {
    {"{}", 1},
    {" {\"a\": [1, -2.5e+3, 0, true, false, null, \"x\\u00e9\\n\\/\"]} \n", 1},
    {"[]", 1},
    {"\"s\"", 1},
    {"0", 1},
    {"{\"a\":{\"b\":{\"c\":[[],[{}]]}}}", 1},
    {"", 0},
    {"{", 0},
    {"{\"a\":1,}", 0},          /* trailing comma: YAML flow accepts it, JSON does not */
    {"[1,]", 0},
    {"[,1]", 0},
    {"{\"a\" 1}", 0},
    {"{'a': 1}", 0},            /* single quotes */
    {"{a: 1}", 0},              /* unquoted key */
    {"[01]", 0},                /* leading zero */
    {"[1.]", 0},
    {"[.5]", 0},
    {"[1e]", 0},
    {"[+1]", 0},
    {"[tru]", 0},
    {"[\"a\tb\"]", 0},          /* raw control character in a string */
    {"[\"\\x41\"]", 0},         /* YAML escape, not JSON */
    {"[\"\\u12g4\"]", 0},
    {"{} {}", 0},               /* two values */
    {"# comment\n{}", 0},
    {"[1] // c", 0},
    {"{\"a\":1}}", 0},
    {"[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", 1}, /* UTF-8: 2, 3 and 4 bytes */
    {"[\"\xef\"]", 0},                                      /* truncated sequence */
    {"[\"\xc0\xaf\"]", 0},                                  /* overlong */
    {"[\"\xed\xa0\x80\"]", 0},                              /* surrogate */
};

static void
test_json_wellformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof wf_cases / sizeof wf_cases[0]; i++) {
        int got = gw_parse_json_wellformed(wf_cases[i].json, strlen(wf_cases[i].json));
        if (got != wf_cases[i].ok) {
            print_error("wf_cases[%zu] %s: got %d\n", i, wf_cases[i].json, got);
        }
        assert_int_equal(got, wf_cases[i].ok);
    }
}

static void
test_json_depth_bound(void **state)
{
    char buf[300];

    (void)state;
    memset(buf, '[', 100);
    memset(buf + 100, ']', 100);
    assert_int_equal(gw_parse_json_wellformed(buf, 200), 0);
    assert_int_equal(gw_parse_json_wellformed(buf + 36, 128), 1); /* 64 deep */
}

static const struct {
    const char *yaml;
    enum gw_vtype type;
} scalar_cases[] = {
    {"v: 12", GW_V_INT},  {"v: -0x1f", GW_V_INT},  {"v: 0o17", GW_V_INT},
    {"v: 1.5", GW_V_NUM}, {"v: 1e3", GW_V_NUM},    {"v: .inf", GW_V_NUM},
    {"v: true", GW_V_BOOL}, {"v: False", GW_V_BOOL}, {"v: ~", GW_V_NULL},
    {"v:", GW_V_NULL},    {"v: null", GW_V_NULL},  {"v: \"12\"", GW_V_STR},
    {"v: '1.5'", GW_V_STR}, {"v: yes", GW_V_STR},  {"v: !!str 12", GW_V_STR},
    {"v: 12abc", GW_V_STR},
};

static void
test_yaml_scalar_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scalar_cases / sizeof scalar_cases[0]; i++) {
        struct gw_arena *a = gw_arena_create(0);
        struct gw_val v;
        struct gw_parse_err err;
        const char *y = scalar_cases[i].yaml;
        assert_int_equal(gw_parse_doc(a, y, strlen(y), GW_FMT_YAML, &v, &err), 0);
        const struct gw_val *x = gw_val_get(&v, "v");
        assert_non_null(x);
        if (x->type != scalar_cases[i].type) {
            print_error("scalar_cases[%zu] %s: type %d\n", i, y, x->type);
        }
        assert_int_equal(x->type, scalar_cases[i].type);
        gw_arena_destroy(a);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_wellformed),
        cmocka_unit_test(test_json_depth_bound),
        cmocka_unit_test(test_yaml_scalar_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
