/* realip through its header: trusted_ips parsing, and the client address nginx's realip
 * module would compute for a peer and a request head, per header and recursion setting. */
#include "testutil.h"

#include "http1.h"
#include "realip.h"

static void
test_trusted_ips(void **state)
{
    static const struct {
        const char *list;
        int rc;
    } parse[] = {
        {"127.0.0.1", 0},       {"10.0.0.0/8, 192.168.0.0/16", 0},
        {"0.0.0.0/0,::/0", 0},  {"::ffff:10.0.0.0/104", 0},
        {"unix:", 0},           {"1.2.3.4/33", -1},
        {"example.com", -1},    {"10.0.0.0/", -1},
        {"2001:db8::/129", -1}, {"1.2.3.4/-1", -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof parse / sizeof parse[0]; i++) {
        gw_realip_clear_trusted();
        if (gw_realip_add_trusted(parse[i].list) != parse[i].rc) {
            fail_msg("%s: want %d", parse[i].list, parse[i].rc);
        }
    }
    gw_realip_clear_trusted();
    assert_int_equal(gw_realip_add_trusted("10.0.0.0/8,2001:db8::/32,::ffff:172.16.0.0/108"), 0);
    assert_true(gw_realip_trusted("10.255.0.1"));
    assert_true(gw_realip_trusted("::ffff:10.1.2.3"));
    assert_true(gw_realip_trusted("2001:db8:1::5"));
    assert_true(gw_realip_trusted("172.16.9.9"));
    assert_false(gw_realip_trusted("172.32.0.1"));
    assert_false(gw_realip_trusted("11.0.0.1"));
    assert_false(gw_realip_trusted("2001:db9::1"));
    assert_false(gw_realip_trusted("garbage"));
    gw_realip_clear_trusted();
}

static void
test_client_address(void **state)
{
    static const struct {
        const char *trusted, *header;
        int recursive;
        const char *peer, *headers; /* header lines, each ending in \r\n */
        const char *want;
        int want_trusted;
    } cases[] = {
        /* untrusted peer: nothing changes */
        {"10.0.0.0/8", "X-Real-IP", 0, "127.0.0.1", "X-Real-IP: 1.2.3.4\r\n", "127.0.0.1", 0},
        {"", "X-Real-IP", 0, "127.0.0.1", "X-Real-IP: 1.2.3.4\r\n", "127.0.0.1", 0},
        /* trusted: the header, its port dropped, IPv6 normalized */
        {"127.0.0.1", "X-Real-IP", 0, "127.0.0.1", "X-Real-IP: 1.2.3.4\r\n", "1.2.3.4", 1},
        {"127.0.0.1", "X-Real-IP", 0, "127.0.0.1", "x-real-ip: 1.2.3.4:80\r\n", "1.2.3.4", 1},
        {"127.0.0.1", "X-Real-IP", 0, "127.0.0.1", "X-Real-IP: [2001:DB8::1]:80\r\n", "2001:db8::1",
         1},
        {"127.0.0.1", "X-Real-IP", 0, "127.0.0.1", "X-Real-IP: nope\r\n", "127.0.0.1", 1},
        {"127.0.0.1", "X-Real-IP", 0, "127.0.0.1", "", "127.0.0.1", 1},
        /* another header's first line counts */
        {"127.0.0.1", "X-Real-IP", 0, "127.0.0.1", "X-Real-IP: 1.1.1.1\r\nX-Real-IP: 2.2.2.2\r\n",
         "1.1.1.1", 1},
        /* X-Forwarded-For: the last entry; recursive skips trusted ones */
        {"127.0.0.1,10.0.0.0/8", "X-Forwarded-For", 0, "127.0.0.1",
         "X-Forwarded-For: 1.1.1.1, 10.0.0.1\r\n", "10.0.0.1", 1},
        {"127.0.0.1,10.0.0.0/8", "X-Forwarded-For", 1, "127.0.0.1",
         "X-Forwarded-For: 1.1.1.1, 2.2.2.2,10.0.0.1 , \r\n", "2.2.2.2", 1},
        {"127.0.0.1,10.0.0.0/8", "X-Forwarded-For", 1, "127.0.0.1",
         "X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.1\r\n", "1.1.1.1", 1},
        {"0.0.0.0/0", "X-Forwarded-For", 1, "127.0.0.1", "X-Forwarded-For: 3.3.3.3, 4.4.4.4\r\n",
         "3.3.3.3", 1},
        /* a bad entry stops the walk: what was found stays */
        {"127.0.0.1,10.0.0.0/8", "X-Forwarded-For", 1, "127.0.0.1",
         "X-Forwarded-For: 1.1.1.1, bad, 10.0.0.1\r\n", "10.0.0.1", 1},
        {"127.0.0.1", "X-Forwarded-For", 1, "127.0.0.1", "X-Forwarded-For: bad\r\n", "127.0.0.1",
         1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char raw[512], out[64];
        struct gw_http_head h;
        snprintf(raw, sizeof raw, "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", cases[i].headers);
        assert_true(gw_http1_parse_request(raw, strlen(raw), NULL, &h) > 0);
        gw_realip_clear_trusted();
        assert_int_equal(gw_realip_add_trusted(cases[i].trusted), 0);
        assert_int_equal(gw_realip_set_header(cases[i].header), 0);
        gw_realip_set_recursive(cases[i].recursive);
        int t = gw_realip_client(cases[i].peer, &h, out, sizeof out);
        if (strcmp(out, cases[i].want) != 0 || t != cases[i].want_trusted) {
            fail_msg("case %zu: got %s (trusted %d), want %s (%d)", i, out, t, cases[i].want,
                     cases[i].want_trusted);
        }
    }
    gw_realip_clear_trusted();
    gw_realip_set_header("X-Real-IP");
    gw_realip_set_recursive(0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trusted_ips),
        cmocka_unit_test(test_client_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
