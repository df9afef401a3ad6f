/* The balancer and passive health checks through their headers, on snapshots built from
 * declarative documents as the data plane builds them (targets are numeric addresses: no DNS):
 * distribution per algorithm and weight, consistent-hashing stability and hash_on sources,
 * least-connections' preference, latency's, retries, and health transitions from reported
 * outcomes (thresholds, 0 = disabled, recovery by successes), which survive a new snapshot. */
#include "testutil.h"

#include "arena.h"
#include "balancer.h"
#include "health.h"
#include "http1.h"
#include "snapshot.h"

/* ------------------------------------------------------------------ helpers */

/* One upstream "up" with the given settings (YAML lines at upstream level, indented 2) and
 * targets 127.0.0.1:<port> weight <w> from ports[]/weights[] (0-terminated), one service. */
static struct gw_snapshot *
build(const char *settings, const int *ports, const int *weights)
{
    struct tu_str doc = {0};
    char err[256];

    tu_str_add(&doc, "_format_version: \"3.0\"\nupstreams:\n- name: up\n%s  targets:\n",
               settings ? settings : "");
    for (int i = 0; ports[i]; i++) {
        tu_str_add(&doc, "  - {target: \"127.0.0.1:%d\", weight: %d}\n", ports[i],
                   weights ? weights[i] : 100);
    }
    tu_str_add(&doc, "services:\n- name: s\n  host: up\n  routes: [{name: r, paths: [/]}]\n");
    struct gw_config *cfg = tu_load_ok(doc.p);
    struct gw_snapshot *s = gw_snapshot_build(cfg, 1, err, sizeof err);
    if (s == NULL) {
        print_error("snapshot: %s\n", err);
    }
    assert_non_null(s);
    assert_int_equal(s->nservices, 1);
    free(doc.p);
    return s;
}

static int
port_of(const struct gw_target *t)
{
    return t ? atoi(strrchr(t->name, ':') + 1) : 0;
}

static const struct gw_target *
target_at(const struct gw_service *svc, int port)
{
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        if (port_of(&svc->targets[i]) == port) {
            return &svc->targets[i];
        }
    }
    fail_msg("no target on port %d", port);
    return NULL;
}

/* A parsed request head from raw text ("GET /p?q HTTP/1.1\r\nHost: x\r\n...\r\n"). */
static void
head(const char *raw, struct gw_http_head *h)
{
    int rc = gw_http1_parse_request(raw, strlen(raw), NULL, h);

    assert_true(rc > 0);
}

/* One pick for a request with no particular input. */
static const struct gw_target *
pick1(const struct gw_service *svc, uint32_t *cursor, struct gw_arena *a)
{
    /* in the arena: the pick may register a release that runs when the arena goes */
    struct gw_pick *p = gw_arena_calloc(a, sizeof *p);
    struct gw_lb_request in = {
        .client_ip = GW_STR_LIT("127.0.0.1"), .path = GW_STR_LIT("/"), .now = 1000};

    assert_non_null(p);
    return gw_balancer_pick(p, svc, cursor, &in, a);
}

/* ------------------------------------------------------------------ xxHash32 */

static void
test_hash_vectors(void **state)
{
    static const struct {
        const char *in;
        uint32_t want;
    } cases[] = {
        {"", 0x02CC5D05u},
        {"a", 0x550D7456u},
        {"abc", 0x32D153FFu},
        {"abcd", 0xA3643705u},
        {"message digest", 0x7C948494u},
        {"abcdefghijklmnopqrstuvwxyz", 0x63A14D5Fu},
        {"Nobody inspects the spammish repetition", 0xE2293B2Fu},
    };
    (void)state;

    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        assert_int_equal(gw_balancer_hash(cases[i].in, strlen(cases[i].in)), cases[i].want);
    }
    assert_int_equal(gw_balancer_hash(NULL, 0), 0x02CC5D05u);
}

/* ------------------------------------------------------------------ distribution */

static const int P3[] = {9001, 9002, 9003, 0};
static const int W123[] = {100, 200, 300};

static void
test_round_robin_weights(void **state)
{
    struct gw_snapshot *s = build(NULL, P3, W123);
    const struct gw_service *svc = &s->services[0];
    struct gw_arena *a = gw_arena_create(0);
    uint32_t cursor = 0;
    int count[4] = {0};
    int prev = 0, repeats = 0;
    (void)state;

    assert_int_equal(svc->lb.algorithm, GW_LB_ROUND_ROBIN);
    for (int i = 0; i < 600; i++) {
        int port = port_of(pick1(svc, &cursor, a));
        count[port - 9000]++;
        repeats += port == prev;
        prev = port;
    }
    /* exact over whole turns of the wheel (1:2:3 has 6 slots) */
    assert_int_equal(count[1], 100);
    assert_int_equal(count[2], 200);
    assert_int_equal(count[3], 300);
    /* smooth: the heaviest one is never picked three times running, so repeats are rare */
    assert_true(repeats <= 100);
    gw_arena_destroy(a);
    gw_snapshot_unref(s);
}

static void
test_least_connections(void **state)
{
    static const int ports[] = {9001, 9002, 0};
    static const int weights[] = {100, 300};
    struct gw_snapshot *s = build("  algorithm: least-connections\n", ports, weights);
    const struct gw_service *svc = &s->services[0];
    struct gw_arena *a[8];
    int count[3] = {0};
    uint32_t cursor = 0;
    (void)state;

    assert_int_equal(svc->lb.algorithm, GW_LB_LEAST_CONNECTIONS);
    /* 8 requests in flight: the weight-300 target carries three times the other's load */
    for (int i = 0; i < 8; i++) {
        a[i] = gw_arena_create(0);
        count[port_of(pick1(svc, &cursor, a[i])) - 9000]++;
    }
    assert_int_equal(count[1], 2);
    assert_int_equal(count[2], 6);
    assert_int_equal(atomic_load(&target_at(svc, 9001)->peer->active), 2);
    assert_int_equal(atomic_load(&target_at(svc, 9002)->peer->active), 6);
    /* requests that end release their tries (the arena callback) */
    for (int i = 0; i < 8; i++) {
        gw_arena_destroy(a[i]);
    }
    assert_int_equal(atomic_load(&target_at(svc, 9001)->peer->active), 0);
    assert_int_equal(atomic_load(&target_at(svc, 9002)->peer->active), 0);
    gw_snapshot_unref(s);
}

static void
test_least_connections_busy(void **state)
{
    static const int ports[] = {9001, 9002, 0};
    struct gw_snapshot *s = build("  algorithm: least-connections\n", ports, NULL);
    const struct gw_service *svc = &s->services[0];
    struct gw_arena *busy = gw_arena_create(0);
    uint32_t cursor = 0;
    (void)state;

    /* two tries in flight on 9001 from another worker */
    atomic_store(&target_at(svc, 9001)->peer->active, 2);
    for (int i = 0; i < 3; i++) {
        struct gw_pick *p = gw_arena_calloc(busy, sizeof *p);
        struct gw_lb_request in = {.now = 1};
        /* 9002: 1, 2, then tied at 3 against 9001's 3 */
        const struct gw_target *t = gw_balancer_pick(p, svc, &cursor, &in, busy);
        if (i < 2) {
            assert_int_equal(port_of(t), 9002);
        }
    }
    gw_arena_destroy(busy);
    assert_int_equal(atomic_load(&target_at(svc, 9002)->peer->active) +
                         atomic_load(&target_at(svc, 9001)->peer->active),
                     2);
    atomic_store(&target_at(svc, 9001)->peer->active, 0);
    gw_snapshot_unref(s);
}

static void
test_latency(void **state)
{
    static const int ports[] = {9001, 9002, 0};
    struct gw_snapshot *s = build("  algorithm: latency\n", ports, NULL);
    const struct gw_service *svc = &s->services[0];
    struct gw_arena *a = gw_arena_create(0);
    uint32_t cursor = 0;
    int count[3] = {0};
    (void)state;

    assert_int_equal(svc->lb.algorithm, GW_LB_LATENCY);
    /* one sample each: 9001 answers in 500 ms, 9002 in 10 ms */
    for (int port = 9001; port <= 9002; port++) {
        struct gw_pick p = {0};
        struct gw_lb_request in = {.now = 1000};
        do {
            memset(&p, 0, sizeof p);
            gw_balancer_pick(&p, svc, &cursor, &in, a);
        } while (port_of(p.target) != port);
        gw_balancer_report(&p, 200, port == 9001 ? 1000.5 : 1000.01);
    }
    for (int i = 0; i < 100; i++) {
        struct gw_pick p = {0};
        struct gw_lb_request in = {.now = 1001};
        count[port_of(gw_balancer_pick(&p, svc, &cursor, &in, a)) - 9000]++;
    }
    /* two targets: both are always the two choices, the faster wins */
    assert_int_equal(count[2], 100);
    /* a failure counts as slow: 9002 fails, now 9001 (500 ms) is the better one */
    struct gw_pick p = {0};
    struct gw_lb_request in = {.now = 1001};
    gw_balancer_pick(&p, svc, &cursor, &in, a);
    assert_int_equal(port_of(p.target), 9002);
    gw_balancer_report(&p, GW_HEALTH_TCP_ERROR, 1001.001);
    memset(&p, 0, sizeof p);
    assert_int_equal(port_of(gw_balancer_pick(&p, svc, &cursor, &in, a)), 9001);
    gw_arena_destroy(a);
    gw_snapshot_unref(s);
}

/* ------------------------------------------------------------------ consistent hashing */

#define CH "  hash_on: header\n  hash_on_header: x-user\n"

static const struct gw_target *
pick_user(const struct gw_service *svc, const char *user, struct gw_arena *a, struct gw_pick *p)
{
    char raw[256];
    struct gw_http_head h;
    uint32_t cursor = 0;

    snprintf(raw, sizeof raw, "GET / HTTP/1.1\r\nHost: x\r\nX-User: %s\r\n\r\n", user);
    head(raw, &h);
    struct gw_lb_request in = {
        .client_ip = GW_STR_LIT("10.0.0.1"), .head = &h, .path = GW_STR_LIT("/"), .now = 1};
    memset(p, 0, sizeof *p);
    return gw_balancer_pick(p, svc, &cursor, &in, a);
}

static void
test_consistent_hashing(void **state)
{
    static const int p4[] = {9001, 9002, 9003, 9004, 0};
    static const int p3[] = {9004, 9001, 9003, 0}; /* 9002 removed, order changed */
    struct gw_snapshot *s4 = build(CH, p4, NULL), *s3 = build(CH, p3, NULL);
    const struct gw_service *a = &s4->services[0], *b = &s3->services[0];
    struct gw_arena *ar = gw_arena_create(0);
    struct gw_pick p;
    int count[5] = {0}, stayed = 0, survivors = 0;
    char user[32];
    (void)state;

    assert_int_equal(a->lb.algorithm, GW_LB_CONSISTENT_HASHING); /* implied by hash_on */
    assert_int_equal(a->lb.nring, 10000);
    for (int i = 0; i < 4000; i++) {
        snprintf(user, sizeof user, "user-%d", i);
        int pa = port_of(pick_user(a, user, ar, &p));
        assert_int_equal(port_of(pick_user(a, user, ar, &p)), pa); /* sticks */
        int pb = port_of(pick_user(b, user, ar, &p));
        count[pa - 9000]++;
        if (pa != 9002) {
            survivors++;
            stayed += pa == pb;
        } else {
            assert_int_not_equal(pb, 9002);
        }
        gw_arena_reset(ar);
    }
    /* equal weights: about a quarter each */
    for (int i = 1; i <= 4; i++) {
        assert_in_range(count[i], 800, 1200);
    }
    /* removing a target moves its keys; the others mostly stay (the survivors take over its
     * share of the slots, so a few move between survivors) */
    assert_true(stayed * 100 >= survivors * 75);
    gw_arena_destroy(ar);
    gw_snapshot_unref(s4);
    gw_snapshot_unref(s3);
}

static void
test_consistent_hashing_weights(void **state)
{
    static const int weights[] = {100, 300, 0};
    static const int ports[] = {9001, 9002, 0};
    struct gw_snapshot *s = build(CH "  slots: 10\n", ports, weights);
    const struct gw_service *svc = &s->services[0];
    struct gw_arena *ar = gw_arena_create(0);
    struct gw_pick p;
    int count[3] = {0};
    char user[32];
    (void)state;

    assert_int_equal(svc->lb.nring, 1000); /* slots below 1000 count as 1000 */
    for (int i = 0; i < 4000; i++) {
        snprintf(user, sizeof user, "u%d", i);
        count[port_of(pick_user(svc, user, ar, &p)) - 9000]++;
        gw_arena_reset(ar);
    }
    assert_in_range(count[1], 700, 1300);
    assert_in_range(count[2], 2700, 3300);
    gw_arena_destroy(ar);
    gw_snapshot_unref(s);
}

/* What each hash_on source hashes, seen through p.hash. */
static void
test_hash_sources(void **state)
{
    static const int ports[] = {9001, 9002, 0};
    static const struct {
        const char *settings;
        const char *request; /* head lines after the request line; "" none */
        const char *target;  /* NULL: "/" */
        const char *key;     /* what is hashed; NULL: a generated cookie */
    } cases[] = {
        {"  hash_on: ip\n", "", NULL, "10.0.0.7"},
        {CH, "X-User: alice\r\n", NULL, "alice"},
        {CH, "x-user: a\r\nOther: 1\r\nX-USER: b\r\n", NULL, "a, b"},
        {CH "  hash_fallback: ip\n", "", NULL, "10.0.0.7"},
        {CH "  hash_fallback: path\n", "X-Other: 1\r\n", "/a/b?x=1", "/a/b"},
        {"  hash_on: path\n", "", "/p/q?z=1", "/p/q"},
        {"  hash_on: query_arg\n  hash_on_query_arg: u\n", "", "/?a=1&u=b%20c&u=a&v=2", "a,b c"},
        {"  hash_on: query_arg\n  hash_on_query_arg: u\n", "", "/?u=x+y", "x y"},
        {"  hash_on: query_arg\n  hash_on_query_arg: u\n  hash_fallback: header\n"
         "  hash_fallback_header: h\n",
         "H: fb\r\n", "/?u", "fb"},
        {"  hash_on: uri_capture\n  hash_on_uri_capture: id\n", "", NULL, "42"},
        {"  hash_on: uri_capture\n  hash_on_uri_capture: '2'\n", "", NULL, "edit"},
        {"  hash_on: uri_capture\n  hash_on_uri_capture: nope\n", "", NULL, ""},
        {"  hash_on: consumer\n", "", NULL, ""}, /* no consumer yet, no fallback */
        {"  hash_on: consumer\n  hash_fallback: ip\n", "", NULL, "10.0.0.7"},
        {"  algorithm: consistent-hashing\n", "", NULL, ""},
        {"  hash_on: cookie\n  hash_on_cookie: sess\n", "Cookie: a=1; sess=abc; z=2\r\n", NULL,
         "abc"},
        {"  hash_on: cookie\n  hash_on_cookie: sess\n", "Cookie: a=1\r\nCookie: sess=xyz\r\n", NULL,
         "xyz"},
        {"  hash_on: cookie\n  hash_on_cookie: sess\n  hash_on_cookie_path: /app\n", "", NULL,
         NULL},
    };
    struct gw_route_match m = {.ncaptures = 2};
    (void)state;

    m.captures[0] = (struct gw_route_capture){GW_STR_LIT("id"), GW_STR_LIT("42")};
    m.captures[1] = (struct gw_route_capture){GW_STR_NULL, GW_STR_LIT("edit")};
    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        struct gw_snapshot *s = build(cases[i].settings, ports, NULL);
        const struct gw_service *svc = &s->services[0];
        struct gw_arena *a = gw_arena_create(0);
        struct gw_http_head h;
        struct gw_pick p = {0};
        char raw[512];
        uint32_t cursor = 0;
        const char *target = cases[i].target ? cases[i].target : "/";

        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", target, cases[i].request);
        head(raw, &h);
        struct gw_lb_request in = {
            .client_ip = GW_STR_LIT("10.0.0.7"), .head = &h, .path = h.path, .match = &m, .now = 1};
        assert_int_equal(svc->lb.algorithm, GW_LB_CONSISTENT_HASHING);
        assert_non_null(gw_balancer_pick(&p, svc, &cursor, &in, a));
        if (cases[i].key) {
            if (p.hash != gw_balancer_hash(cases[i].key, strlen(cases[i].key))) {
                fail_msg("case %zu: the hash is not that of \"%s\"", i, cases[i].key);
            }
            assert_string_equal(p.cookie, "");
            assert_null(gw_balancer_set_cookie(&p, a));
        } else {
            assert_int_equal(strlen(p.cookie), GW_UUID_LEN);
            assert_int_equal(p.hash, gw_balancer_hash(p.cookie, GW_UUID_LEN));
            char want[128];
            snprintf(want, sizeof want,
                     "Set-Cookie: sess=%s; Path=/app; Same-Site=Lax; HttpOnly\r\n", p.cookie);
            assert_string_equal(gw_balancer_set_cookie(&p, a), want);
        }
        gw_arena_destroy(a);
        gw_snapshot_unref(s);
    }
}

/* ------------------------------------------------------------------ retries */

static void
test_retries(void **state)
{
    static const char *const settings[] = {NULL, "  algorithm: least-connections\n", CH,
                                           "  algorithm: latency\n"};
    (void)state;

    for (size_t i = 0; i < TU_COUNT(settings); i++) {
        struct gw_snapshot *s = build(settings[i], P3, NULL);
        const struct gw_service *svc = &s->services[0];
        struct gw_arena *a = gw_arena_create(0);
        struct gw_pick p;
        const struct gw_target *first = pick_user(svc, "bob", a, &p), *t = first;
        int seen = 1 << (port_of(first) - 9000);
        /* each retry goes elsewhere than the try that failed */
        for (int k = 0; k < 6; k++) {
            const struct gw_target *next = gw_balancer_retry(&p, 2);
            assert_non_null(next);
            assert_ptr_not_equal(next, t);
            seen |= 1 << (port_of(next) - 9000);
            t = next;
        }
        if (i == 2) {
            /* consistent-hashing walks the ring: deterministic for the key */
            struct gw_pick q;
            assert_ptr_equal(pick_user(svc, "bob", a, &q), first);
            assert_ptr_not_equal(gw_balancer_retry(&q, 2), first);
        }
        assert_true(seen & (1 << 1) || seen & (1 << 2) || seen & (1 << 3));
        if (i == 1) {
            gw_arena_destroy(a); /* releases the last try */
            for (uint32_t k = 0; k < svc->ntargets; k++) {
                assert_int_equal(atomic_load(&svc->targets[k].peer->active), 0);
            }
        } else {
            gw_arena_destroy(a);
        }
        gw_snapshot_unref(s);
    }
}

/* ------------------------------------------------------------------ passive health */

/* A side with the given thresholds and Kong's default passive status lists. */
static struct gw_hc_side
passive(int successes, int http, int tcp, int timeouts)
{
    static const int good[] = {200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                               300, 301, 302, 303, 304, 305, 306, 307, 308};
    static const int bad[] = {429, 500, 503};
    struct gw_hc_side s = {.successes = (uint8_t)successes,
                           .http_failures = (uint8_t)http,
                           .tcp_failures = (uint8_t)tcp,
                           .timeouts = (uint8_t)timeouts};

    for (size_t i = 0; i < TU_COUNT(good); i++) {
        s.healthy_statuses[good[i] >> 6] |= 1ull << (good[i] & 63);
    }
    for (size_t i = 0; i < TU_COUNT(bad); i++) {
        s.unhealthy_statuses[bad[i] >> 6] |= 1ull << (bad[i] & 63);
    }
    return s;
}

#define T   GW_HEALTH_TCP_ERROR
#define O   GW_HEALTH_TIMEOUT
#define END 9999

static void
test_health_transitions(void **state)
{
    static const struct {
        int successes, http, tcp, timeouts;
        int outcomes[12];   /* ends with END */
        const char *states; /* after each outcome: H healthy, h mostly healthy, u mostly
                             * unhealthy, U unhealthy */
    } cases[] = {
        /* three HTTP failures in a row */
        {0, 3, 0, 0, {500, 500, 503, END}, "hhU"},
        /* 0 disables a counter: TCP errors and timeouts are ignored */
        {0, 3, 0, 0, {T, T, T, O, O, O, END}, "HHHHHH"},
        {0, 0, 2, 0, {500, 500, 500, T, T, END}, "HHHhU"},
        {0, 0, 0, 1, {T, O, END}, "HU"},
        /* statuses in neither list are ignored; 0 (an invalid response) is an HTTP failure */
        {0, 2, 0, 0, {404, 0, 404, 0, END}, "HhhU"},
        /* a success resets the failure counters, but only when successes counts */
        {1, 2, 0, 0, {500, 200, 500, 200, 500, 500, END}, "hHhHhU"},
        {0, 2, 0, 0, {500, 200, 500, END}, "hhU"},
        /* a failure of another kind counts on its own counter */
        {0, 2, 2, 0, {500, T, 500, END}, "hhU"},
        /* recovery: successes in a row; a failure on the way resets them */
        {2, 1, 0, 0, {500, 200, 500, 200, 200, END}, "UuUuH"},
        /* without successes an unhealthy target stays unhealthy */
        {0, 1, 0, 0, {500, 200, 200, 200, END}, "UUUU"},
    };
    (void)state;

    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        struct gw_hc_side side =
            passive(cases[i].successes, cases[i].http, cases[i].tcp, cases[i].timeouts);
        struct gw_peer *peer = gw_health_acquire(0x1234);
        char got[16] = {0};
        for (int k = 0; cases[i].outcomes[k] != END; k++) {
            enum gw_health_state st = gw_health_report(peer, &side, cases[i].outcomes[k], NULL);
            assert_int_equal(st, gw_peer_state(peer));
            got[k] = "HhuU"[st];
        }
        if (strcmp(got, cases[i].states) != 0) {
            fail_msg("case %zu: states %s, want %s", i, got, cases[i].states);
        }
        gw_health_release(peer);
    }
}

/* Reports through the balancer evict a target from every algorithm's picks; when none is
 * left the pick fails (503). */
static void
test_passive_eviction(void **state)
{
    static const char *const settings[] = {
        "  healthchecks: {passive: {unhealthy: {http_failures: 2}}}\n",
        "  algorithm: least-connections\n"
        "  healthchecks: {passive: {unhealthy: {http_failures: 2}}}\n",
        CH "  healthchecks: {passive: {unhealthy: {http_failures: 2}}}\n",
        "  algorithm: latency\n  healthchecks: {passive: {unhealthy: {http_failures: 2}}}\n",
    };
    static const int ports[] = {9001, 9002, 0};
    (void)state;

    for (size_t i = 0; i < TU_COUNT(settings); i++) {
        struct gw_snapshot *s = build(settings[i], ports, NULL);
        const struct gw_service *svc = &s->services[0];
        struct gw_arena *a = gw_arena_create(0);
        struct gw_pick p;
        assert_true(svc->hc->passive_on);
        assert_false(svc->hc->active_on);
        /* 9001 answers 500 twice */
        for (int n = 0; n < 2;) {
            if (port_of(pick_user(svc, "x", a, &p)) == 9001 ||
                port_of(gw_balancer_retry(&p, 1)) == 9001) {
                gw_balancer_report(&p, 500, 1);
                n++;
            }
        }
        assert_false(gw_peer_healthy(target_at(svc, 9001)->peer));
        for (int k = 0; k < 20; k++) {
            char user[16];
            snprintf(user, sizeof user, "k%d", k);
            assert_int_equal(port_of(pick_user(svc, user, a, &p)), 9002);
        }
        /* 9002 goes too: no peer */
        gw_balancer_report(&p, 503, 1);
        pick_user(svc, "x", a, &p);
        gw_balancer_report(&p, 500, 1);
        assert_null(pick_user(svc, "x", a, &p));
        assert_null(gw_balancer_retry(&p, 1));
        gw_arena_destroy(a);
        gw_snapshot_unref(s);
    }
}

/* Health lives outside snapshots: a new snapshot with the same target keeps it; an upstream
 * without passive checks ignores reports; threshold takes the whole upstream down. */
static void
test_health_survives_snapshots(void **state)
{
    static const char *hc = "  healthchecks: {passive: {unhealthy: {tcp_failures: 1}}}\n";
    static const int two[] = {9001, 9002, 0};
    static const int three[] = {9001, 9002, 9003, 0};
    struct gw_snapshot *s1 = build(hc, two, NULL);
    struct gw_arena *a = gw_arena_create(0);
    uint32_t cursor = 0;
    struct gw_pick p = {0};
    struct gw_lb_request in = {.now = 1};
    (void)state;

    while (port_of(gw_balancer_pick(&p, &s1->services[0], &cursor, &in, a)) != 9002) {
        memset(&p, 0, sizeof p);
    }
    gw_balancer_report(&p, T, 1);
    struct gw_snapshot *s2 = build(hc, three, NULL);
    assert_ptr_equal(target_at(&s2->services[0], 9002)->peer,
                     target_at(&s1->services[0], 9002)->peer);
    gw_snapshot_unref(s1);
    assert_false(gw_peer_healthy(target_at(&s2->services[0], 9002)->peer));
    assert_true(gw_peer_healthy(target_at(&s2->services[0], 9003)->peer));
    for (int i = 0; i < 30; i++) {
        assert_int_not_equal(port_of(pick1(&s2->services[0], &cursor, a)), 9002);
    }
    gw_snapshot_unref(s2);
    /* gone with the last snapshot that had it: a new one starts healthy */
    struct gw_snapshot *s3 = build(hc, two, NULL);
    assert_true(gw_peer_healthy(target_at(&s3->services[0], 9002)->peer));
    gw_snapshot_unref(s3);

    /* no passive counters: reports change nothing */
    struct gw_snapshot *s4 = build(NULL, two, NULL);
    for (int i = 0; i < 50; i++) {
        memset(&p, 0, sizeof p);
        gw_balancer_pick(&p, &s4->services[0], &cursor, &in, a);
        gw_balancer_report(&p, i % 2 ? 500 : T, 1);
    }
    assert_true(gw_peer_healthy(target_at(&s4->services[0], 9001)->peer));
    assert_true(gw_peer_healthy(target_at(&s4->services[0], 9002)->peer));
    gw_snapshot_unref(s4);

    /* threshold: 50% of the weight must be healthy */
    static const int w13[] = {100, 300};
    struct gw_snapshot *s5 = build("  healthchecks: {threshold: 50}\n", two, w13);
    const struct gw_service *svc = &s5->services[0];
    gw_health_set(target_at(svc, 9001)->peer, 0);
    assert_non_null(pick1(svc, &cursor, a)); /* 75% healthy */
    gw_health_set(target_at(svc, 9001)->peer, 1);
    gw_health_set(target_at(svc, 9002)->peer, 0);
    assert_null(pick1(svc, &cursor, a)); /* 25% */
    gw_snapshot_unref(s5);
    gw_arena_destroy(a);
}

/* The compiled healthchecks: Kong's defaults are all off; the active settings. */
static void
test_compile_healthchecks(void **state)
{
    static const int one[] = {9001, 0};
    (void)state;

    struct gw_snapshot *s = build(NULL, one, NULL);
    const struct gw_healthcheck *hc = s->services[0].hc;
    assert_false(hc->passive_on);
    assert_false(hc->active_on);
    assert_string_equal(hc->http_path, "/");
    assert_int_equal(hc->concurrency, 10);
    assert_true(hc->timeout_s == 1);
    gw_snapshot_unref(s);

    s = build("  healthchecks:\n"
              "    active:\n"
              "      type: tcp\n"
              "      timeout: 0.5\n"
              "      http_path: /health\n"
              "      headers: {x-probe: [a, b]}\n"
              "      healthy: {interval: 2, successes: 3, http_statuses: [204]}\n"
              "      unhealthy: {interval: 0.25, tcp_failures: 4, timeouts: 5}\n",
              one, NULL);
    hc = s->services[0].hc;
    assert_true(hc->active_on);
    assert_false(hc->passive_on);
    assert_int_equal(hc->active_type, GW_HC_TCP);
    assert_true(hc->timeout_s == 0.5);
    assert_true(hc->healthy_interval_s == 2);
    assert_true(hc->unhealthy_interval_s == 0.25);
    assert_string_equal(hc->http_path, "/health");
    assert_string_equal(hc->probe_headers, "x-probe: a\r\nx-probe: b\r\n");
    assert_int_equal(hc->active.successes, 3);
    assert_int_equal(hc->active.tcp_failures, 4);
    assert_int_equal(hc->active.timeouts, 5);
    assert_int_equal(hc->active.http_failures, 0);
    struct gw_peer *peer = s->services[0].targets[0].peer;
    /* 204 is the only healthy status now; 200 is in neither list */
    gw_health_set(peer, 0);
    for (int i = 0; i < 3; i++) {
        gw_health_report(peer, &hc->active, 200, NULL);
    }
    assert_false(gw_peer_healthy(peer));
    for (int i = 0; i < 3; i++) {
        gw_health_report(peer, &hc->active, 204, NULL);
    }
    assert_true(gw_peer_healthy(peer));
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
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_round_robin_weights),
        cmocka_unit_test(test_least_connections),
        cmocka_unit_test(test_least_connections_busy),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_consistent_hashing),
        cmocka_unit_test(test_consistent_hashing_weights),
        cmocka_unit_test(test_hash_sources),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_health_transitions),
        cmocka_unit_test(test_passive_eviction),
        cmocka_unit_test(test_health_survives_snapshots),
        cmocka_unit_test(test_compile_healthchecks),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
