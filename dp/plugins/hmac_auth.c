/* hmac-auth: HTTP signatures over listed headers (Kong priority 1030), after Kong's
 * kong/plugins/hmac-auth/access.lua. Credentials are indexed by username once per snapshot.
 *
 * Order of checks, as Kong: neither Authorization nor Proxy-Authorization -> "Unauthorized";
 * no X-Date or Date within clock_skew -> the date message; Proxy-Authorization then
 * Authorization parsed (hide_credentials clears the one used); username/signature missing, an
 * enforced header not signed, an algorithm not allowed, an unknown username -> "HMAC signature
 * cannot be verified"; a wrong signature or (validate_request_body) digest -> "HMAC signature
 * does not match". Every rejection is error(401) with WWW-Authenticate: hmac [realm="r"].
 *
 * With validate_request_body the proxy reads the whole body before this handler runs
 * (needs_body); after the signature, Digest must be exactly "SHA-256=" and the base64 of the
 * body's SHA-256, and a request without Digest passes only with an empty body (Kong's
 * validate_body). A header listed in `headers` is read as its first value. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cred_index.h"
#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

#define MSG_DATE                                                                              \
    "HMAC signature cannot be verified, a valid date or x-date header is required for HMAC " \
    "Authentication"
#define MSG_NOT_VALID "HMAC signature cannot be verified"
#define MSG_NOT_SAME "HMAC signature does not match"


enum { ALG_SHA1 = 1, ALG_SHA256 = 2, ALG_SHA384 = 4, ALG_SHA512 = 8 };

struct conf {
    int hide, validate_body;
    double clock_skew;
    const char *anonymous;
    unsigned algorithms; /* ALG_* */
    struct gw_str *enforce;
    unsigned nenforce;
    struct gw_str challenge; /* WWW-Authenticate value */
};


static unsigned
alg_bit(struct gw_str s)
{
    static const struct {
        const char *name;
        unsigned bit;
    } t[] = {{"hmac-sha1", ALG_SHA1},
             {"hmac-sha256", ALG_SHA256},
             {"hmac-sha384", ALG_SHA384},
             {"hmac-sha512", ALG_SHA512}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (s.n == strlen(t[i].name) && memcmp(s.p, t[i].name, s.n) == 0) {
            return t[i].bit;
        }
    }
    return 0;
}

static const EVP_MD *
alg_md(unsigned bit)
{
    switch (bit) {
    case ALG_SHA1:
        return EVP_sha1();
    case ALG_SHA256:
        return EVP_sha256();
    case ALG_SHA384:
        return EVP_sha384();
    case ALG_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *anon = gw_rec_get(r, c, "anonymous");
    const struct gw_val *realm = gw_rec_get(r, c, "realm");
    const struct gw_val *hide = gw_rec_get(r, c, "hide_credentials");
    const struct gw_val *body = gw_rec_get(r, c, "validate_request_body");
    const struct gw_val *skew = gw_rec_get(r, c, "clock_skew");
    const struct gw_val *enf = gw_rec_get(r, c, "enforce_headers");
    const struct gw_val *algs = gw_rec_get(r, c, "algorithms");

    if (k == NULL) {
        goto oom;
    }
    k->hide = hide && hide->type == GW_V_BOOL && hide->u.b;
    k->validate_body = body && body->type == GW_V_BOOL && body->u.b;
    k->anonymous = anon && anon->type == GW_V_STR ? anon->u.s : NULL;
    k->clock_skew = skew && skew->type == GW_V_INT   ? (double)skew->u.i
                    : skew && skew->type == GW_V_NUM ? skew->u.d
                                                     : 300;
    if (algs && algs->type == GW_V_ARR) {
        for (uint32_t i = 0; i < algs->n; i++) {
            const struct gw_val *e = &algs->u.items[i];
            if (e->type == GW_V_STR) {
                k->algorithms |= alg_bit((struct gw_str){e->u.s, e->n});
            }
        }
    } else {
        k->algorithms = ALG_SHA1 | ALG_SHA256 | ALG_SHA384 | ALG_SHA512;
    }
    if (enf && enf->type == GW_V_ARR && enf->n) {
        k->enforce = gw_arena_calloc(a, sizeof *k->enforce * enf->n);
        if (k->enforce == NULL) {
            goto oom;
        }
        for (uint32_t i = 0; i < enf->n; i++) {
            const struct gw_val *e = &enf->u.items[i];
            if (e->type == GW_V_STR) {
                k->enforce[k->nenforce++] = (struct gw_str){e->u.s, e->n};
            }
        }
    }
    if (realm && realm->type == GW_V_STR) {
        size_t n = realm->n + 16;
        char *v = gw_arena_alloc(a, n);
        if (v == NULL) {
            goto oom;
        }
        k->challenge = (struct gw_str){v, (size_t)snprintf(v, n, "hmac realm=\"%s\"", realm->u.s)};
    } else {
        k->challenge = (struct gw_str){"hmac", 4};
    }
    return k;
oom:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

static void *
init(const struct gw_snapshot *s, struct gw_arena *a)
{
    return gw_cred_index_build(s->cfg, GW_ENT_HMACAUTH_CREDENTIALS, "username", NULL, a);
}

/* ---- ngx.parse_http_time (nginx's ngx_parse_http_time): RFC 1123, RFC 850 and asctime
 * dates; -1 when it does not parse. */

static int
two(const char *p, int *out)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') {
        return 0;
    }
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return 1;
}

static int64_t
parse_http_time(struct gw_str v)
{
    static const int mday[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    enum { NONE, RFC822, RFC850, ISOC } fmt = NONE;
    const char *p = v.p, *end = v.p + v.n;
    int day = 0, month, year = 0, hour, min, sec, hi, lo;

    for (; p < end; p++) {
        if (*p == ',') {
            break;
        }
        if (*p == ' ') {
            fmt = ISOC;
            break;
        }
    }
    for (p++; p < end; p++) {
        if (*p != ' ') {
            break;
        }
    }
    if (p > end || end - p < 18) {
        return -1;
    }
    if (fmt != ISOC) {
        if (!two(p, &day)) {
            return -1;
        }
        p += 2;
        if (*p == ' ') {
            if (end - p < 18) {
                return -1;
            }
            fmt = RFC822;
        } else if (*p == '-') {
            fmt = RFC850;
        } else {
            return -1;
        }
        p++;
    }
    switch (*p) {
    case 'J':
        month = p[1] == 'a' ? 0 : p[2] == 'n' ? 5 : 6;
        break;
    case 'F':
        month = 1;
        break;
    case 'M':
        month = p[2] == 'r' ? 2 : 4;
        break;
    case 'A':
        month = p[1] == 'p' ? 3 : 7;
        break;
    case 'S':
        month = 8;
        break;
    case 'O':
        month = 9;
        break;
    case 'N':
        month = 10;
        break;
    case 'D':
        month = 11;
        break;
    default:
        return -1;
    }
    p += 3;
    if ((fmt == RFC822 && *p != ' ') || (fmt == RFC850 && *p != '-')) {
        return -1;
    }
    p++;
    if (fmt == RFC822) {
        if (!two(p, &hi) || !two(p + 2, &lo)) {
            return -1;
        }
        year = hi * 100 + lo;
        p += 4;
    } else if (fmt == RFC850) {
        if (!two(p, &year)) {
            return -1;
        }
        year += year < 70 ? 2000 : 1900;
        p += 2;
    }
    if (fmt == ISOC) {
        if (*p == ' ') {
            p++;
        }
        if (*p < '0' || *p > '9') {
            return -1;
        }
        day = *p++ - '0';
        if (*p != ' ') {
            if (*p < '0' || *p > '9') {
                return -1;
            }
            day = day * 10 + (*p++ - '0');
        }
        if (end - p < 14) {
            return -1;
        }
    }
    if (*p++ != ' ' || !two(p, &hour) || p[2] != ':' || !two(p + 3, &min) || p[5] != ':' ||
        !two(p + 6, &sec)) {
        return -1;
    }
    p += 8;
    if (fmt == ISOC) {
        if (end - p < 5 || *p++ != ' ' || !two(p, &hi) || !two(p + 2, &lo)) {
            return -1;
        }
        year = hi * 100 + lo;
    }
    if (hour > 23 || min > 59 || sec > 59) {
        return -1;
    }
    if (day == 29 && month == 1) {
        if ((year & 3) || (year % 100 == 0 && year % 400 != 0)) {
            return -1;
        }
    } else if (day > mday[month]) {
        return -1;
    }
    /* shift the new year to March 1 and count months from 1 (nginx's formula) */
    if (--month <= 0) {
        month += 12;
        year -= 1;
    }
    return ((int64_t)365 * year + year / 4 - year / 100 + year / 400 + 367 * month / 12 - 30 +
            day - 1 - 719527 + 31 + 28) *
               86400 +
           hour * 3600 + min * 60 + sec;
}

static int
clock_ok(const struct gw_pctx *ctx, const char *name, double allowed)
{
    struct gw_str d = gw_pctx_header(ctx, name, NULL);
    struct timespec ts;

    if (d.p == NULL) {
        return 0;
    }
    int64_t t = parse_http_time(d);
    if (t < 0) {
        return 0;
    }
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return fabs((double)((int64_t)ts.tv_sec - t)) <= allowed;
}

/* ---- the header: Kong's unanchored, greedy
 *   \s*[Hh]mac\s*username="(.+)",\s*algorithm="(.+)",\s*headers="(.+)",\s*signature="(.+)"
 * Each (.+) takes the last delimiter that still lets the rest match, so the latest valid
 * delimiter of each kind, found from the right, gives PCRE's captures in linear time. */

struct params {
    struct gw_str username, algorithm, headers, signature;
};

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* At i: `",\s*<name>="`? The value's start, or 0. */
static size_t
delim(struct gw_str v, size_t i, const char *name)
{
    size_t n = strlen(name);

    if (i + 2 > v.n || v.p[i] != '"' || v.p[i + 1] != ',') {
        return 0;
    }
    i += 2;
    while (i < v.n && is_space(v.p[i])) {
        i++;
    }
    if (i + n + 2 > v.n || memcmp(v.p + i, name, n) != 0 || v.p[i + n] != '=' ||
        v.p[i + n + 1] != '"') {
        return 0;
    }
    return i + n + 2;
}

/* The latest delimiter `name` at e whose value starts at or before limit - 1 (so that the
 * next capture is non-empty); *val gets the value's start. 0 when none. */
static size_t
last_delim(struct gw_str v, const char *name, size_t limit, size_t *val)
{
    for (size_t e = limit; e-- > 1;) {
        size_t s = delim(v, e, name);
        if (s && s + 1 <= limit) {
            *val = s;
            return e;
        }
    }
    return 0;
}

static int
parse_params(struct gw_str v, struct params *out)
{
    size_t q, e1, e2, e3, s1, s2, s3, s4, i;

    if (v.p == NULL || memchr(v.p, '\n', v.n)) {
        return 0; /* '.' does not match a newline; header values never hold one */
    }
    for (q = v.n; q > 0 && v.p[q - 1] != '"'; q--) {
    }
    if (q == 0) {
        return 0;
    }
    q--; /* the closing quote of the signature */
    if ((e3 = last_delim(v, "signature", q, &s4)) == 0 ||
        (e2 = last_delim(v, "headers", e3, &s3)) == 0 ||
        (e1 = last_delim(v, "algorithm", e2, &s2)) == 0) {
        return 0;
    }
    /* the first [Hh]mac\s*username=" (PCRE tries every start); its value must start
     * before e1, and a later one would start later still */
    for (i = 0;; i++) {
        size_t j;
        if (i + 4 > v.n) {
            return 0;
        }
        if ((v.p[i] != 'H' && v.p[i] != 'h') || memcmp(v.p + i + 1, "mac", 3) != 0) {
            continue;
        }
        for (j = i + 4; j < v.n && is_space(v.p[j]); j++) {
        }
        if (j + 10 <= v.n && memcmp(v.p + j, "username=\"", 10) == 0) {
            i = j;
            break;
        }
    }
    s1 = i + 10;
    if (s1 + 1 > e1) {
        return 0;
    }
    out->username = (struct gw_str){v.p + s1, e1 - s1};
    out->algorithm = (struct gw_str){v.p + s2, e2 - s2};
    out->headers = (struct gw_str){v.p + s3, e3 - s3};
    out->signature = (struct gw_str){v.p + s4, q - s4};
    return 1;
}

static int
signed_header(struct gw_str list, struct gw_str name)
{
    const char *p = list.p, *end = list.p + list.n;

    for (;;) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        const char *te = sp ? sp : end;
        if ((size_t)(te - p) == name.n && memcmp(p, name.p, name.n) == 0) {
            return 1;
        }
        if (sp == NULL) {
            return 0;
        }
        p = sp + 1;
    }
}

/* ---- the signing string */

struct buf {
    char *p;
    size_t n, cap;
    struct gw_arena *a;
};

static int
put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 64;
        char *p = gw_arena_alloc(b->a, cap);
        if (p == NULL) {
            return 0;
        }
        if (b->n) {
            memcpy(p, b->p, b->n);
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) {
        memcpy(b->p + b->n, s, n);
    }
    b->n += n;
    return 1;
}

/* kong.request.get_path_with_query: the request URI as sent ($request_uri) */
static struct gw_str
request_uri(const struct gw_http_head *h)
{
    if (h->target.n && h->target.p[0] != '/' && h->path.p && h->path.p >= h->target.p &&
        h->path.p < h->target.p + h->target.n) {
        return (struct gw_str){h->path.p, (size_t)(h->target.p + h->target.n - h->path.p)};
    }
    return h->target;
}

static int
signing_string(struct gw_pctx *ctx, struct gw_str list, struct buf *b)
{
    const struct gw_http_head *h = ctx->h;
    const char *p = list.p, *end = list.p + list.n;

    for (;;) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        const char *te = sp ? sp : end;
        size_t n = (size_t)(te - p);
        char name[256];
        struct gw_str val = GW_STR_NULL;
        int ok = 1;

        if (n > 0 && n < sizeof name) {
            memcpy(name, p, n);
            name[n] = 0;
            val = gw_pctx_header(ctx, name, NULL);
        }
        if (val.p) {
            ok = put(b, p, n) && put(b, ": ", 2) && put(b, val.p, val.n);
        } else if (n == 15 && memcmp(p, "@request-target", 15) == 0) {
            struct gw_str uri = request_uri(h);
            ok = put(b, "@request-target: ", 17);
            for (size_t i = 0; ok && i < h->method.n; i++) {
                char c = h->method.p[i];
                c = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
                ok = put(b, &c, 1);
            }
            ok = ok && put(b, " ", 1) && put(b, uri.p, uri.n);
        } else if (n == 12 && memcmp(p, "request-line", 12) == 0) {
            struct gw_str uri = request_uri(h);
            ok = put(b, h->method.p, h->method.n) && put(b, " ", 1) && put(b, uri.p, uri.n) &&
                 put(b, h->minor ? " HTTP/1.1" : " HTTP/1.0", 9);
        } else {
            ok = put(b, p, n) && put(b, ":", 1);
        }
        if (!ok) {
            return 0;
        }
        if (sp == NULL) {
            return 1;
        }
        if (!put(b, "\n", 1)) {
            return 0;
        }
        p = sp + 1;
    }
}

static int
signature_ok(struct gw_pctx *ctx, const struct params *pr, unsigned alg, const struct gw_cred *sl)
{
    struct buf b = {NULL, 0, 0, ctx->arena};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct gw_str secret = gw_cred_field(GW_ENT_HMACAUTH_CREDENTIALS, sl->cred, "secret");

    if (!signing_string(ctx, pr->headers, &b) ||
        HMAC(alg_md(alg), secret.p ? secret.p : "", (int)secret.n,
             (const unsigned char *)(b.p ? b.p : ""), b.n, md, &mdlen) == NULL) {
        return 0;
    }
    unsigned char *sig = gw_arena_alloc(ctx->arena, pr->signature.n * 3 / 4 + 4);
    long sn = sig ? gw_plugin_base64_decode(pr->signature, 0, sig) : -1;
    return sn == (long)mdlen && CRYPTO_memcmp(sig, md, mdlen) == 0;
}

static int
needs_body(const void *conf, const struct gw_pctx *ctx)
{
    (void)ctx;
    return ((const struct conf *)conf)->validate_body;
}

static int
body_ok(const struct gw_pctx *ctx)
{
    struct gw_str digest = gw_pctx_header(ctx, "Digest", NULL);
    struct gw_str body = gw_pctx_body(ctx);
    unsigned char md[32];
    char want[8 + 45] = "SHA-256=";

    if (digest.p == NULL) {
        return body.n == 0; /* no digest is fine only without a body */
    }
    if (EVP_Digest(body.p ? body.p : "", body.n, md, NULL, EVP_sha256(), NULL) != 1) {
        return 0;
    }
    int n = EVP_EncodeBlock((unsigned char *)want + 8, md, sizeof md);
    return n > 0 && gw_str_eq(digest, (struct gw_str){want, 8 + (size_t)n});
}

/* 0 and a message on failure, 1 when authenticated */
static int
authenticate(struct gw_pctx *ctx, const struct conf *k, const struct gw_cred_index *ix,
             const char **msg)
{
    struct gw_str authz = gw_pctx_header(ctx, "Authorization", NULL);
    struct gw_str proxy = gw_pctx_header(ctx, "Proxy-Authorization", NULL);
    struct params pr = {GW_STR_NULL, GW_STR_NULL, GW_STR_NULL, GW_STR_NULL};
    const struct gw_cred *sl;
    unsigned alg;

    if (authz.p == NULL && proxy.p == NULL) {
        *msg = "Unauthorized";
        return 0;
    }
    if (!clock_ok(ctx, "X-Date", k->clock_skew) && !clock_ok(ctx, "Date", k->clock_skew)) {
        *msg = MSG_DATE;
        return 0;
    }
    *msg = MSG_NOT_VALID;
    if (parse_params(proxy, &pr)) {
        if (k->hide) {
            gw_pctx_remove_header(ctx, "Proxy-Authorization");
        }
    } else {
        if (k->hide) {
            gw_pctx_remove_header(ctx, "Authorization"); /* Kong clears it, parsed or not */
        }
        if (!parse_params(authz, &pr)) {
            return 0;
        }
    }
    for (unsigned i = 0; i < k->nenforce; i++) {
        if (!signed_header(pr.headers, k->enforce[i])) {
            return 0;
        }
    }
    alg = alg_bit(pr.algorithm);
    if ((alg & k->algorithms) == 0) {
        return 0;
    }
    sl = gw_cred_index_find(ix, pr.username);
    if (sl == NULL || sl->consumer == NULL) {
        return 0;
    }
    *msg = MSG_NOT_SAME;
    if (!signature_ok(ctx, &pr, alg, sl) || (k->validate_body && !body_ok(ctx))) {
        return 0;
    }
    gw_pctx_authenticate(ctx, sl->consumer, sl->cred, sl->key.p);
    return 1;
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    const char *msg = MSG_NOT_VALID;

    if (k->anonymous && ctx->credential) {
        return 0; /* "logical OR": another auth plugin already identified the client */
    }
    if (global && authenticate(ctx, k, global, &msg)) {
        return 0;
    }
    if (k->anonymous) {
        return gw_pctx_anonymous(ctx, k->anonymous);
    }
    gw_pctx_set_resp_header(ctx, "WWW-Authenticate", k->challenge);
    return gw_pctx_error(ctx, 401, msg);
}

const struct gw_plugin gw_handler_hmac_auth = {
    .schema = &gw_schema_hmac_auth,
    .compile = compile,
    .init = init,
    .access = access,
    .needs_body = needs_body,
};
