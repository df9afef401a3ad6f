/* plugins/body through its header: content types, the three body kinds parsed into fields,
 * edits and the bytes serialized again. */
#include "testutil.h"

#include "plugins/body.h"

#define S(lit) GW_STR_LIT(lit)

static struct gw_str
z(const char *s)
{
    return (struct gw_str){s, strlen(s)};
}

static void
assert_str(struct gw_str got, const char *want)
{
    if (got.n != strlen(want) || (got.n && memcmp(got.p, want, got.n) != 0)) {
        fail_msg("got '%.*s', want '%s'", (int)got.n, got.p ? got.p : "", want);
    }
}

static void
test_kind(void **state)
{
    static const struct {
        const char *ct;
        enum gw_body_kind want;
    } cases[] = {
        {"application/json", GW_BODY_JSON},
        {"Application/JSON; charset=utf-8", GW_BODY_JSON},
        {"application/x-www-form-urlencoded", GW_BODY_FORM},
        {"multipart/form-data; boundary=x", GW_BODY_MULTIPART},
        {"text/plain", GW_BODY_OTHER},
        {"application/problem+json", GW_BODY_OTHER},
        {"", GW_BODY_OTHER},
    };
    (void)state;
    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        if (gw_body_kind(z(cases[i].ct)) != cases[i].want) {
            fail_msg("%s", cases[i].ct);
        }
    }
    assert_int_equal(gw_body_kind(GW_STR_NULL), GW_BODY_OTHER);
}

static void
test_json(void **state)
{
    struct gw_arena *a = gw_arena_create(0);
    struct gw_body_doc d;
    unsigned n;
    int i;
    (void)state;

    /* not objects, or not JSON */
    static const char *const bad[] = {"[1]", "\"s\"", "{", "{\"a\":1,}", "{'a':1}", "1 2"};
    for (size_t k = 0; k < TU_COUNT(bad); k++) {
        if (gw_body_parse(a, GW_BODY_JSON, GW_STR_NULL, z(bad[k]), &d) != -1) {
            fail_msg("%s", bad[k]);
        }
    }
    assert_int_equal(gw_body_parse(a, GW_BODY_JSON, GW_STR_NULL, S(""), &d), 0);
    assert_int_equal(d.n, 0);

    const char *doc =
        " { \"a\\u00e9\" : \"x\\\"y\" , \"n\":-1.5e3,\"o\":{\"k\":[1,\"}\"]},"
        "\"t\":true,\"f\":false,\"z\":null,\"a\\u00e9\":\"last\",\"e\":\"\\ud83d\\ude00\"} ";
    assert_int_equal(gw_body_parse(a, GW_BODY_JSON, GW_STR_NULL, z(doc), &d), 0);
    assert_int_equal(d.n, 8);
    i = gw_body_find(&d, z("a\xc3\xa9"), &n);
    assert_int_equal(n, 1); /* repeated: the last one counts */
    assert_int_equal(i, 6);
    assert_str(d.f[i].value, "last");
    assert_str(d.f[0].value, "x\"y");
    assert_int_equal(d.f[1].type, 'n');
    assert_int_equal(d.f[2].type, 'o');
    assert_str(d.f[2].raw, "{\"k\":[1,\"}\"]}");
    assert_int_equal(d.f[3].type, 't');
    assert_int_equal(d.f[4].type, 'f');
    assert_int_equal(d.f[5].type, 'z');
    assert_str(d.f[7].value, "\xf0\x9f\x98\x80");

    gw_body_remove(&d, z("a\xc3\xa9"));
    gw_body_rename(&d, S("n"), S("m\"q"));
    gw_body_set(&d, 3, S("\"T\""), S("T"), 's');
    gw_body_add(&d, S("new"), gw_body_json_string(a, S("a\nb\x01")), GW_STR_NULL, 's');
    assert_str(gw_body_serialize(&d), "{\"m\\\"q\":-1.5e3,\"o\":{\"k\":[1,\"}\"]},\"t\":\"T\","
                                      "\"f\":false,\"z\":null,\"e\":\"\\ud83d\\ude00\","
                                      "\"new\":\"a\\nb\\u0001\"}");
    gw_arena_destroy(a);
}

static void
test_form(void **state)
{
    struct gw_arena *a = gw_arena_create(0);
    struct gw_body_doc d;
    unsigned n;
    (void)state;

    assert_int_equal(
        gw_body_parse(a, GW_BODY_FORM, GW_STR_NULL, S("a=1&b=%20x+y&c&=z&&a=2&d=%zz&e%3D=%3d"), &d),
        0);
    assert_int_equal(d.n, 6); /* "=z" and the empty argument have no name */
    assert_int_equal(gw_body_find(&d, S("a"), &n), 0);
    assert_int_equal(n, 2);
    assert_str(d.f[1].value, " x y");
    assert_int_equal(d.f[2].type, 'b');
    assert_str(d.f[4].value, "%zz");
    assert_str(d.f[5].name, "e=");
    assert_str(d.f[5].value, "=");

    gw_body_rename(&d, S("b"), S("b b"));        /* the value keeps its encoding */
    gw_body_set(&d, 0, S("x&y"), S("x&y"), 's'); /* the other a goes */
    gw_body_remove(&d, S("c"));
    gw_body_add(&d, S("k/1"), S("v w"), S("v w"), 's');
    assert_str(gw_body_serialize(&d), "a=x%26y&b%20b=%20x+y&d=%zz&e%3D=%3d&k%2F1=v%20w");
    gw_arena_destroy(a);
}

static void
test_multipart(void **state)
{
    struct gw_arena *a = gw_arena_create(0);
    struct gw_body_doc d;
    struct gw_str ct = S("multipart/form-data; boundary=\"XyZ\"");
    const char *body =
        "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n"
        "--XyZ\r\n\r\nanonymous\r\n--XyZ--\r\nepilogue";
    (void)state;

    assert_int_equal(gw_body_parse(a, GW_BODY_MULTIPART, S("multipart/form-data"), z(body), &d),
                     -1); /* no boundary */
    assert_int_equal(gw_body_parse(a, GW_BODY_MULTIPART, ct, S("--XyZ\r\nno end"), &d), -1);
    assert_int_equal(gw_body_parse(a, GW_BODY_MULTIPART, ct, z(body), &d), 0);
    assert_int_equal(d.n, 3);
    assert_str(d.f[0].name, "a");
    assert_str(d.f[0].value, "1");
    assert_str(d.f[1].value, "line1\r\nline2");
    assert_str(d.f[2].name, "");
    assert_str(d.f[2].value, "anonymous");

    gw_body_remove(&d, S("a"));
    gw_body_add(&d, S("k"), S("v"), S("v"), 's');
    assert_str(gw_body_serialize(&d),
               "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.txt\"\r\n"
               "Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n"
               "--XyZ\r\n\r\nanonymous\r\n"
               "--XyZ\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--XyZ--\r\n");

    /* an empty body is an empty form with the boundary (add works on it) */
    assert_int_equal(gw_body_parse(a, GW_BODY_MULTIPART, ct, S(""), &d), 0);
    gw_body_add(&d, S("k"), S("v"), S("v"), 's');
    assert_str(gw_body_serialize(&d),
               "--XyZ\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--XyZ--\r\n");
    gw_arena_destroy(a);
}

static void
test_field_bound(void **state)
{
    struct gw_arena *a = gw_arena_create(0);
    struct gw_body_doc d;
    size_t n = GW_BODY_MAX_FIELDS + 1;
    char *body = malloc(n * 2);
    (void)state;

    for (size_t i = 0; i < n; i++) {
        body[i * 2] = 'a';
        body[i * 2 + 1] = '&';
    }
    assert_int_equal(
        gw_body_parse(a, GW_BODY_FORM, GW_STR_NULL, (struct gw_str){body, n * 2 - 1}, &d), -1);
    assert_int_equal(
        gw_body_parse(a, GW_BODY_FORM, GW_STR_NULL, (struct gw_str){body, n * 2 - 3}, &d), 0);
    assert_int_equal(d.n, GW_BODY_MAX_FIELDS);
    free(body);
    gw_arena_destroy(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind),        cmocka_unit_test(test_json),
        cmocka_unit_test(test_form),        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_field_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
