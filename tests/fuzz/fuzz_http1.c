/* Fuzz target: HTTP/1 framing (dp/http1.c). The same bytes are parsed as a request head (with
 * the default and with small limits), as a response head and as a chunked body, and the
 * answers are checked against what the contract promises:
 *  - a head's length is at most the input, every string points inside the head, names are
 *    tokens, values carry no control bytes or surrounding blanks, and no head has both a length
 *    and chunked framing, two lengths or (requests) two Hosts;
 *  - any prefix gives 0 or the same answer (incremental parsing agrees with one-shot parsing);
 *  - a chunked body scanned in one piece, in pieces split at data-derived offsets and byte by
 *    byte gives the same length, end and payload count.
 * Violations abort. Prefixes are copied into exact-size buffers so ASan sees over-reads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct gw_http_limits small = {40, 160, 5};

static void
die(const char *what, int a, int b)
{
    fprintf(stderr, "fuzz_http1: %s (%d, %d)\n", what, a, b);
    abort();
}

static int
parse(int response, const char *p, size_t n, const struct gw_http_limits *lim,
      struct gw_http_head *h)
{
    return response ? gw_http1_parse_response(p, n, lim, h) : gw_http1_parse_request(p, n, lim, h);
}

/* Parses an exact-size heap copy of p[0..n). */
static int
parse_copy(int response, const char *p, size_t n, const struct gw_http_limits *lim)
{
    struct gw_http_head h;
    char *b = malloc(n ? n : 1);
    int rc;

    if (b == NULL) {
        abort();
    }
    memcpy(b, p, n);
    rc = parse(response, b, n, lim, &h);
    free(b);
    return rc;
}

static int
is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void
inside(struct gw_str s, const char *p, int rc, const char *what)
{
    if (s.p == NULL) {
        return;
    }
    if (s.p < p || s.p + s.n > p + rc) {
        die(what, (int)(s.p - p), rc);
    }
}

static int
caseeq(struct gw_str s, const char *z)
{
    return gw_str_caseeqz(s, z);
}

static void
check_fields(int response, const char *p, int rc, const struct gw_http_limits *lim,
             const struct gw_http_head *h)
{
    unsigned ncl = 0, nhost = 0;

    if (h->nheaders > lim->max_headers || h->nheaders > GW_HTTP_MAX_HEADERS) {
        die("too many headers", (int)h->nheaders, (int)lim->max_headers);
    }
    if ((size_t)rc > lim->max_head_bytes || (h->minor != 0 && h->minor != 1)) {
        die("head limit or version", rc, h->minor);
    }
    for (unsigned i = 0; i < h->nheaders; i++) {
        struct gw_str n = h->headers[i].name, v = h->headers[i].value;
        inside(n, p, rc, "name outside the head");
        inside(v, p, rc, "value outside the head");
        if (n.n == 0) {
            die("empty name", (int)i, 0);
        }
        for (size_t k = 0; k < n.n; k++) {
            if (!is_tchar((unsigned char)n.p[k])) {
                die("name byte", (int)i, (unsigned char)n.p[k]);
            }
        }
        for (size_t k = 0; k < v.n; k++) {
            unsigned char c = (unsigned char)v.p[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                die("value byte", (int)i, c);
            }
        }
        if (v.n &&
            (v.p[0] == ' ' || v.p[0] == '\t' || v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t')) {
            die("untrimmed value", (int)i, 0);
        }
        ncl += caseeq(n, "content-length");
        nhost += caseeq(n, "host");
    }
    if (ncl > 1 || (h->content_length >= 0) != (ncl == 1) ||
        (h->content_length >= 0 && h->chunked)) {
        die("ambiguous length", (int)ncl, h->chunked);
    }
    if (h->chunked && h->minor != 1) {
        die("chunked in HTTP/1.0", h->minor, 0);
    }
    if (response) {
        if (h->status < 100 || h->status > 999) {
            die("status", h->status, 0);
        }
        inside(h->reason, p, rc, "reason outside the head");
        return;
    }
    if (nhost > 1 || (h->minor == 1 && nhost == 0)) {
        die("host count", (int)nhost, h->minor);
    }
    inside(h->method, p, rc, "method outside the head");
    inside(h->target, p, rc, "target outside the head");
    inside(h->query, p, rc, "query outside the head");
    inside(h->host, p, rc, "host outside the head");
    if (h->method.n == 0 || h->target.n == 0) {
        die("empty method or target", (int)h->method.n, (int)h->target.n);
    }
    if (h->path.p != NULL && !gw_str_eqz(h->path, "/")) {
        inside(h->path, p, rc, "path outside the head");
    }
}

static void
check_head(int response, const char *p, size_t n, const struct gw_http_limits *lim, size_t cut)
{
    struct gw_http_head h;
    int rc = parse(response, p, n, lim, &h);

    if (rc > 0) {
        if ((size_t)rc > n) {
            die("head longer than the input", rc, (int)n);
        }
        check_fields(response, p, rc, lim, &h);
    } else if (rc < 0) {
        int ok = response ? rc == -502
                          : rc == -400 || rc == -414 || rc == -431 || rc == -501 || rc == -505;
        if (!ok) {
            die("unexpected status", rc, response);
        }
    }
    /* a prefix gives 0 or the same answer; a complete head ends at the same byte */
    if (cut > n) {
        cut = n;
    }
    int rk = parse_copy(response, p, cut, lim);
    if (rc > 0 ? rk != (cut >= (size_t)rc ? rc : 0) : (rk != 0 && rk != rc)) {
        die("prefix disagrees", rk, rc);
    }
    if (n <= 96) {
        for (size_t k = 0; k < n; k++) {
            rk = parse_copy(response, p, k, lim);
            if (rc > 0 ? rk != (k >= (size_t)rc ? rc : 0) : (rk != 0 && rk != rc)) {
                die("short prefix disagrees", rk, rc);
            }
        }
    }
    if (rc > 0 && parse_copy(response, p, (size_t)rc, lim) != rc) {
        die("the head alone parses differently", rc, 0);
    }
}

struct scan {
    ssize_t used;
    int done;
    uint64_t payload;
};

/* Scans p[0..n) in pieces ending at the given offsets (ascending, the last being n). */
static struct scan
scan_pieces(const char *p, size_t n, const size_t *ends, size_t nends)
{
    struct gw_chunked c = {0};
    struct scan r = {0, 0, 0};
    size_t at = 0;

    if (nends == 0 || ends[nends - 1] != n) {
        abort();
    }
    for (size_t k = 0; k < nends && !r.done; k++) {
        size_t len = ends[k] - at;
        char *b = malloc(len ? len : 1);
        int done = 0;
        if (b == NULL) {
            abort();
        }
        memcpy(b, p + at, len);
        ssize_t got = gw_chunked_scan(&c, b, len, &done);
        free(b);
        if (got < 0) {
            if (got != -1) {
                die("scan returned an odd error", (int)got, 0);
            }
            r.used = -1;
            break;
        }
        if ((size_t)got > len || (!done && (size_t)got != len)) {
            die("scan length", (int)got, (int)len);
        }
        r.used += got;
        r.done = done;
        at = ends[k];
    }
    r.payload = c.payload_bytes;
    if (r.used >= 0 && r.payload > (uint64_t)r.used) {
        die("payload larger than the body", (int)r.payload, (int)r.used);
    }
    return r;
}

static void
same(struct scan a, struct scan b, const char *what)
{
    if (a.used != b.used || a.done != b.done || (a.used >= 0 && a.payload != b.payload)) {
        fprintf(stderr, "fuzz_http1: %s: used %zd/%zd done %d/%d payload %llu/%llu\n", what, a.used,
                b.used, a.done, b.done, (unsigned long long)a.payload,
                (unsigned long long)b.payload);
        abort();
    }
}

static void
check_chunked(const char *p, size_t n, size_t cut1, size_t cut2)
{
    size_t whole[1] = {n};
    struct scan one = scan_pieces(p, n, whole, 1);

    if (cut1 > n) {
        cut1 = n;
    }
    if (cut2 < cut1) {
        cut2 = cut1;
    }
    if (cut2 > n) {
        cut2 = n;
    }
    size_t two[2] = {cut1, n};
    same(one, scan_pieces(p, n, two, 2), "split in two");
    size_t three[3] = {cut1, cut2, n};
    same(one, scan_pieces(p, n, three, 3), "split in three");

    /* byte by byte, without copies: this one is about state, not bounds */
    struct gw_chunked c = {0};
    struct scan r = {0, 0, 0};
    for (size_t k = 0; k < n && !r.done; k++) {
        ssize_t got = gw_chunked_scan(&c, p + k, 1, &r.done);
        if (got < 0) {
            r.used = -1;
            break;
        }
        r.used += got;
    }
    r.payload = c.payload_bytes;
    same(one, r, "byte by byte");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    /* offsets from the last bytes, so that the first bytes stay free to be a head */
    size_t cut1 = size ? (size_t)data[size - 1] * size / 256 : 0;
    size_t cut2 = size > 1 ? cut1 + (size_t)data[size - 2] * (size - cut1) / 256 : cut1;
    struct gw_http_head h;

    check_head(0, p, size, &gw_http_default_limits, cut1);
    check_head(0, p, size, &small, cut2);
    check_head(1, p, size, &gw_http_default_limits, cut1);
    check_head(1, p, size, &small, cut2);
    check_chunked(p, size, cut1, cut2);

    /* a request with a chunked body: scan what follows its head */
    int rc = gw_http1_parse_request(p, size, NULL, &h);
    if (rc > 0 && h.chunked) {
        size_t rest = size - (size_t)rc;
        check_chunked(p + rc, rest, cut1 < rest ? cut1 : rest / 2, cut2 < rest ? cut2 : rest);
    }
    return 0;
}
