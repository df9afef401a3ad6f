/* dp/http1.c: request and response heads (valid forms, every refusal with its status, limits),
 * incremental parsing of every case byte by byte, the response body rule, and the chunked
 * scanner split at every offset. Inputs are copied into exact-size heap buffers so that ASan
 * (make unit SAN=1) catches any read past the bytes given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define WHOLE    1 /* rc: the whole input is the head */

enum {
    F_CHUNKED = 1,
    F_CLOSE = 2,
    F_KEEP_ALIVE = 4,
    F_UPGRADE = 8,
    F_EXPECT = 16,
};

/* ---- helpers ---- */

/* A heap copy of exactly n bytes: reading past them is an ASan error. */
static char *
dup_exact(const char *p, size_t n)
{
    char *b = malloc(n ? n : 1);

    assert_non_null(b);
    if (n) {
        memcpy(b, p, n);
    }
    return b;
}

static int
parse_req(const char *p, size_t n, const struct gw_http_limits *lim, struct gw_http_head *h)
{
    char *b = dup_exact(p, n);
    int rc = gw_http1_parse_request(b, n, lim, h);

    /* the head points into the buffer: compare before freeing, so rebase onto p */
    if (rc > 0) {
        ptrdiff_t d = p - b;
        struct gw_str *all[] = {&h->method, &h->target, &h->path,   &h->query,
                                &h->reason, &h->host,   &h->upgrade};
        for (size_t i = 0; i < COUNT(all); i++) {
            if (all[i]->p >= b && all[i]->p <= b + n) {
                all[i]->p += d;
            }
        }
        for (unsigned i = 0; i < h->nheaders; i++) {
            h->headers[i].name.p += d;
            h->headers[i].value.p += d;
        }
    }
    free(b);
    return rc;
}

static int
parse_resp(const char *p, size_t n, const struct gw_http_limits *lim, struct gw_http_head *h)
{
    char *b = dup_exact(p, n);
    int rc = gw_http1_parse_response(b, n, lim, h);

    if (rc > 0) {
        ptrdiff_t d = p - b;
        if (h->reason.p != NULL) {
            h->reason.p += d;
        }
    }
    free(b);
    return rc;
}

/* NULL stands for .p == NULL (absent); anything else must match exactly. */
static int
str_is(struct gw_str s, const char *want)
{
    if (want == NULL) {
        return s.p == NULL;
    }
    return s.p != NULL && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static void
show(const char *what, size_t i, const char *p, size_t n)
{
    char out[400];
    size_t o = 0;

    for (size_t k = 0; k < n && o + 5 < sizeof out; k++) {
        unsigned char c = (unsigned char)p[k];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
        }
    }
    out[o] = '\0';
    print_error("%s[%zu]: %s\n", what, i, out);
}

/* Every prefix of p[0..n) must give 0 or the answer for the whole, and a non-zero answer must stay:
 * a head fed byte by byte ends exactly where a whole one does. */
static int
check_prefixes(int response, const char *p, size_t n, const struct gw_http_limits *lim, int want)
{
    struct gw_http_head h;
    int seen = 0;

    for (size_t k = 0; k <= n; k++) {
        int rc = response ? parse_resp(p, k, lim, &h) : parse_req(p, k, lim, &h);
        if (rc != 0 && rc != want) {
            print_error("prefix %zu of %zu: %d, want %d\n", k, n, rc, want);
            return 1;
        }
        if (seen && rc == 0) {
            print_error("prefix %zu of %zu: 0 after an answer\n", k, n);
            return 1;
        }
        if (want > 0 && (rc != 0) != (k >= (size_t)want)) {
            print_error("prefix %zu of %zu: %d for a head of %d\n", k, n, rc, want);
            return 1;
        }
        seen |= rc != 0;
    }
    return 0;
}

/* ---- valid requests ---- */

static const struct {
    const char *raw;
    const char *method, *path, *query, *host;
    int minor;
    int64_t cl;
    unsigned flags;
    unsigned nheaders;
} ok_cases[] = {
    {"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", "/", NULL, "example.com", 1, -1, 0, 1},
    {"POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", "POST", "/submit", NULL, "a",
     1, 11, 0, 2},
    {"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", "/up", NULL, "a",
     1, -1, F_CHUNKED, 2},
    /* case-insensitive coding, OWS around it */
    {"PUT /up HTTP/1.1\r\nTransfer-Encoding: \t ChUnKeD \t\r\nHost: a\r\n\r\n", "PUT", "/up", NULL,
     "a", 1, -1, F_CHUNKED, 2},
    {"GET /search?q=1&r=%20x HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/search", "q=1&r=%20x", "a", 1,
     -1, 0, 1},
    {"GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/a", "", "a", 1, -1, 0, 1},
    {"GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/a", "b?c", "a", 1, -1, 0, 1},
    {"GET /old HTTP/1.0\r\n\r\n", "GET", "/old", NULL, NULL, 0, -1, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", "/", NULL, NULL, 0, -1,
     F_KEEP_ALIVE, 1},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET", "/", NULL, "a", 1, -1,
     F_CLOSE, 2},
    {"GET / HTTP/1.1\r\nHost: a\r\nconnection: Keep-Alive , TE,CLOSE\r\n\r\n", "GET", "/", NULL,
     "a", 1, -1, F_CLOSE | F_KEEP_ALIVE, 2},
    {"GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
     "GET", "/chat", NULL, "ws.example", 1, -1, F_UPGRADE, 5},
    {"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n", "POST",
     "/x", NULL, "a", 1, 5, F_EXPECT, 3},
    /* RFC 9110 10.1.1, 7.8: Expect and Upgrade are ignored in HTTP/1.0 */
    {"POST /x HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\nUpgrade: websocket\r\n"
     "Connection: upgrade\r\n\r\n",
     "POST", "/x", NULL, NULL, 0, 5, F_UPGRADE, 4},
    /* RFC 9112 3.2.2: absolute-form; its authority replaces Host */
    {"GET http://example.com/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n", "GET", "/p/q", "x=1",
     "example.com", 1, -1, 0, 1},
    {"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", "/", NULL,
     "example.com", 1, -1, 0, 1},
    {"GET HTTPS://Example.com:8443?q HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/", "q",
     "Example.com:8443", 1, -1, 0, 1},
    {"GET http://[::1]:8080/v HTTP/1.0\r\n\r\n", "GET", "/v", NULL, "[::1]:8080", 0, -1, 0, 0},
    {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "*", NULL, "a", 1, -1, 0, 1},
    {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "CONNECT", NULL, NULL,
     "example.com:443", 1, -1, 0, 1},
    {"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", "CONNECT", NULL, NULL, "[::1]:8443",
     1, -1, 0, 1},
    {"DELETE /r/1 HTTP/1.1\r\nHost: a\r\n\r\n", "DELETE", "/r/1", NULL, "a", 1, -1, 0, 1},
    {"PATCH /r HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "PATCH", "/r", NULL, "a", 1, 0, 0,
     2},
    {"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", "HEAD", "/", NULL, "a", 1, -1, 0, 1},
    {"PURGE /cache HTTP/1.1\r\nHost: a\r\n\r\n", "PURGE", "/cache", NULL, "a", 1, -1, 0, 1},
    {"M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n", "M-SEARCH", "/x", NULL, "a", 1, -1, 0, 1},
    /* RFC 9112 2.2: empty lines before the request line are skipped */
    {"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", NULL, "a", 1, -1, 0, 1},
    {"GET / HTTP/1.1\r\nHOST:a\r\nX-Empty:\r\nX-Pad: \t v  w \t\r\n\r\n", "GET", "/", NULL, "a", 1,
     -1, 0, 3},
    {"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n", "GET", "/caf\xc3\xa9",
     NULL, "a", 1, -1, 0, 2},
    /* every tchar in a name */
    {"GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n", "GET", "/", NULL, "a", 1, -1,
     0, 2},
    {"GET / HTTP/1.1\r\nHost: localhost:8000\r\n\r\n", "GET", "/", NULL, "localhost:8000", 1, -1, 0,
     1},
    {"GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", "GET", "/", NULL, "[2001:db8::1]:443", 1,
     -1, 0, 1},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", "GET", "/", NULL, "", 1, -1, 0, 1}, /* RFC 9112 3.2 */
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", "POST", "/", NULL, "a", 1, 7, 0,
     2},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", "POST", "/", NULL,
     "a", 1, INT64_MAX, 0, 2},
    /* an Upgrade field without the Connection option: recorded, not acted on */
    {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n", "GET", "/", NULL, "a", 1, -1, 0, 2},
    {"GET /%7Euser/a%2Fb;p=1 HTTP/1.1\r\nHost: a\r\nCookie: a=b; c=\"d e\"\r\n\r\n", "GET",
     "/%7Euser/a%2Fb;p=1", NULL, "a", 1, -1, 0, 2},
};

static void
test_request_ok(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < COUNT(ok_cases); i++) {
        const char *raw = ok_cases[i].raw;
        size_t n = strlen(raw);
        struct gw_http_head h;
        int rc = parse_req(raw, n, NULL, &h);
        unsigned flags = (h.chunked ? F_CHUNKED : 0) | (h.conn_close ? F_CLOSE : 0) |
                         (h.conn_keep_alive ? F_KEEP_ALIVE : 0) | (h.conn_upgrade ? F_UPGRADE : 0) |
                         (h.expect_continue ? F_EXPECT : 0);
        if (rc != (int)n || !str_is(h.method, ok_cases[i].method) ||
            !str_is(h.path, ok_cases[i].path) || !str_is(h.query, ok_cases[i].query) ||
            !str_is(h.host, ok_cases[i].host) || h.minor != ok_cases[i].minor ||
            h.content_length != ok_cases[i].cl || flags != ok_cases[i].flags ||
            h.nheaders != ok_cases[i].nheaders) {
            show("ok_cases", i, raw, n);
            print_error("  rc=%d minor=%d cl=%lld flags=%u nheaders=%u\n", rc, h.minor,
                        (long long)h.content_length, flags, h.nheaders);
            failed++;
            continue;
        }
        /* the target is what was sent, in place; bytes after the head are not ours */
        const char *line = raw + strspn(raw, "\r\n");
        const char *t = line + strcspn(line, " ") + 1;
        if (h.target.p != t || h.target.n != strcspn(t, " ")) {
            show("ok_cases(target)", i, raw, n);
            failed++;
        }
        char *more = malloc(n + 9);
        assert_non_null(more);
        memcpy(more, raw, n);
        memcpy(more + n, "GET / HTT", 9);
        if (parse_req(more, n + 9, NULL, &h) != (int)n) {
            show("ok_cases(+pipelined)", i, raw, n);
            failed++;
        }
        free(more);
        failed += check_prefixes(0, raw, n, NULL, (int)n);
    }
    assert_int_equal(failed, 0);
}

static void
test_request_fields(void **state)
{
    static const char raw[] = "GET /w HTTP/1.1\r\nHost: a\r\nUpgrade:  websocket \r\n"
                              "X-Trim: \t  spaced out\t \r\nX-Empty:   \r\n\r\n";
    struct gw_http_head h;

    (void)state;
    assert_int_equal(parse_req(raw, sizeof raw - 1, NULL, &h), (int)sizeof raw - 1);
    assert_true(str_is(h.upgrade, "websocket"));
    assert_int_equal(h.nheaders, 4);
    assert_true(str_is(h.headers[0].name, "Host"));
    assert_true(str_is(h.headers[2].name, "X-Trim"));
    assert_true(str_is(h.headers[2].value, "spaced out"));
    assert_true(str_is(h.headers[3].value, ""));
    assert_true(str_is(h.target, "/w"));
    static const char old[] = "GET /w HTTP/1.0\r\nUpgrade: websocket\r\n\r\n";
    assert_int_equal(parse_req(old, sizeof old - 1, NULL, &h), (int)sizeof old - 1);
    assert_null(h.upgrade.p);
}

/* ---- refused requests ---- */

static const struct {
    const char *raw;
    int rc;
    size_t len; /* 0: strlen(raw); else the input holds NUL bytes */
} bad_cases[] = {
    /* framing ambiguity (RFC 9112 6.3, 11.2) */
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -400,
     0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", -400,
     0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -501, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n"
     "\r\n",
     -501, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
     "\r\n",
     -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunk\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", -400, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x\x80, chunked\r\n\r\n", -400, 0},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400, 0}, /* RFC 9112 6.1 */
    /* line syntax */
    {"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n\tb\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\nHost: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\n\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\r", -400, 0},
    {"GET / HTTP/1.1\rHost: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", -400, 0},
    {"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nX@Y: 1\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", -400,
     sizeof("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n") - 1},
    {"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", -400,
     sizeof("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n") - 1},
    {"GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", -400,
     sizeof("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n") - 1},
    {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", -400, 0},
    {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET /\r\n\r\n", -400, 0}, /* HTTP/0.9 */
    /* versions */
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505, 0},
    {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", -505, 0},
    {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", -505, 0},
    {"GET / HTTP/3.0\r\n\r\n", -505, 0},
    {"GET / http/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET / HTTP/11\r\nHost: a\r\n\r\n", -400, 0},
    {"GET / FOO/1.1\r\nHost: a\r\n\r\n", -400, 0},
    /* Host (RFC 9112 3.2) */
    {"GET / HTTP/1.1\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", -400, 0},
    {"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", -400, 0},
    {"GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", -400, 0},
    /* target forms */
    {"GET example.com/p HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET ftp://example.com/p HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET http://user@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET http:/example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"CONNECT /p HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"CONNECT [::1] HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"CONNECT a: HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
    {"CONNECT 443 HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0},
};

static void
test_request_bad(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < COUNT(bad_cases); i++) {
        const char *raw = bad_cases[i].raw;
        size_t n = bad_cases[i].len ? bad_cases[i].len : strlen(raw);
        struct gw_http_head h;
        int rc = parse_req(raw, n, NULL, &h);
        if (rc != bad_cases[i].rc) {
            show("bad_cases", i, raw, n);
            print_error("  got %d, want %d\n", rc, bad_cases[i].rc);
            failed++;
            continue;
        }
        failed += check_prefixes(0, raw, n, NULL, rc);
    }
    assert_int_equal(failed, 0);
}

/* ---- limits ---- */

/* A request whose line is line_len bytes (without CRLF), with Host and extra headers, padded by
 * one more header to head_len bytes when head_len is not 0. Returns its length. */
static size_t
build(char *out, size_t cap, size_t line_len, unsigned extra, size_t head_len)
{
    size_t n = 0;

    assert_true(line_len >= 14 && line_len + 64 < cap);
    n += (size_t)snprintf(out, cap, "GET /");
    memset(out + n, 'a', line_len - 14);
    n += line_len - 14;
    n += (size_t)snprintf(out + n, cap - n, " HTTP/1.1\r\nHost: x\r\n");
    for (unsigned i = 0; i < extra; i++) {
        assert_true(n + 32 < cap);
        n += (size_t)snprintf(out + n, cap - n, "X-%u: v\r\n", i);
    }
    if (head_len) {
        assert_true(head_len >= n + 7 && head_len < cap);
        size_t pad = head_len - n - 7; /* "P: " pad "\r\n" "\r\n" */
        memcpy(out + n, "P: ", 3);
        memset(out + n + 3, 'p', pad);
        n += 3 + pad;
        memcpy(out + n, "\r\n", 2);
        n += 2;
    }
    memcpy(out + n, "\r\n", 2);
    return n + 2;
}

static const struct gw_http_limits small = {64, 256, 4};

static const struct {
    const struct gw_http_limits *lim;
    size_t line_len;
    unsigned extra;  /* headers besides Host */
    size_t head_len; /* 0: unpadded */
    size_t cut;      /* feed only this many bytes (0: all) */
    int rc;          /* WHOLE or a refusal */
} limit_cases[] = {
    {&small, 64, 0, 0, 0, WHOLE},
    {&small, 65, 0, 0, 0, -414},
    {&small, 65, 0, 0, 65, -414}, /* no CRLF yet: refused as soon as it cannot fit */
    {&small, 200, 0, 0, 100, -414},
    {&small, 60, 0, 0, 64, 0}, /* not too long yet */
    {&small, 20, 0, 256, 0, WHOLE},
    {&small, 20, 0, 257, 0, -431},
    {&small, 20, 0, 300, 257, -431}, /* incomplete, already too large */
    {&small, 20, 0, 300, 256, 0},
    {&small, 20, 3, 0, 0, WHOLE}, /* 4 headers */
    {&small, 20, 4, 0, 0, -431},  /* 5 */
    {&gw_http_default_limits, 8192, 0, 0, 0, WHOLE},
    {&gw_http_default_limits, 8193, 0, 0, 0, -414},
    {&gw_http_default_limits, 20, 0, 32768, 0, WHOLE},
    {&gw_http_default_limits, 20, 0, 32769, 0, -431},
    {&gw_http_default_limits, 20, 99, 0, 0, WHOLE},
    {&gw_http_default_limits, 20, 100, 0, 0, -431},
    /* a line longer than the whole head limit trips the head limit first */
    {&(const struct gw_http_limits){1000, 100, 10}, 200, 0, 0, 0, -431},
};

static void
test_limits(void **state)
{
    static char buf[40000];
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < COUNT(limit_cases); i++) {
        size_t n = build(buf, sizeof buf, limit_cases[i].line_len, limit_cases[i].extra,
                         limit_cases[i].head_len);
        if (limit_cases[i].cut) {
            n = limit_cases[i].cut;
        }
        int want = limit_cases[i].rc == WHOLE ? (int)n : limit_cases[i].rc;
        struct gw_http_head h;
        int rc = parse_req(buf, n, limit_cases[i].lim, &h);
        if (rc != want) {
            print_error("limit_cases[%zu]: got %d, want %d (len %zu)\n", i, rc, want, n);
            failed++;
            continue;
        }
        if (limit_cases[i].lim == &small) {
            failed += check_prefixes(0, buf, n, &small, rc);
        }
    }
    assert_int_equal(failed, 0);
}

/* ---- responses ---- */

static const struct {
    const char *raw;
    int rc;
    int status;
    const char *reason;
    int minor;
    int64_t cl;
    int chunked;
} resp_cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", WHOLE, 200, "OK", 1, 5, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", WHOLE, 200, "OK", 1, -1, 1},
    {"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", WHOLE, 200, "OK", 0, -1, 0},
    {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", WHOLE, 404, "Not Found", 1, 0, 0},
    {"HTTP/1.1 100 Continue\r\n\r\n", WHOLE, 100, "Continue", 1, -1, 0},
    {"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", WHOLE, 103, "Early Hints",
     1, -1, 0},
    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", WHOLE,
     101, "Switching Protocols", 1, -1, 0},
    {"HTTP/1.1 204 No Content\r\n\r\n", WHOLE, 204, "No Content", 1, -1, 0},
    {"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", WHOLE, 304, "Not Modified", 1, -1, 0},
    {"HTTP/1.1 200 \r\n\r\n", WHOLE, 200, "", 1, -1, 0},
    {"HTTP/1.1 200\r\n\r\n", WHOLE, 200, "", 1, -1, 0},
    {"HTTP/1.1 599 Odd\tReason \xe9\r\n\r\n", WHOLE, 599, "Odd\tReason \xe9", 1, -1, 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -502, 0, NULL, 0,
     0, 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/2.0 200 OK\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 20 OK\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 2000 OK\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 099 OK\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1  200 OK\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 200 OK\nServer: x\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"HTTP/1.1 200 O\x01K\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"ICY 200 OK\r\n\r\n", -502, 0, NULL, 0, 0, 0},
    {"\r\nHTTP/1.1 200 OK\r\n\r\n", -502, 0, NULL, 0, 0, 0},
};

static void
test_response(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < COUNT(resp_cases); i++) {
        const char *raw = resp_cases[i].raw;
        size_t n = strlen(raw);
        int want = resp_cases[i].rc == WHOLE ? (int)n : resp_cases[i].rc;
        struct gw_http_head h;
        int rc = parse_resp(raw, n, NULL, &h);
        if (rc != want ||
            (rc > 0 &&
             (h.status != resp_cases[i].status || !str_is(h.reason, resp_cases[i].reason) ||
              h.minor != resp_cases[i].minor || h.content_length != resp_cases[i].cl ||
              (int)h.chunked != resp_cases[i].chunked))) {
            show("resp_cases", i, raw, n);
            print_error("  rc=%d status=%d\n", rc, h.status);
            failed++;
            continue;
        }
        failed += check_prefixes(1, raw, n, NULL, rc);
    }
    /* the status line obeys the line limit, as a 502 */
    struct gw_http_head h;
    const struct gw_http_limits lim = {16, 256, 4};
    assert_int_equal(parse_resp("HTTP/1.1 200 OK\r\n\r\n", 19, &lim, &h), 19);
    assert_int_equal(parse_resp("HTTP/1.1 200 OKAY\r\n\r\n", 21, &lim, &h), -502);
    assert_int_equal(parse_resp("HTTP/1.1 200 OKAY", 17, &lim, &h), -502);
    assert_int_equal(failed, 0);
}

static const struct {
    const char *method;
    int status;
    int want;
} body_cases[] = {
    {"GET", 200, 1},     {"GET", 404, 1},  {"POST", 500, 1},   {"GET", 100, 0},
    {"GET", 101, 0},     {"GET", 103, 0},  {"GET", 204, 0},    {"GET", 304, 0},
    {"HEAD", 200, 0},    {"HEAD", 404, 0}, {"head", 200, 1},   {"CONNECT", 200, 0},
    {"CONNECT", 407, 1}, {"GET", 205, 1},  {"DELETE", 202, 1},
};

static void
test_response_has_body(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(body_cases); i++) {
        struct gw_str m = {body_cases[i].method, strlen(body_cases[i].method)};
        if (gw_http1_response_has_body(m, body_cases[i].status) != body_cases[i].want) {
            print_error("body_cases[%zu]: %s %d\n", i, body_cases[i].method, body_cases[i].status);
            fail();
        }
    }
}

/* ---- chunked bodies ---- */

struct scan_result {
    ssize_t used; /* bytes that belong to the body, or -1 */
    int done;
    uint64_t payload;
};

/* Scans p[0..n) in pieces: cut1 and cut2 split it in three (heap copies of exactly each). */
static struct scan_result
scan3(const char *p, size_t n, size_t cut1, size_t cut2)
{
    struct gw_chunked c = {0};
    struct scan_result r = {0, 0, 0};
    size_t at[4] = {0, cut1, cut2, n};

    for (int k = 0; k < 3; k++) {
        char *b = dup_exact(p + at[k], at[k + 1] - at[k]);
        int done = 0;
        ssize_t got = gw_chunked_scan(&c, b, at[k + 1] - at[k], &done);
        free(b);
        if (got < 0) {
            r.used = -1;
            break;
        }
        if (got > (ssize_t)(at[k + 1] - at[k])) {
            fail_msg("scan returned more than it was given");
        }
        r.used += got;
        r.done = done;
        if (done) {
            break;
        }
        if (got != (ssize_t)(at[k + 1] - at[k])) {
            fail_msg("scan stopped early without being done");
        }
    }
    r.payload = c.payload_bytes;
    return r;
}

static const struct {
    const char *raw;
    ssize_t used; /* -1: malformed */
    int done;
    uint64_t payload;
} chunk_cases[] = {
    {"0\r\n\r\n", 5, 1, 0},
    {"5\r\nhello\r\n0\r\n\r\n", 15, 1, 5},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 26, 1, 11},
    {"A\r\n0123456789\r\n0\r\n\r\n", 20, 1, 10},
    {"a\r\n0123456789\r\n00\r\n\r\n", 21, 1, 10},
    {"000005\r\nhello\r\n0\r\n\r\n", 20, 1, 5},
    {"5;name=value\r\nhello\r\n0;last\r\n\r\n", 31, 1, 5},
    {"5;a=\"q; s\";b\r\nhello\r\n0\r\n\r\n", 26, 1, 5},
    {"5 \t;x\r\nhello\r\n0\r\n\r\n", 19, 1, 5}, /* BWS before an extension */
    {"0\r\nX-Sum: abc\r\nY:\r\n\r\n", 21, 1, 0},
    {"2\r\nhi\r\n0\r\nChecksum: \t1 2\r\n\r\n", 28, 1, 2},
    {"0\r\n\r\nGET / HTTP/1.1\r\n", 5, 1, 0}, /* the next request is not ours */
    {"5\r\nhel", 6, 0, 3},
    {"5\r\nhello\r", 9, 0, 5},
    {"5\r", 2, 0, 0},
    {"", 0, 0, 0},
    {"4000000000000000\r\n", 18, 0, 0}, /* 2^62: allowed */
    {"4000000000000001\r\n", -1, 0, 0},
    {"10000000000000000\r\n", -1, 0, 0},
    {"ffffffffffffffffffff\r\n", -1, 0, 0},
    {"\r\n", -1, 0, 0},
    {"x\r\n", -1, 0, 0},
    {"-5\r\nhello\r\n", -1, 0, 0},
    {"+5\r\nhello\r\n", -1, 0, 0},
    {"0x5\r\nhello\r\n", -1, 0, 0},
    {" 5\r\nhello\r\n", -1, 0, 0},
    {"5 \r\nhello\r\n", -1, 0, 0},
    {"5\nhello\r\n0\r\n\r\n", -1, 0, 0},
    {"5\r\nhelloX\r\n0\r\n\r\n", -1, 0, 0},
    {"5\r\nhello\n0\r\n\r\n", -1, 0, 0},
    {"5\r\nhello\r\r0\r\n\r\n", -1, 0, 0},
    {"5;a\nb\r\nhello\r\n", -1, 0, 0},
    {"5;\x01\r\nhello\r\n", -1, 0, 0},
    {"5\r\rhello\r\n", -1, 0, 0},
    {"0\r\n X: y\r\n\r\n", -1, 0, 0},
    {"0\r\nX : y\r\n\r\n", -1, 0, 0},
    {"0\r\n: y\r\n\r\n", -1, 0, 0},
    {"0\r\nX: y\n\r\n", -1, 0, 0},
    {"0\r\nX: a\x7f\r\n\r\n", -1, 0, 0},
    {"0\r\n\n", -1, 0, 0},
    {"0\r\n\r\r", -1, 0, 0},
    {"0\n\r\n", -1, 0, 0},
};

static int
check_chunked(const char *what, size_t i, const char *raw, size_t n, ssize_t used, int done,
              uint64_t payload)
{
    struct scan_result want = {used, done, payload};

    /* whole, split in two at every offset, then byte by byte */
    for (size_t cut = 0; cut <= n + 1; cut++) {
        struct scan_result r;
        if (cut <= n) {
            r = scan3(raw, n, cut, n);
        } else {
            struct gw_chunked c = {0};
            int d = 0;
            r = (struct scan_result){0, 0, 0};
            for (size_t k = 0; k < n && !d; k++) {
                char b = raw[k];
                ssize_t got = gw_chunked_scan(&c, &b, 1, &d);
                if (got < 0) {
                    r.used = -1;
                    break;
                }
                r.used += got;
            }
            r.done = d;
            r.payload = c.payload_bytes;
        }
        if (r.used != want.used || r.done != want.done ||
            (want.used >= 0 && r.payload != want.payload)) {
            show(what, i, raw, n < 300 ? n : 300);
            print_error("  cut %zu: used %zd done %d payload %llu\n", cut, r.used, r.done,
                        (unsigned long long)r.payload);
            return 1;
        }
    }
    return 0;
}

static void
test_chunked(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < COUNT(chunk_cases); i++) {
        failed += check_chunked("chunk_cases", i, chunk_cases[i].raw, strlen(chunk_cases[i].raw),
                                chunk_cases[i].used, chunk_cases[i].done, chunk_cases[i].payload);
    }
    assert_int_equal(failed, 0);
}

/* Size lines and trailer lines are bounded (4 KiB each, 16 KiB of trailers). */
static void
test_chunked_bounds(void **state)
{
    static char buf[24000];
    size_t n;

    (void)state;
    /* an extension that fills the size line to exactly 4096 bytes, then one byte more */
    for (int extra = 0; extra <= 1; extra++) {
        n = 0;
        buf[n++] = '1';
        buf[n++] = ';';
        memset(buf + n, 'e', 4094 + (size_t)extra);
        n += 4094 + (size_t)extra;
        memcpy(buf + n, "\r\nx\r\n0\r\n\r\n", 10);
        n += 10;
        assert_int_equal(
            check_chunked("ext", (size_t)extra, buf, n, extra ? -1 : (ssize_t)n, !extra, 1), 0);
    }
    /* one long trailer line */
    n = 0;
    memcpy(buf, "0\r\nX: ", 6);
    n = 6;
    memset(buf + n, 'v', 4200);
    n += 4200;
    memcpy(buf + n, "\r\n\r\n", 4);
    n += 4;
    assert_int_equal(check_chunked("trailer line", 0, buf, n, -1, 0, 0), 0);
    /* many short trailers: 4 KiB lines are fine until the section passes 16 KiB */
    for (int lines = 4; lines <= 5; lines++) {
        n = 0;
        memcpy(buf, "0\r\n", 3);
        n = 3;
        for (int k = 0; k < lines; k++) {
            memcpy(buf + n, "X: ", 3);
            memset(buf + n + 3, 'v', 4000);
            memcpy(buf + n + 4003, "\r\n", 2);
            n += 4005;
        }
        memcpy(buf + n, "\r\n", 2);
        n += 2;
        struct scan_result r = scan3(buf, n, n, n);
        assert_int_equal(r.used, lines == 4 ? (ssize_t)n : -1);
    }
    /* a large chunk is skipped in one step, and its payload counted */
    struct gw_chunked c = {0};
    int done = 0;
    assert_int_equal(gw_chunked_scan(&c, "100000\r\n", 8, &done), 8);
    memset(buf, 'z', sizeof buf);
    for (int k = 0; k < 52; k++) {
        assert_int_equal(gw_chunked_scan(&c, buf, 20000, &done), 20000);
    }
    assert_int_equal(c.payload_bytes, 1040000);
    assert_int_equal(gw_chunked_scan(&c, buf, 8576, &done), 8576);
    assert_int_equal(gw_chunked_scan(&c, "\r\n0\r\n\r\nrest", 11, &done), 7);
    assert_int_equal(done, 1);
    assert_int_equal(c.payload_bytes, 0x100000);
    /* done stays done; an error stays an error */
    assert_int_equal(gw_chunked_scan(&c, "more", 4, &done), 0);
    assert_int_equal(done, 1);
    struct gw_chunked e = {0};
    assert_int_equal(gw_chunked_scan(&e, "z", 1, &done), -1);
    assert_int_equal(gw_chunked_scan(&e, "0\r\n\r\n", 5, &done), -1);
    assert_int_equal(gw_chunked_scan(&e, "", 0, &done), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_ok),  cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_request_bad), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_response),    cmocka_unit_test(test_response_has_body),
        cmocka_unit_test(test_chunked),     cmocka_unit_test(test_chunked_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
