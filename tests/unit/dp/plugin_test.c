/* The plugin runner's phases on snapshots built from declarative documents: rewrite runs the
 * global instances only, in priority order, and an answer stops it; log runs the instances
 * access chose, or the global ones when access never ran; instances whose protocols are all
 * stream ones are left out and do not shadow others.
 *
 * No plugin we enforce has a rewrite handler (Kong's bundled ones that do, pre-function and
 * the like, run Lua), so two plugins without a data-plane handler, udp-log (priority 8) and
 * tcp-log (7), get stand-in handlers here through the handler table's weak references. */
#include "testutil.h"

#include "arena.h"
#include "http1.h"
#include "plugin.h"
#include "snapshot.h"

static char trace[256];

static void
note(const char *who, const void *conf)
{
    const struct gw_val *host = gw_rec_get(gw_schema_udp_log.config, conf, "host");
    size_t n = strlen(trace);

    snprintf(trace + n, sizeof trace - n, "%s%s:%s", n ? " " : "", who, host->u.s);
}

static int
is_stop(const void *conf)
{
    return strcmp(gw_rec_get(gw_schema_udp_log.config, conf, "host")->u.s, "stop") == 0;
}

static int
udp_rewrite(struct gw_pctx *ctx, const void *conf, const void *global)
{
    (void)global;
    note("rw-udp", conf);
    return is_stop(conf) ? gw_pctx_exit(ctx, 403, GW_STR_LIT("{}"), NULL) : 0;
}

static int
tcp_rewrite(struct gw_pctx *ctx, const void *conf, const void *global)
{
    (void)ctx, (void)global;
    note("rw-tcp", conf);
    return 0;
}

static int
tcp_access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    (void)ctx, (void)global;
    note("acc-tcp", conf);
    return 0;
}

static void
udp_log(struct gw_pctx *ctx, const void *conf, const void *global)
{
    (void)global;
    assert_non_null(ctx->log);
    note("log-udp", conf);
}

static void
tcp_log(struct gw_pctx *ctx, const void *conf, const void *global)
{
    (void)global;
    assert_int_equal(ctx->log->status, 200);
    note("log-tcp", conf);
}

/* no compile: the handlers get the validated config record */
const struct gw_plugin gw_handler_udp_log = {
    .schema = &gw_schema_udp_log,
    .rewrite = udp_rewrite,
    .log = udp_log,
};

const struct gw_plugin gw_handler_tcp_log = {
    .schema = &gw_schema_tcp_log,
    .rewrite = tcp_rewrite,
    .access = tcp_access,
    .log = tcp_log,
};

/* ------------------------------------------------------------------ helpers */

static struct gw_snapshot *
build(const char *plugins)
{
    struct tu_str doc = {0};
    char err[256];

    tu_str_add(&doc,
               "_format_version: \"3.0\"\n"
               "services:\n- name: s\n  url: http://127.0.0.1:1\n"
               "  routes: [{name: r, paths: [/r]}, {name: r2, paths: [/r2]}]\n"
               "plugins:\n%s",
               plugins);
    struct gw_config *cfg = tu_load_ok(doc.p);
    struct gw_snapshot *s = gw_snapshot_build(cfg, 1, err, sizeof err);
    if (s == NULL) {
        print_error("snapshot: %s\n", err);
    }
    assert_non_null(s);
    free(doc.p);
    return s;
}

struct req {
    struct gw_arena *arena;
    struct gw_http_head h;
    struct gw_pctx ctx;
};

static void
req_init(struct req *r, struct gw_snapshot *s)
{
    static const char raw[] = "GET /r HTTP/1.1\r\nHost: x\r\n\r\n";

    memset(r, 0, sizeof *r);
    r->arena = gw_arena_create(4096);
    assert_non_null(r->arena);
    assert_true(gw_http1_parse_request(raw, sizeof raw - 1, NULL, &r->h) > 0);
    r->ctx.arena = r->arena;
    r->ctx.snap = s;
    r->ctx.h = &r->h;
    r->ctx.peer_ip = "127.0.0.1";
    trace[0] = '\0';
}

/* the route's id by name */
static const char *
route_id(const struct gw_snapshot *s, const char *name)
{
    for (uint32_t i = 0; i < s->nroutes; i++) {
        if (s->routes[i].name && strcmp(s->routes[i].name, name) == 0) {
            return s->routes[i].id;
        }
    }
    fail_msg("no route %s", name);
    return NULL;
}

static const struct gw_log_info ok_info = {.request_id = "x", .status = 200};

#define UDP(scope, host) "- name: udp-log\n" scope "  config: {host: " host ", port: 1}\n"
#define TCP(scope, host) "- name: tcp-log\n" scope "  config: {host: " host ", port: 1}\n"

/* ------------------------------------------------------------------ tests */

static void
test_rewrite_runs_global_instances_in_priority_order(void **state)
{
    (void)state;
    /* listed lowest priority first: the order comes from the priorities */
    struct gw_snapshot *s = build(TCP("", "g") TCP("  route: r\n", "route") UDP("", "g"));
    struct req r;

    req_init(&r, s);
    assert_int_equal(gw_plugins_rewrite(&r.ctx), 0);
    /* udp-log (8) before tcp-log (7); the route's tcp-log is not a rewrite candidate */
    assert_string_equal(trace, "rw-udp:g rw-tcp:g");
    gw_arena_destroy(r.arena);
    gw_snapshot_unref(s);
}

static void
test_rewrite_answer_stops_the_phase(void **state)
{
    (void)state;
    struct gw_snapshot *s = build(UDP("", "stop") TCP("", "g"));
    struct req r;

    req_init(&r, s);
    assert_int_equal(gw_plugins_rewrite(&r.ctx), 1);
    assert_int_equal(r.ctx.exit_status, 403);
    assert_string_equal(trace, "rw-udp:stop");
    /* access never ran: header_filter and log see the global instances */
    trace[0] = '\0';
    gw_plugins_log(&r.ctx, &ok_info);
    assert_string_equal(trace, "log-udp:stop log-tcp:g");
    assert_null(r.ctx.log);
    gw_arena_destroy(r.arena);
    gw_snapshot_unref(s);
}

static void
test_log_runs_what_access_chose(void **state)
{
    (void)state;
    struct gw_snapshot *s = build(UDP("", "g") TCP("", "g") TCP("  route: r\n", "route"));
    struct req r;

    assert_true(gw_plugins_want_log(s));
    req_init(&r, s);
    r.ctx.route_id = route_id(s, "r");
    assert_int_equal(gw_plugins_access(&r.ctx), 0);
    assert_string_equal(trace, "acc-tcp:route");
    trace[0] = '\0';
    gw_plugins_log(&r.ctx, &ok_info);
    assert_string_equal(trace, "log-udp:g log-tcp:route");
    gw_arena_destroy(r.arena);

    /* another route: the global instances */
    req_init(&r, s);
    r.ctx.route_id = route_id(s, "r2");
    assert_int_equal(gw_plugins_access(&r.ctx), 0);
    gw_plugins_log(&r.ctx, &ok_info);
    assert_string_equal(trace, "acc-tcp:g log-udp:g log-tcp:g");
    gw_arena_destroy(r.arena);
    gw_snapshot_unref(s);
}

static void
test_stream_only_instances_are_left_out(void **state)
{
    (void)state;
    struct gw_snapshot *s = build(UDP("  protocols: [udp]\n", "stream") TCP("", "g")
                                      TCP("  route: r\n  protocols: [tcp, tls]\n", "stream")
                                          TCP("  route: r2\n  protocols: [tls, https]\n", "mixed"));
    struct req r;

    req_init(&r, s);
    assert_int_equal(gw_plugins_rewrite(&r.ctx), 0);
    assert_string_equal(trace, "rw-tcp:g");
    trace[0] = '\0';
    /* the route's stream-only instance does not shadow the global one */
    r.ctx.route_id = route_id(s, "r");
    assert_int_equal(gw_plugins_access(&r.ctx), 0);
    gw_plugins_log(&r.ctx, &ok_info);
    assert_string_equal(trace, "acc-tcp:g log-tcp:g");
    gw_arena_destroy(r.arena);

    /* one HTTP-subsystem protocol is enough; plain HTTP runs an https instance (Kong) */
    req_init(&r, s);
    r.ctx.route_id = route_id(s, "r2");
    assert_int_equal(gw_plugins_access(&r.ctx), 0);
    assert_string_equal(trace, "acc-tcp:mixed");
    gw_arena_destroy(r.arena);
    gw_snapshot_unref(s);
}

static void
test_no_log_handler_no_log_phase(void **state)
{
    (void)state;
    struct gw_snapshot *s = build("- name: request-termination\n");

    assert_false(gw_plugins_want_log(s));
    gw_snapshot_unref(s);
}

static int
setup(void **state)
{
    (void)state;
    return gw_model_init();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite_runs_global_instances_in_priority_order),
        cmocka_unit_test(test_rewrite_answer_stops_the_phase),
        cmocka_unit_test(test_log_runs_what_access_chose),
        cmocka_unit_test(test_stream_only_instances_are_left_out),
        cmocka_unit_test(test_no_log_handler_no_log_phase),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
