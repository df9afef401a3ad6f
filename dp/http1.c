/* HTTP/1.x heads and chunked framing (RFC 9110, RFC 9112).
 *
 * The head parser is stateless: each call scans buf from its first byte, so the caller simply
 * calls it again when more bytes arrive. It scans strictly left to right and reports the first
 * fault it meets, and it only looks at whole-message properties (Host required, Content-Length
 * against Transfer-Encoding) once the empty line was seen. Hence every prefix of an input
 * gives 0 or the same answer as the whole input: feeding a head byte by byte never yields a
 * different verdict than feeding it at once, and faults (and limits) are found as early as the
 * bytes allow, so a bad client is closed before it fills a buffer.
 *
 * Strictness, where the RFCs leave a choice: anything that two implementations might frame
 * differently is refused rather than repaired. Bare LF and bare CR, obs-fold, whitespace
 * before a colon or before the first header, every repeated Content-Length (nginx refuses
 * duplicates too, even equal ones) and list values in it, Transfer-Encoding in HTTP/1.0, and
 * every transfer coding but a single final "chunked". Fragments ('#') in the request-target
 * are refused; raw bytes >= 0x80 are allowed in the target and in values as nginx allows them.
 *
 * The chunked scanner is a byte-driven state machine, so input may be split anywhere; payload
 * runs are skipped in one step. */
#include "http1.h"

#include <limits.h>
#include <string.h>

const struct gw_http_limits gw_http_default_limits = {
    .max_line_bytes = 8192,
    .max_head_bytes = 32768,
    .max_headers = 100,
};

/* ---- character classes ---- */

enum {
    C_TOKEN = 1,  /* tchar (RFC 9110 5.6.2): method, field names, codings */
    C_VALUE = 2,  /* field-value and reason-phrase bytes: HTAB, SP, VCHAR, obs-text */
    C_TARGET = 4, /* request-target bytes: VCHAR but '#', and obs-text as nginx allows */
    C_HOST = 8,   /* reg-name, IP literal and port bytes (RFC 3986 3.2.2) */
    C_VCHAR = 16, /* VCHAR: the protocol version token */
};

#define T_ (C_TOKEN | C_VALUE | C_TARGET | C_VCHAR)
#define TH (C_TOKEN | C_VALUE | C_TARGET | C_VCHAR | C_HOST)
#define V_ (C_VALUE | C_TARGET | C_VCHAR)
#define VH (C_VALUE | C_TARGET | C_VCHAR | C_HOST)
#define O_ (C_VALUE | C_TARGET) /* obs-text */

/* clang-format off */
static const unsigned char cls[256] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, C_VALUE, 0, 0, 0, 0, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /*  !"#$%&'()*+,-./ */
    C_VALUE, TH, V_, C_TOKEN | C_VALUE | C_VCHAR, TH, TH, TH, TH, VH, VH, TH, TH, VH, TH, TH, V_,
    /* 0123456789:;<=>? */
    TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, VH, VH, V_, VH, V_, V_,
    /* @ABCDEFGHIJKLMNO */
    V_, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH,
    /* PQRSTUVWXYZ[\]^_ */
    TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, VH, V_, VH, T_, TH,
    /* `abcdefghijklmno */
    T_, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH,
    /* pqrstuvwxyz{|}~ DEL */
    TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, TH, V_, T_, V_, TH, 0,
    /* 0x80 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
    /* 0x90 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
    /* 0xa0 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
    /* 0xb0 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
    /* 0xc0 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
    /* 0xd0 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
    /* 0xe0 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
    /* 0xf0 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
};

/* clang-format on */

#undef T_
#undef TH
#undef V_
#undef VH
#undef O_

#define IS(c, k) (cls[(unsigned char)(c)] & (k))

/* Hex digit values plus one, so that the zero-initialised rest means "not hex". */
static const unsigned char hexval[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline int
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* a[0..n) equals the lower-case literal lc, ignoring ASCII case */
static int
ieq(const char *a, size_t n, const char *lc, size_t lcn)
{
    if (n != lcn) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)a[i]) != (unsigned char)lc[i]) {
            return 0;
        }
    }
    return 1;
}

#define IEQ(p, n, lit) ieq((p), (n), lit, sizeof(lit) - 1)

/* ---- word-at-a-time scanning ----
 * Values (cookies, tokens) and targets are the bulk of a head; checking eight bytes per step
 * for "any byte that needs a closer look" roughly halves the time spent on them. A flagged word
 * is rescanned bytewise, so false positives (HTAB, borrows) only cost speed. */

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t
load64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

/* a byte < n (n <= 128) or equal to m; bytes >= 0x80 are never flagged */
static inline int
suspect(uint64_t v, unsigned n, unsigned char m)
{
    uint64_t eq = v ^ (ONES * m);

    return (((v - ONES * n) & ~v) | ((eq - ONES) & ~eq)) & HIGHS ? 1 : 0;
}

/* The first index in [p, stop) whose byte is not a field-value byte. */
static inline size_t
skip_value(const char *buf, size_t p, size_t stop)
{
    while (p + 8 <= stop && !suspect(load64(buf + p), 0x20, 0x7f)) {
        p += 8;
    }
    while (p < stop && IS(buf[p], C_VALUE)) {
        p++;
    }
    return p;
}

/* The first index in [p, stop) whose byte is not a request-target byte. */
static inline size_t
skip_target(const char *buf, size_t p, size_t stop)
{
    while (p + 8 <= stop) {
        uint64_t v = load64(buf + p);
        uint64_t hash = v ^ (ONES * '#');
        if (suspect(v, 0x21, 0x7f) || (((hash - ONES) & ~hash) & HIGHS)) {
            break;
        }
        p += 8;
    }
    while (p < stop && IS(buf[p], C_TARGET)) {
        p++;
    }
    return p;
}

/* ---- heads ---- */

#define E400 (-400)

/* Per-call parsing state that does not belong in the caller's head. */
struct ctx {
    const char *buf;
    size_t end; /* bytes we may look at: min(len, max_head_bytes) */
    int capped; /* len > max_head_bytes: running out of bytes means the head is too large */
    unsigned max_headers;
    int request;
    unsigned ncl;            /* Content-Length fields */
    unsigned nhost;          /* Host fields */
    unsigned te;             /* Transfer-Encoding fields */
    int te_last_chunked;     /* the last coding listed so far is "chunked" */
    int te_chunked;          /* "chunked" was listed */
    int te_other;            /* a coding other than "chunked" was listed */
    struct gw_str authority; /* absolute-form target's authority, or .p == NULL */
};

/* Ran out of bytes to look at: wait for more, or refuse when the head limit stopped us. */
static inline int
more(const struct ctx *x)
{
    return x->capped ? -431 : 0;
}

static int
valid_host(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!IS(p[i], C_HOST)) {
            return 0;
        }
    }
    return 1;
}

static inline struct gw_str
trimmed(const char *p, size_t n)
{
    while (n && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    return (struct gw_str){p, n};
}

/* Content-Length = 1*DIGIT. Lists ("5, 5") are refused, though RFC 9110 8.6 lets a recipient
 * fold identical members: nothing legitimate sends them. */
static int
on_content_length(struct ctx *x, struct gw_http_head *h, struct gw_str v)
{
    int64_t n = 0;

    if (++x->ncl > 1 || v.n == 0) {
        return E400;
    }
    for (size_t i = 0; i < v.n; i++) {
        unsigned d = (unsigned char)v.p[i] - '0';
        if (d > 9 || n > (INT64_MAX - (int64_t)d) / 10) {
            return E400;
        }
        n = n * 10 + (int64_t)d;
    }
    h->content_length = n;
    return 0;
}

/* Transfer-Encoding: a list of codings, possibly over several fields. RFC 9112 6.3: in a
 * request, chunked must come last (else 400); a coding we cannot decode is 501 (6.1); chunked
 * twice would mean decoding twice, which no one does, so it is refused outright. The final
 * verdict waits for the end of the head (see finish()). */
static int
on_transfer_encoding(struct ctx *x, struct gw_str v)
{
    size_t i = 0;

    x->te++;
    for (;;) {
        size_t s = i;
        while (i < v.n && v.p[i] != ',') {
            i++;
        }
        struct gw_str c = trimmed(v.p + s, i - s);
        if (c.n == 0) {
            return E400; /* empty member, or an empty field */
        }
        if (IEQ(c.p, c.n, "chunked")) {
            if (x->te_chunked) {
                return E400;
            }
            x->te_chunked = 1;
            x->te_last_chunked = 1;
        } else {
            if (x->te_last_chunked) {
                return E400; /* a coding after chunked */
            }
            /* transfer-coding = token *( OWS ";" OWS transfer-parameter ) */
            for (size_t k = 0; k < c.n && c.p[k] != ';'; k++) {
                if (!IS(c.p[k], C_TOKEN)) {
                    return E400;
                }
            }
            x->te_other = 1;
        }
        if (i == v.n) {
            return 0;
        }
        i++; /* the comma */
    }
}

/* Connection: a comma-separated list of options. */
static void
on_connection(struct gw_http_head *h, struct gw_str v)
{
    size_t i = 0;

    while (i < v.n) {
        size_t s = i;
        while (i < v.n && v.p[i] != ',') {
            i++;
        }
        struct gw_str t = trimmed(v.p + s, i - s);
        if (IEQ(t.p, t.n, "close")) {
            h->conn_close = 1;
        } else if (IEQ(t.p, t.n, "keep-alive")) {
            h->conn_keep_alive = 1;
        } else if (IEQ(t.p, t.n, "upgrade")) {
            h->conn_upgrade = 1;
        }
        i++;
    }
}

/* The fields that decide framing or routing; dispatched on length first, as most headers are
 * none of these. */
static int
on_header(struct ctx *x, struct gw_http_head *h, struct gw_str name, struct gw_str v)
{
    switch (name.n) {
    case 4:
        if (x->request && IEQ(name.p, name.n, "host")) {
            /* RFC 9112 3.2: several Host fields, or an invalid one, is 400 */
            if (++x->nhost > 1 || !valid_host(v.p, v.n)) {
                return E400;
            }
            h->host = v;
        }
        return 0;
    case 6:
        if (x->request && IEQ(name.p, name.n, "expect") && IEQ(v.p, v.n, "100-continue")) {
            h->expect_continue = 1;
        }
        return 0;
    case 7:
        if (h->upgrade.p == NULL && IEQ(name.p, name.n, "upgrade")) {
            h->upgrade = v;
        }
        return 0;
    case 10:
        if (IEQ(name.p, name.n, "connection")) {
            on_connection(h, v);
        }
        return 0;
    case 14:
        return IEQ(name.p, name.n, "content-length") ? on_content_length(x, h, v) : 0;
    case 17:
        return IEQ(name.p, name.n, "transfer-encoding") ? on_transfer_encoding(x, v) : 0;
    default:
        return 0;
    }
}

/* Header lines from p through the empty line. Returns the index after it, 0 or an error. */
static int
parse_fields(struct ctx *x, size_t p, struct gw_http_head *h)
{
    const char *buf = x->buf;
    size_t end = x->end;

    for (;;) {
        if (p >= end) {
            return more(x);
        }
        if (buf[p] == '\r') {
            if (p + 1 >= end) {
                return more(x);
            }
            return buf[p + 1] == '\n' ? (int)(p + 2) : E400;
        }
        /* RFC 9112 5.2: obs-fold is refused; 2.2: so is whitespace before the first field */
        if (h->nheaders == x->max_headers) {
            return -431;
        }
        size_t ns = p;
        while (p < end && IS(buf[p], C_TOKEN)) {
            p++;
        }
        if (p == end) {
            return more(x);
        }
        /* no name, a space before the colon (RFC 9112 5.1), a bare LF, a control byte */
        if (p == ns || buf[p] != ':') {
            return E400;
        }
        struct gw_str name = {buf + ns, p - ns};
        p++;
        while (p < end && (buf[p] == ' ' || buf[p] == '\t')) {
            p++;
        }
        size_t vs = p;
        p = skip_value(buf, p, end);
        if (p == end) {
            return more(x);
        }
        if (buf[p] != '\r') {
            return E400; /* bare LF, NUL, other control bytes */
        }
        if (p + 1 >= end) {
            return more(x);
        }
        if (buf[p + 1] != '\n') {
            return E400;
        }
        size_t ve = p;
        while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t')) {
            ve--;
        }
        struct gw_http_header *f = &h->headers[h->nheaders++];
        f->name = name;
        f->value = (struct gw_str){buf + vs, ve - vs};
        int rc = on_header(x, h, name, f->value);
        if (rc < 0) {
            return rc;
        }
        p += 2;
    }
}

/* Whole-message checks once the head is complete (RFC 9112 6.1, 6.3, 3.2). Returns 0 or the
 * status for a request; responses map every fault to 502 in the caller. */
static int
finish(struct ctx *x, struct gw_http_head *h)
{
    if (x->te) {
        /* 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; 6.3: never with a length */
        if (h->minor == 0 || x->ncl) {
            return E400;
        }
        if (!x->te_last_chunked) {
            return E400;
        }
        if (x->te_other) {
            return -501;
        }
        h->chunked = 1;
    }
    if (x->request) {
        if (h->minor == 1 && x->nhost == 0) {
            return E400;
        }
        if (h->minor == 0) {
            /* RFC 9110 10.1.1 and 7.8: both MUST be ignored in an HTTP/1.0 request */
            h->expect_continue = 0;
            h->upgrade = GW_STR_NULL;
        }
        /* 3.2.2: the authority of an absolute-form target replaces Host */
        if (x->authority.p != NULL) {
            h->host = x->authority;
        }
    }
    return 0;
}

static void
reset(struct gw_http_head *h)
{
    h->method = GW_STR_NULL;
    h->target = GW_STR_NULL;
    h->path = GW_STR_NULL;
    h->query = GW_STR_NULL;
    h->status = 0;
    h->reason = GW_STR_NULL;
    h->minor = 0;
    h->nheaders = 0;
    h->content_length = -1;
    h->chunked = 0;
    h->conn_close = 0;
    h->conn_keep_alive = 0;
    h->conn_upgrade = 0;
    h->expect_continue = 0;
    h->host = GW_STR_NULL;
    h->upgrade = GW_STR_NULL;
}

static void
init(struct ctx *x, const char *buf, size_t len, const struct gw_http_limits *lim, int request)
{
    size_t max_head = lim->max_head_bytes < INT_MAX ? lim->max_head_bytes : INT_MAX;

    memset(x, 0, sizeof *x);
    x->buf = buf;
    x->end = len < max_head ? len : max_head;
    x->capped = len > max_head;
    x->max_headers =
        lim->max_headers < GW_HTTP_MAX_HEADERS ? lim->max_headers : GW_HTTP_MAX_HEADERS;
    x->request = request;
}

/* "HTTP/1.0" or "HTTP/1.1" at v[0..n): the minor version, -505 for another well-formed
 * version (HTTP/2.0, HTTP/1.2, HTTP/0.9), -400 for anything else. */
static int
version(const char *v, size_t n)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || (unsigned char)(v[5] - '0') > 9 ||
        (unsigned char)(v[7] - '0') > 9) {
        return E400;
    }
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
        return -505;
    }
    return v[7] - '0';
}

/* Splits an origin-form or absolute-form target into path and query. */
static int
split_target(struct ctx *x, struct gw_http_head *h)
{
    const char *t = h->target.p, *e = t + h->target.n;
    const char *q;

    if (gw_str_eqz(h->method, "CONNECT")) {
        /* RFC 9112 3.2.3: authority-form, only for CONNECT: host ":" port; no path */
        size_t i = h->target.n;
        while (i > 0 && (unsigned char)(t[i - 1] - '0') <= 9) {
            i--;
        }
        if (!valid_host(t, h->target.n) || i < 2 || i == h->target.n || t[i - 1] != ':') {
            return E400;
        }
        return 0;
    }
    if (t[0] == '*' && h->target.n == 1) {
        /* 3.2.4: asterisk-form, only for server-wide OPTIONS */
        if (!gw_str_eqz(h->method, "OPTIONS")) {
            return E400;
        }
        h->path = h->target;
        return 0;
    }
    if (t[0] != '/') {
        /* 3.2.2: absolute-form; we proxy http and https only. RFC 9110 4.2.4: userinfo in a
         * received http(s) URI is an error; 4.2.1: so is an empty host. */
        size_t sn = h->target.n;
        if (sn > 8 && IEQ(t, 8, "https://")) {
            t += 8;
        } else if (sn > 7 && IEQ(t, 7, "http://")) {
            t += 7;
        } else {
            return E400;
        }
        const char *a = t;
        while (t < e && *t != '/' && *t != '?') {
            t++;
        }
        if (t == a || !valid_host(a, (size_t)(t - a))) {
            return E400;
        }
        x->authority = (struct gw_str){a, (size_t)(t - a)};
        if (t == e || *t == '?') {
            /* an empty path is "/" (RFC 9110 4.2.3); a literal, not in the buffer */
            h->path = GW_STR_LIT("/");
            if (t < e) {
                h->query = (struct gw_str){t + 1, (size_t)(e - t - 1)};
            }
            return 0;
        }
    }
    q = memchr(t, '?', (size_t)(e - t));
    if (q == NULL) {
        h->path = (struct gw_str){t, (size_t)(e - t)};
    } else {
        h->path = (struct gw_str){t, (size_t)(q - t)};
        h->query = (struct gw_str){q + 1, (size_t)(e - q - 1)};
    }
    return 0;
}

/* The request line limit: a scan of the line stopped at p == stop. Returns -414 when the line
 * limit stopped it (p < end, so the next byte exists and is still line content), else waits. */
static inline int
line_stop(const struct ctx *x, size_t p)
{
    return p < x->end ? -414 : more(x);
}

/* request-line = method SP request-target SP HTTP-version CRLF, after any empty lines.
 * Returns the index after its CRLF, 0 or an error. */
static int
request_line(struct ctx *x, struct gw_http_head *h, size_t max_line)
{
    const char *buf = x->buf;
    size_t end = x->end, p = 0, ls, stop;

    /* RFC 9112 2.2: ignore empty lines before the request-line (they count toward the head) */
    for (;;) {
        if (p >= end) {
            return more(x);
        }
        if (buf[p] != '\r') {
            break;
        }
        if (p + 1 >= end) {
            return more(x);
        }
        if (buf[p + 1] != '\n') {
            return E400;
        }
        p += 2;
    }
    ls = p;
    stop = max_line < end - ls ? ls + max_line : end;

    while (p < stop && IS(buf[p], C_TOKEN)) {
        p++;
    }
    if (p == stop) {
        return line_stop(x, p);
    }
    if (p == ls || buf[p] != ' ') {
        return E400;
    }
    h->method = (struct gw_str){buf + ls, p - ls};
    size_t ts = ++p;
    p = skip_target(buf, p, stop);
    if (p == stop) {
        return line_stop(x, p);
    }
    if (p == ts || buf[p] != ' ') {
        return E400; /* no target, a control byte, '#', two spaces */
    }
    h->target = (struct gw_str){buf + ts, p - ts};
    size_t vs = ++p;
    while (p < stop && IS(buf[p], C_VCHAR)) {
        p++;
    }
    /* the line may end exactly at the limit: its CR is not line content */
    if (p == stop && !(p < end && buf[p] == '\r')) {
        return line_stop(x, p);
    }
    if (buf[p] != '\r') {
        return E400;
    }
    int minor = version(buf + vs, p - vs);
    if (minor < 0) {
        return minor;
    }
    h->minor = minor;
    if (p + 1 >= end) {
        return more(x);
    }
    if (buf[p + 1] != '\n') {
        return E400;
    }
    int rc = split_target(x, h);
    return rc < 0 ? rc : (int)(p + 2);
}

int
gw_http1_parse_request(const char *buf, size_t len, const struct gw_http_limits *lim,
                       struct gw_http_head *h)
{
    struct ctx x;
    int p, rc;

    if (lim == NULL) {
        lim = &gw_http_default_limits;
    }
    reset(h);
    init(&x, buf, len, lim, 1);
    p = request_line(&x, h, lim->max_line_bytes);
    if (p <= 0) {
        return p;
    }
    p = parse_fields(&x, (size_t)p, h);
    if (p <= 0) {
        return p;
    }
    rc = finish(&x, h);
    return rc < 0 ? rc : p;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF. The SP before an empty
 * reason is optional here, as in nginx: some servers omit it and it frames nothing. */
static int
status_line(struct ctx *x, struct gw_http_head *h, size_t max_line)
{
    const char *buf = x->buf;
    size_t end = x->end, p = 0;
    size_t stop = max_line < end ? max_line : end;

    while (p < stop && IS(buf[p], C_VCHAR)) {
        p++;
    }
    if (p == stop) {
        return line_stop(x, p);
    }
    int minor = version(buf, p);
    if (minor < 0 || buf[p] != ' ') {
        return E400;
    }
    h->minor = minor;
    if (p + 4 > stop) {
        /* three digits and the next byte must be there before judging them */
        if (stop < end) {
            return -414;
        }
        for (size_t i = p + 1; i < stop; i++) {
            if ((unsigned char)(buf[i] - '0') > 9) {
                return E400;
            }
        }
        return more(x);
    }
    const char *s = buf + p + 1;
    if (s[0] < '1' || s[0] > '9' || (unsigned char)(s[1] - '0') > 9 ||
        (unsigned char)(s[2] - '0') > 9) {
        return E400;
    }
    h->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    p += 4;
    size_t rs = p;
    if (p < stop && buf[p] == ' ') {
        rs = ++p;
        p = skip_value(buf, p, stop);
    }
    if (p == stop && !(p < end && buf[p] == '\r')) {
        return line_stop(x, p);
    }
    if (buf[p] != '\r') {
        return E400;
    }
    h->reason = trimmed(buf + rs, p - rs);
    if (p + 1 >= end) {
        return more(x);
    }
    return buf[p + 1] == '\n' ? (int)(p + 2) : E400;
}

int
gw_http1_parse_response(const char *buf, size_t len, const struct gw_http_limits *lim,
                        struct gw_http_head *h)
{
    struct ctx x;
    int p, rc;

    if (lim == NULL) {
        lim = &gw_http_default_limits;
    }
    reset(h);
    init(&x, buf, len, lim, 0);
    p = status_line(&x, h, lim->max_line_bytes);
    if (p > 0) {
        p = parse_fields(&x, (size_t)p, h);
    }
    if (p > 0) {
        rc = finish(&x, h);
        p = rc < 0 ? rc : p;
    }
    /* an upstream's fault, whatever it is, is a bad gateway for the client */
    return p < 0 ? -502 : p;
}

int
gw_http1_response_has_body(struct gw_str req_method, int status)
{
    /* RFC 9110 6.4.1: none after HEAD, for 1xx, 204 and 304; 9.3.6: a 2xx to CONNECT starts
     * a tunnel instead. Methods are case-sensitive. */
    if ((status >= 100 && status < 200) || status == 204 || status == 304) {
        return 0;
    }
    if (gw_str_eqz(req_method, "HEAD")) {
        return 0;
    }
    if (status >= 200 && status < 300 && gw_str_eqz(req_method, "CONNECT")) {
        return 0;
    }
    return 1;
}

/* ---- chunked bodies (RFC 9112 7.1) ---- */

#define CHUNK_LINE_MAX     4096  /* a size line (with extensions) or trailer line */
#define CHUNK_TRAILERS_MAX 16384 /* the whole trailer section */
#define CHUNK_SIZE_MAX     (UINT64_C(1) << 62)

enum {
    S_SIZE0 = 0, /* the first hex digit of a size; 0 so that a zeroed scanner is ready */
    S_SIZE,      /* more digits, BWS, ';' or CR */
    S_BWS,       /* whitespace after the size: only ';' may follow (BWS before chunk-ext) */
    S_EXT,       /* extensions, skipped up to CR */
    S_SIZE_LF,   /* LF ending the size line */
    S_DATA,      /* payload; left counts it down */
    S_DATA_CR,   /* CRLF after the payload */
    S_DATA_LF,
    S_TRAILER, /* start of a trailer field line, or CR of the final empty line */
    S_TNAME,   /* field name up to ':' */
    S_TVALUE,  /* field value up to CR */
    S_TLF,     /* LF ending a trailer field line */
    S_END_LF,  /* LF of the final empty line */
    S_DONE,
    S_ERROR,
};

/* Counts a byte of a size or trailer line against the bounds. In trailer states, left (unused
 * there) counts the whole trailer section. */
static inline int
line_byte(struct gw_chunked *c)
{
    if (++c->line_bytes > CHUNK_LINE_MAX) {
        return -1;
    }
    if (c->state >= S_TRAILER && ++c->left > CHUNK_TRAILERS_MAX) {
        return -1;
    }
    return 0;
}

/* The scanner; with out, the payload bytes are also copied to out + *outn. */
static ssize_t
scan_chunked(struct gw_chunked *c, const char *in, size_t n, int *done, char *out, size_t *outn)
{
    size_t i = 0;

    *done = c->state == S_DONE;
    if (c->state == S_DONE) {
        return 0;
    }
    if (c->state == S_ERROR) {
        return -1; /* sticky: the connection is closing anyway */
    }
    while (i < n) {
        unsigned char ch = (unsigned char)in[i];
        int d;

        switch (c->state) {
        case S_SIZE0:
            if ((d = hexval[ch]) == 0) {
                goto fail;
            }
            c->left = (uint64_t)(d - 1);
            c->line_bytes = 1;
            c->state = S_SIZE;
            break;
        case S_SIZE:
            if ((d = hexval[ch]) != 0) {
                if (c->left > (CHUNK_SIZE_MAX - (uint64_t)(d - 1)) >> 4) {
                    goto fail;
                }
                c->left = c->left << 4 | (uint64_t)(d - 1);
            } else if (ch == ';') {
                c->state = S_EXT;
            } else if (ch == ' ' || ch == '\t') {
                c->state = S_BWS;
            } else if (ch == '\r') {
                c->state = S_SIZE_LF;
                break;
            } else {
                goto fail;
            }
            if (line_byte(c) < 0) {
                goto fail;
            }
            break;
        case S_BWS:
            if (ch == ';') {
                c->state = S_EXT;
            } else if (ch != ' ' && ch != '\t') {
                goto fail;
            }
            if (line_byte(c) < 0) {
                goto fail;
            }
            break;
        case S_EXT:
            /* skipped, but no control bytes: a bare LF here is how chunked smuggling starts */
            if (ch == '\r') {
                c->state = S_SIZE_LF;
                break;
            }
            if (!IS(ch, C_VALUE) || line_byte(c) < 0) {
                goto fail;
            }
            break;
        case S_SIZE_LF:
            if (ch != '\n') {
                goto fail;
            }
            c->line_bytes = 0;
            c->state = c->left ? S_DATA : S_TRAILER;
            break;
        case S_DATA: {
            size_t take = n - i < c->left ? n - i : (size_t)c->left;
            if (out) {
                memcpy(out + *outn, in + i, take);
                *outn += take;
            }
            c->left -= take;
            c->payload_bytes += take;
            i += take;
            if (c->left == 0) {
                c->state = S_DATA_CR;
            }
            continue;
        }
        case S_DATA_CR:
            if (ch != '\r') {
                goto fail;
            }
            c->state = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (ch != '\n') {
                goto fail;
            }
            c->state = S_SIZE0;
            break;
        case S_TRAILER:
            if (ch == '\r') {
                c->state = S_END_LF;
                break;
            }
            /* a field line as in a head: no obs-fold, a token, then ':' at once */
            if (!IS(ch, C_TOKEN)) {
                goto fail;
            }
            c->state = S_TNAME;
            if (line_byte(c) < 0) {
                goto fail;
            }
            break;
        case S_TNAME:
            if (ch == ':') {
                c->state = S_TVALUE;
            } else if (!IS(ch, C_TOKEN)) {
                goto fail;
            }
            if (line_byte(c) < 0) {
                goto fail;
            }
            break;
        case S_TVALUE:
            if (ch == '\r') {
                c->state = S_TLF;
                break;
            }
            if (!IS(ch, C_VALUE) || line_byte(c) < 0) {
                goto fail;
            }
            break;
        case S_TLF:
            if (ch != '\n') {
                goto fail;
            }
            c->line_bytes = 0;
            c->state = S_TRAILER;
            break;
        case S_END_LF:
            if (ch != '\n') {
                goto fail;
            }
            c->state = S_DONE;
            *done = 1;
            return (ssize_t)(i + 1);
        default:
            goto fail;
        }
        i++;
    }
    return (ssize_t)i;

fail:
    c->state = S_ERROR;
    return -1;
}

ssize_t
gw_chunked_scan(struct gw_chunked *c, const char *in, size_t n, int *done)
{
    return scan_chunked(c, in, n, done, NULL, NULL);
}

ssize_t
gw_chunked_decode(struct gw_chunked *c, const char *in, size_t n, int *done, char *out,
                  size_t *outn)
{
    return scan_chunked(c, in, n, done, out, outn);
}
