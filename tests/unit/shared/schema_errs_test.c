/* Error trees as text: gw_errs_message (Kong's "schema violation" message, §2.7: entity errors
 * first, then fields in sorted order, nested records dotted, array elements 1-based) and
 * gw_errs_walk with bracket paths (0-based, for --check). Also the plugin schema table. */
#include "testutil.h"

#include "plugin_schema.h"

struct msg_case {
    const char *tree; /* the error tree as JSON */
    const char *want; /* gw_errs_message */
};

static const struct msg_case msg_cases[] = {
    /* the two examples of §2.7 */
    {"{\"connect_timeout\":\"expected an integer\",\"host\":\"required field missing\"}",
     "2 schema violations (connect_timeout: expected an integer; host: required field missing)"},
    {"{\"protocols\":[\"expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, "
     "udp\"]}",
     "schema violation (protocols.1: expected one of: grpc, grpcs, http, https, tcp, tls, "
     "tls_passthrough, udp)"},
    {"{\"@entity\":[\"must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when "
     "'protocols' is 'https'\"]}",
     "schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when "
     "'protocols' is 'https')"},
    {"{\"config\":{\"key_names\":[\"bad header name 'a b', allowed characters are A-Z, a-z, "
     "0-9, '_', and '-'\"]}}",
     "schema violation (config.key_names.1: bad header name 'a b', allowed characters are A-Z, "
     "a-z, 0-9, '_', and '-')"},
    /* sorted fields, entity errors first, nulls skipped, indexes 1-based */
    {"{\"port\":\"p\",\"host\":\"h\",\"@entity\":[\"e1\",\"e2\"]}",
     "4 schema violations (e1; e2; host: h; port: p)"},
    {"{\"paths\":[null,null,\"bad\"],\"hosts\":[\"x\",null,\"y\"]}",
     "3 schema violations (hosts.1: x; hosts.3: y; paths.3: bad)"},
    {"{\"healthchecks\":{\"active\":{\"healthy\":{\"http_statuses\":[null,\"value should be "
     "between 100 and 999\"]}}}}",
     "schema violation (healthchecks.active.healthy.http_statuses.2: value should be between "
     "100 and 999)"},
    {"{\"b\":{\"@entity\":[\"inner\"],\"a\":\"x\"},\"a\":\"y\"}",
     "3 schema violations (a: y; b: inner; b.a: x)"},
    /* a declarative tree */
    {"{\"services\":[null,{\"host\":\"required field missing\",\"port\":\"value should be "
     "between 0 and 65535\"}]}",
     "2 schema violations (services.2.host: required field missing; services.2.port: value "
     "should be between 0 and 65535)"},
    {"{\"services\":[null,\"uniqueness violation: 'services' entity with name set to 'foo' "
     "already declared\"]}",
     "schema violation (services.2: uniqueness violation: 'services' entity with name set to "
     "'foo' already declared)"},
    {"{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\","
     "\"h\":\"8\",\"i\":\"9\",\"j\":\"10\",\"k\":\"11\"}",
     "11 schema violations (a: 1; b: 2; c: 3; d: 4; e: 5; f: 6; g: 7; h: 8; i: 9; j: 10; "
     "k: 11)"},
};

static json_t *
tree(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    if (j == NULL) {
        print_error("bad test JSON: %s: %s\n", je.text, text);
        fail();
    }
    return j;
}

static void
test_errs_message(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(msg_cases); i++) {
        json_t *j = tree(msg_cases[i].tree);
        char *got = gw_errs_message(j);
        failed += tu_check_row("msg_cases", i, msg_cases[i].tree, got, msg_cases[i].want);
        free(got);
        json_decref(j);
    }
    assert_int_equal(failed, 0);
}

/* the --check rendering: 0-based bracket paths, one line per leaf, same order */
static const struct msg_case walk_cases[] = {
    {"{\"services\":[null,{\"host\":\"required field missing\"}]}",
     "services[1].host: required field missing"},
    {"{\"services\":[{\"routes\":[null,null,{\"paths\":[null,\"bad\"],\"@entity\":[\"e\"]}]}]}",
     "services[0].routes[2]: e\nservices[0].routes[2].paths[1]: bad"},
    {"{\"@entity\":[\"top\"],\"z\":\"last\",\"a\":{\"b\":\"first\"}}",
     "@entity: top\na.b: first\nz: last"},
};

static void
test_errs_walk(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(walk_cases); i++) {
        json_t *j = tree(walk_cases[i].tree);
        char *got = tu_errs_lines(j);
        failed += tu_check_row("walk_cases", i, walk_cases[i].tree, got, walk_cases[i].want);
        free(got);
        json_decref(j);
    }
    assert_int_equal(failed, 0);
}

/* The message of loaded documents: the same tree the loader returns, 1-based. */
static void
test_doc_messages(void **state)
{
    static const struct {
        const char *doc, *want;
    } cases[] = {
        {"_format_version: \"3.0\"\nroutes:\n- paths: [/]\n  protocols: [http, bogus]\n",
         "schema violation (routes.1.protocols.2: expected one of: grpc, grpcs, http, https, "
         "tcp, tls, tls_passthrough, udp)"},
        {"_format_version: \"3.0\"\nservices:\n- {host: a}\n- {port: 70000}\n",
         "2 schema violations (services.2.host: required field missing; services.2.port: value "
         "should be between 0 and 65535)"},
        {"_format_version: \"3.0\"\nplugins:\n- name: key-auth\n  config: {key_names: [ok, "
         "\"a b\"]}\n",
         "schema violation (plugins.1.config.key_names.2: bad header name 'a b', allowed "
         "characters are A-Z, a-z, 0-9, '_', and '-')"},
        {"services: []\n", "schema violation (_format_version: required field missing)"},
    };
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        char *got = tu_doc_message(cases[i].doc);
        failed += tu_check_row("doc_messages", i, cases[i].doc, got, cases[i].want);
        free(got);
    }
    assert_int_equal(failed, 0);
}

/* plugins.def is sorted by plugin name (gw_plugin_schema_find bisects), every plugin is found
 * by its name, and every config schema prepares. */
static void
test_plugin_table(void **state)
{
    (void)state;
    assert_int_equal(gw_model_init(), 0);
    assert_true(gw_plugin_schemas_count > 0);
    for (size_t i = 0; i < gw_plugin_schemas_count; i++) {
        const struct gw_plugin_schema *ps = gw_plugin_schemas[i];
        if (i > 0 && strcmp(gw_plugin_schemas[i - 1]->name, ps->name) >= 0) {
            print_error("plugins.def out of order: '%s' before '%s'\n",
                        gw_plugin_schemas[i - 1]->name, ps->name);
            fail();
        }
        assert_ptr_equal(gw_plugin_schema_find(ps->name), ps);
        assert_non_null(ps->config);
        assert_string_equal(ps->config->name, ps->name);
    }
    assert_null(gw_plugin_schema_find("nope"));
    assert_null(gw_plugin_schema_find(""));
    assert_non_null(gw_plugin_schema_find("key-auth"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errs_message),
        cmocka_unit_test(test_errs_walk),
        cmocka_unit_test(test_doc_messages),
        cmocka_unit_test(test_plugin_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
