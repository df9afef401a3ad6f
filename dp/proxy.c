/* The request state machine: client head -> route -> upstream connect -> request head and
 * body -> response head -> response body -> keep-alive or close. One client connection
 * carries one request at a time; pipelined requests wait in its input buffer. Everything a
 * request allocates comes from its arena, freed in one go when it ends; the snapshot it
 * started with stays referenced until then.
 *
 * Every event calls step(), which advances the state as far as the sockets allow and then
 * arms exactly the watchers and the timer that the blocked state needs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "arena.h"
#include "balancer.h"
#include "http1.h"
#include "plugin.h"
#include "realip.h"
#include "tls.h"
#include "router.h"
#include "schema.h"
#include "upstream.h"
#include "version.h"
#include "worker.h"

#define IN_CAP        (16 * 1024)
#define IN_MAX        (48 * 1024) /* head limit (32 KiB) plus room for body reads */
#define RBUF_CAP      (16 * 1024)
#define VIA_TOKEN     "1.1 " GW_PRODUCT

enum state {
    S_TLS = 0,    /* TLS handshake with the client */
    S_HEAD,       /* reading the client's request head */
    S_CONNECT,    /* connecting to a target */
    S_UP_TLS,     /* TLS handshake with an https upstream */
    S_SEND_HEAD,  /* writing the request head upstream */
    S_SEND_BODY,  /* streaming the request body upstream */
    S_RESP_HEAD,  /* reading the response head */
    S_RESP_BODY,  /* streaming the response to the client */
    S_READ_BODY,  /* reading the whole request body for a plugin, before its access handler */
    S_RESP_BUFFER, /* reading the whole response body for body_filter, before the head goes */
    S_RESP_SEND,  /* writing the head and a buffered response body */
    S_LOCAL,      /* writing a response made here */
    S_TUNNEL,     /* after 101 Switching Protocols: bytes both ways until a side closes */
    S_LINGER,     /* response sent, connection closing: drain what the client still sends */
    S_DONE,
};

enum framing {
    F_NONE = 0,
    F_LENGTH,
    F_CHUNKED,
    F_EOF, /* responses: until the upstream closes */
    F_BUFFERED, /* requests: read whole before access, sent from memory with Content-Length */
};

struct req {
    struct gw_arena *arena;
    struct gw_snapshot *snap;
    size_t head_len;
    size_t pos; /* client input consumed so far (absolute offset in c->in) */
    const struct gw_route_info *ri;
    struct gw_service *svc;
    const struct gw_target *target;
    struct gw_upconn *up;
    int up_reused;
    uint32_t tries;
    char id[33];
    ev_tstamp t_start, t_upstream, t_first_byte;
    /* request body, client -> upstream */
    enum framing bk;
    int64_t body_left;
    struct gw_chunked bch;
    size_t body_pending; /* scanned body bytes at c->in + pos not yet written */
    int body_done, body_started;
    /* request head for the upstream */
    char *uh;
    size_t uh_len, uh_off;
    /* response */
    struct gw_http_head rh;
    enum framing rk;
    int64_t resp_left;
    struct gw_chunked rch;
    size_t r_off, r_len;  /* unconsumed bytes in c->rbuf */
    size_t resp_pending;  /* scanned response bytes at rbuf + r_off not yet written */
    int resp_done, up_close, resp_wait;
    char *ch;             /* response head (or whole local response) for the client */
    size_t ch_len, ch_off;
    int status;
    uint64_t bytes_out;
    struct gw_pick pick;   /* balancer state across the tries (balancer.h) */
    /* bodies buffered for plugins (request: before access; response: for body_filter) */
    struct gw_route_match m; /* the route match and normalized path, kept across S_READ_BODY */
    struct gw_str norm;
    char *bbuf;              /* request payload being read (malloc, freed with the arena) */
    size_t bb_len, bb_cap;
    int body_consumed;       /* the client's whole body was read: nothing of it is left */
    int continue_sent;       /* 100 Continue was sent */
    struct gw_str ob;        /* F_BUFFERED: the body going upstream */
    size_t ob_off;
    char *rb;                /* raw response bytes being buffered (malloc, as bbuf) */
    size_t rb_len, rb_cap;
    int resp_mode;           /* 0 streamed; 1 buffered, framed by length; 2 buffering gave up */
    struct gw_str xbody;     /* S_RESP_SEND: bytes after the head */
    size_t x_off;
    char client_ip[INET6_ADDRSTRLEN]; /* after trusted_ips / real_ip_header; "": the peer */
    int peer_trusted;                 /* the connecting peer is in trusted_ips */
    struct gw_pctx pc;     /* plugins: header edits, consumer, answers */
    struct gw_http_head h; /* last: req_begin clears what comes before it */
};

struct client {
    struct gw_worker *w;
    int fd;
    SSL *ssl;                     /* TLS listeners */
    int tls_want;                 /* event the last TLS call needs (it may differ from the op) */
    struct gw_snapshot *hs_snap;  /* certificates for the handshake */
    ev_io io;
    int want_c, want_u; /* events the current state waits for on each socket */
    ev_timer timer;
    const struct gw_listen *l;
    char peer[INET6_ADDRSTRLEN];
    int peer_port;
    char *in;
    size_t in_len, in_cap, in_off; /* request bytes live in [in_off, in_len) */
    char *rbuf;
    struct gw_arena *arena; /* the connection's; each request resets it (blocks are kept) */
    enum state state;
    int close_after;
    uint32_t nreq;
    uint64_t serial; /* nginx's $connection */
    struct req r;
    struct client *prev, *next; /* worker's list, for shutdown */
};

/* connections accepted by all workers, numbered from 1 as nginx numbers them */
static _Atomic uint64_t conn_serial;

static void step(struct client *c);
static void client_close(struct client *c);
static ssize_t c_send(struct client *c, const char *buf, size_t n);

/* ------------------------------------------------------------------ small helpers */

static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* 32 hex characters, unique per request: a per-thread random seed and a counter, mixed. */
static void
request_id(char out[33])
{
    static _Thread_local uint64_t seed, counter;
    static const char hex[] = "0123456789abcdef";

    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)pthread_self());
    }
    uint64_t a = mix64(seed + ++counter), b = mix64(a ^ seed);
    for (int i = 0; i < 16; i++) {
        out[i] = hex[(a >> (i * 4)) & 15];
        out[16 + i] = hex[(b >> (i * 4)) & 15];
    }
    out[32] = '\0';
}

struct sbuf {
    struct gw_arena *a;
    char *p;
    size_t len, cap;
};

static void
sb_reserve(struct sbuf *b, size_t n)
{
    if (b->len + n <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + n) {
        cap *= 2;
    }
    char *p = gw_arena_alloc(b->a, cap);
    if (p && b->len) {
        memcpy(p, b->p, b->len);
    }
    b->p = p;
    b->cap = p ? cap : 0;
    if (p == NULL) {
        b->len = 0;
    }
}

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (n == 0) {
        return; /* s may be NULL for an empty string */
    }
    sb_reserve(b, n);
    if (b->p) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

static void
sb_str(struct sbuf *b, struct gw_str s)
{
    sb_put(b, s.p, s.n);
}

#define SB_LIT(b, lit) sb_put(b, lit, sizeof(lit) - 1)

static void
sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[512];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) {
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
    }
}

static void
sb_header(struct sbuf *b, const char *name, struct gw_str value)
{
    sb_put(b, name, strlen(name));
    SB_LIT(b, ": ");
    sb_str(b, value);
    SB_LIT(b, "\r\n");
}

static const struct gw_http_header *
header(const struct gw_http_head *h, const char *name)
{
    for (unsigned i = 0; i < h->nheaders; i++) {
        if (gw_str_caseeqz(h->headers[i].name, name)) {
            return &h->headers[i];
        }
    }
    return NULL;
}

static const char *
reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Kong's default messages for error responses (kong/pdk/response.lua, error handler). */
static const char *
default_message(int status)
{
    switch (status) {
    case 400: return "Bad request";
    case 404: return "Not found";
    case 408: return "Request timeout";
    case 411: return "Length required";
    case 413: return "Payload too large";
    case 414: return "URI too long";
    case 431: return "Request header fields too large";
    case 500: return "An unexpected error occurred";
    case 502: return "An invalid response was received from the upstream server";
    case 503: return "The upstream server is currently unavailable";
    case 504: return "The upstream server is timing out";
    default: return NULL;
    }
}

enum fmt { FMT_JSON, FMT_PLAIN, FMT_HTML, FMT_XML };

/* Kong's error template choice: the Accept entry with the highest q that maps to a known
 * type, else the request's Content-Type, else the default. */
static enum fmt
negotiate(const struct gw_http_head *h, enum fmt dflt)
{
    const struct gw_http_header *acc = h ? header(h, "accept") : NULL;
    const struct gw_http_header *ct = h ? header(h, "content-type") : NULL;
    enum fmt best = dflt;
    double bestq = -1;
    struct gw_str v;

    if (acc) {
        v = acc->value;
        size_t i = 0;
        while (i < v.n) {
            size_t start = i;
            while (i < v.n && v.p[i] != ',') {
                i++;
            }
            struct gw_str item = {v.p + start, i - start};
            i++;
            while (item.n && (*item.p == ' ' || *item.p == '\t')) {
                item.p++, item.n--;
            }
            size_t tl = 0;
            while (tl < item.n && item.p[tl] != ';' && item.p[tl] != ' ') {
                tl++;
            }
            struct gw_str type = {item.p, tl};
            double q = 1;
            const char *qp = memmem(item.p, item.n, "q=", 2);
            if (qp) {
                q = strtod(qp + 2, NULL);
            }
            enum fmt f;
            if (gw_str_caseeqz(type, "*/*")) {
                f = dflt; /* curl's default: the response's own default format */
            } else if (gw_str_caseeqz(type, "application/json") ||
                       gw_str_caseeqz(type, "application/*")) {
                f = FMT_JSON;
            } else if (gw_str_caseeqz(type, "text/html")) {
                f = FMT_HTML;
            } else if (gw_str_caseeqz(type, "application/xml") || gw_str_caseeqz(type, "text/xml")) {
                f = FMT_XML;
            } else if (gw_str_caseeqz(type, "text/plain") || gw_str_caseeqz(type, "text/*")) {
                f = FMT_PLAIN;
            } else {
                continue;
            }
            if (q > bestq) {
                bestq = q;
                best = f;
            }
        }
        if (bestq >= 0) {
            return best;
        }
    }
    if (ct && dflt == FMT_PLAIN) {
        v = ct->value;
        if (v.n >= 16 && strncasecmp(v.p, "application/json", 16) == 0) {
            return FMT_JSON;
        }
        if (v.n >= 9 && strncasecmp(v.p, "text/html", 9) == 0) {
            return FMT_HTML;
        }
        if (v.n >= 15 && strncasecmp(v.p, "application/xml", 15) == 0) {
            return FMT_XML;
        }
    }
    return dflt;
}

/* ------------------------------------------------------------------ local responses */

static double
ms_since(struct client *c, ev_tstamp t)
{
    return (ev_now(c->w->loop) - t) * 1000.0;
}

/* A response made by the gateway: Kong's error templates, headers and connection handling.
 * dflt is the format when the client expresses no preference. */
static void put_resp_edits(struct sbuf *b, struct gw_pctx *pc);

static void
respond_error_x(struct client *c, int status, const char *msg, enum fmt dflt, const char *extra);

/* msg escaped for a JSON string, or for HTML/XML text. Plain text stays as it is. */
static const char *
escape_msg(struct gw_arena *a, const char *msg, int json)
{
    size_t n = strlen(msg);
    char *out = gw_arena_alloc(a, n * 6 + 1), *o = out;

    if (out == NULL || strpbrk(msg, json ? "\"\\\n\r\t" : "<>&\"'") == NULL) {
        return msg;
    }
    for (const char *p = msg; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (json && (ch == '"' || ch == '\\')) {
            *o++ = '\\', *o++ = (char)ch;
        } else if (json && ch < 0x20) {
            o += sprintf(o, "\\u%04x", ch);
        } else if (!json && (ch == '<' || ch == '>' || ch == '&' || ch == '"' || ch == '\'')) {
            const char *e = ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '&' ? "&amp;"
                          : ch == '"' ? "&quot;" : "&#39;";
            o += sprintf(o, "%s", e);
        } else {
            *o++ = (char)ch;
        }
    }
    *o = '\0';
    return out;
}

static void
respond_error(struct client *c, int status, const char *msg, enum fmt dflt)
{
    respond_error_x(c, status, msg, dflt, NULL);
}

/* extra: header lines (each ending in CRLF) added to the response, or NULL. */
static void
respond_error_x(struct client *c, int status, const char *msg, enum fmt dflt, const char *extra)
{
    struct req *r = &c->r;
    struct sbuf b = {.a = r->arena};
    struct sbuf body = {.a = r->arena};
    const struct gw_http_head *h = r->head_len ? &r->h : NULL;
    enum fmt f = negotiate(h, dflt);
    const char *ctype;

    if (msg == NULL) {
        msg = default_message(status);
    }
    if (msg == NULL) {
        static _Thread_local char tmp[64];
        snprintf(tmp, sizeof tmp, "The upstream server responded with %d", status);
        msg = tmp;
    }
    /* messages may come from configuration (plugins' message fields): escape them */
    if (f != FMT_PLAIN) {
        msg = escape_msg(r->arena, msg, f == FMT_JSON);
    }
    switch (f) {
    case FMT_JSON:
        sb_printf(&body, "{\n  \"message\":\"%s\",\n  \"request_id\":\"%s\"\n}", msg, r->id);
        ctype = "application/json; charset=utf-8";
        break;
    case FMT_HTML:
        sb_printf(&body,
                  "<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n"
                  "</head>\n<body>\n<h1>Error</h1>\n<p>%s.</p>\n<p>request_id: %s</p>\n</body>\n"
                  "</html>\n",
                  msg, r->id);
        ctype = "text/html; charset=utf-8";
        break;
    case FMT_XML:
        sb_printf(&body,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>%s</message>\n"
                  "  <requestid>%s</requestid>\n</error>\n",
                  msg, r->id);
        ctype = "application/xml; charset=utf-8";
        break;
    default:
        sb_printf(&body, "%s\nrequest_id: %s\n", msg, r->id);
        ctype = "text/plain; charset=utf-8";
        break;
    }
    r->status = status;
    sb_printf(&b, "HTTP/1.1 %d %s\r\n", status, reason(status));
    sb_printf(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, body.len);
    SB_LIT(&b, "Server: " GW_PRODUCT "\r\n");
    sb_printf(&b, "X-Kong-Response-Latency: %.0f\r\nX-Kong-Request-Id: %s\r\n",
              ms_since(c, r->t_start), r->id);
    if (r->pc.snap) {
        /* plugins that ran see the gateway's own answers too (CORS on a 401) */
        gw_plugins_header_filter(&r->pc);
        put_resp_edits(&b, &r->pc);
    }
    if (extra) {
        sb_put(&b, extra, strlen(extra));
    } else if (c->close_after) {
        SB_LIT(&b, "Connection: close\r\n");
    }
    SB_LIT(&b, "\r\n");
    if (!(h && gw_str_eqz(h->method, "HEAD"))) {
        sb_put(&b, body.p, body.len);
    }
    r->ch = b.p;
    r->ch_len = b.p ? b.len : 0;
    r->ch_off = 0;
    c->state = S_LOCAL;
}

/* Response header edits from plugins (header_filter and answers), as header lines. */
static void
put_resp_edits(struct sbuf *b, struct gw_pctx *pc)
{
    for (unsigned i = 0; i < pc->nresp_edits; i++) {
        const struct gw_header_edit *e = &pc->resp_edits[i];
        int later = 0;
        for (unsigned k = i + 1; k < pc->nresp_edits && !later; k++) {
            later = !pc->resp_edits[k].append && gw_str_caseeq(pc->resp_edits[k].name, e->name);
        }
        if (later || e->remove) {
            continue; /* the last set or remove of a name wins; appends after it add lines */
        }
        sb_str(b, e->name);
        SB_LIT(b, ": ");
        sb_str(b, e->value);
        SB_LIT(b, "\r\n");
    }
}

/* Whether a plugin set or removed the header (appends keep the current lines). */
static int
edited(const struct gw_header_edit *e, unsigned n, struct gw_str name)
{
    for (unsigned i = 0; i < n; i++) {
        if (!e[i].append && gw_str_caseeq(e[i].name, name)) {
            return 1;
        }
    }
    return 0;
}

/* kong.response.exit from a plugin: its status and raw body (JSON by default). */
static void
respond_exit(struct client *c)
{
    struct req *r = &c->r;
    struct gw_pctx *pc = &r->pc;
    struct sbuf b = {.a = r->arena};

    gw_plugins_header_filter(pc);
    if (pc->resp_buffer && pc->exit_body.n) {
        /* Kong's body_filter sees kong.response.exit bodies too */
        pc->resp_body = pc->exit_body;
        gw_plugins_body_filter(pc);
        pc->exit_body = gw_pctx_resp_body(pc);
    }
    r->status = pc->exit_status;
    sb_printf(&b, "HTTP/1.1 %d %s\r\n", r->status, reason(r->status));
    if (!edited(pc->resp_edits, pc->nresp_edits, GW_STR_LIT("Content-Type")) && pc->exit_body.n) {
        sb_printf(&b, "Content-Type: %s\r\n",
                  pc->exit_ctype ? pc->exit_ctype : "application/json; charset=utf-8");
    }
    sb_printf(&b, "Content-Length: %zu\r\n", pc->exit_body.n);
    SB_LIT(&b, "Server: " GW_PRODUCT "\r\n");
    sb_printf(&b, "X-Kong-Response-Latency: %.0f\r\nX-Kong-Request-Id: %s\r\n",
              ms_since(c, r->t_start), r->id);
    put_resp_edits(&b, pc);
    if (c->close_after) {
        SB_LIT(&b, "Connection: close\r\n");
    }
    SB_LIT(&b, "\r\n");
    if (!gw_str_eqz(r->h.method, "HEAD")) {
        sb_str(&b, pc->exit_body);
    }
    r->ch = b.p;
    r->ch_len = b.p ? b.len : 0;
    r->ch_off = 0;
    c->state = S_LOCAL;
}

/* ------------------------------------------------------------------ request setup */

static void
req_begin(struct client *c)
{
    struct req *r = &c->r;

    /* the head may already be parsed into r->h */
    memset(r, 0, offsetof(struct req, h));
    if (c->arena == NULL) {
        c->arena = gw_arena_create(8192);
    }
    r->arena = c->arena;
    gw_worker_sync(c->w);
    r->t_start = ev_now(c->w->loop);
    request_id(r->id);
    if (r->arena == NULL) {
        return;
    }
    r->snap = gw_snapshot_ref(c->w->snap);
    gw_arena_on_destroy(r->arena, gw_snapshot_unref_cb, r->snap);
}

/* Host without the port; IPv6 literals keep their brackets removed. */
static struct gw_str
host_only(struct gw_str host)
{
    if (host.n && host.p[0] == '[') {
        const char *end = memchr(host.p, ']', host.n);
        return end ? (struct gw_str){host.p + 1, (size_t)(end - host.p - 1)} : host;
    }
    const char *colon = memchr(host.p, ':', host.n);
    return colon ? (struct gw_str){host.p, (size_t)(colon - host.p)} : host;
}

/* Bytes that may go into a request-target unescaped (Kong §4.6). */
static int
path_safe(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr("!#$&'()*+,/:;=?@[]-_.~%", ch) != NULL;
}

static void
put_escaped_path(struct sbuf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch && path_safe(ch)) {
            sb_put(b, (const char *)&ch, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            sb_put(b, e, 3);
        }
    }
}

/* Headers not forwarded as they came: hop-by-hop ones (RFC 9110 7.6.1) and those we set. */
static int
skip_request_header(const struct gw_http_head *h, struct gw_str name)
{
    static const char *const skip[] = {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
        "host", "x-real-ip", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
        "x-forwarded-port", "x-forwarded-path", "x-forwarded-prefix", "via", "expect",
        "x-kong-request-id", NULL};

    for (const char *const *s = skip; *s; s++) {
        if (gw_str_caseeqz(name, *s)) {
            return 1;
        }
    }
    /* headers listed in Connection are hop-by-hop too */
    const struct gw_http_header *conn = header(h, "connection");
    if (conn) {
        struct gw_str v = conn->value;
        size_t i = 0;
        while (i < v.n) {
            size_t st = i;
            while (i < v.n && v.p[i] != ',') {
                i++;
            }
            struct gw_str tok = {v.p + st, i - st};
            while (tok.n && (tok.p[0] == ' ' || tok.p[0] == '\t')) {
                tok.p++, tok.n--;
            }
            while (tok.n && (tok.p[tok.n - 1] == ' ' || tok.p[tok.n - 1] == '\t')) {
                tok.n--;
            }
            if (gw_str_caseeq(tok, name)) {
                return 1;
            }
            i++;
        }
    }
    return 0;
}

static int
is_websocket(const struct gw_http_head *h)
{
    return h->conn_upgrade && gw_str_caseeqz(h->upgrade, "websocket");
}

/* Header edits of plugins: the last set or remove of a name decides, appends after it add
 * lines. */
static void
put_req_edits(struct sbuf *b, const struct gw_pctx *pc)
{
    for (unsigned i = 0; i < pc->nreq_edits; i++) {
        const struct gw_header_edit *e = &pc->req_edits[i];
        int later = 0;
        for (unsigned k = i + 1; k < pc->nreq_edits && !later; k++) {
            later = !pc->req_edits[k].append && gw_str_caseeq(pc->req_edits[k].name, e->name);
        }
        if (later || e->remove) {
            continue;
        }
        sb_str(b, e->name);
        SB_LIT(b, ": ");
        sb_str(b, e->value);
        SB_LIT(b, "\r\n");
    }
}

/* The query string without the arguments plugins removed (hide_credentials), then with
 * the query edits (request-transformer) applied in order. */
struct qarg {
    struct gw_str key, rest; /* rest: "=value" or empty */
    int dropped;
};

static void
put_query(struct sbuf *b, struct gw_str q, const struct gw_pctx *pc)
{
    size_t i = 0;
    int first = 1;
    unsigned n = 0, cap;
    struct qarg *args;

    if (pc->nremoved_args == 0 && pc->nquery_edits == 0) {
        sb_str(b, q);
        return;
    }
    cap = pc->nquery_edits + 1;
    for (size_t k = 0; k < q.n; k++) {
        cap += q.p[k] == '&';
    }
    args = gw_arena_alloc(b->a, sizeof *args * cap);
    if (args == NULL) {
        return;
    }
    while (q.p && i < q.n) {
        size_t st = i;
        while (i < q.n && q.p[i] != '&') {
            i++;
        }
        struct gw_str arg = {q.p + st, i - st};
        const char *eq = memchr(arg.p, '=', arg.n);
        struct gw_str key = {arg.p, eq ? (size_t)(eq - arg.p) : arg.n};
        int drop = 0;
        for (unsigned k = 0; k < pc->nremoved_args && !drop; k++) {
            drop = gw_str_eq(key, pc->removed_args[k]);
        }
        if (!drop && arg.n) {
            args[n++] = (struct qarg){key, {arg.p + key.n, arg.n - key.n}, 0};
        }
        i++;
    }
    for (unsigned k = 0; k < pc->nquery_edits; k++) {
        const struct gw_query_edit *e = &pc->query_edits[k];
        int set = 0;
        if (e->op == GW_QE_RENAME && gw_str_eq(e->name, e->value)) {
            continue;
        }
        for (unsigned j = 0; j < n; j++) {
            if (args[j].dropped) {
                continue;
            }
            if (e->op == GW_QE_RENAME && gw_str_eq(args[j].key, e->value)) {
                args[j].dropped = 1; /* the renamed argument replaces it */
            } else if (gw_str_eq(args[j].key, e->name)) {
                if (e->op == GW_QE_REMOVE) {
                    args[j].dropped = 1;
                } else if (e->op == GW_QE_RENAME) {
                    args[j].key = e->value;
                } else if (e->op == GW_QE_SET) {
                    if (set++) {
                        args[j].dropped = 1; /* one value replaces them all */
                    } else {
                        args[j].rest = e->value;
                    }
                }
            }
        }
        if (n < cap && (e->op == GW_QE_APPEND || (e->op == GW_QE_SET && !set))) {
            args[n++] = (struct qarg){e->name, e->value, 0};
        }
    }
    for (unsigned j = 0; j < n; j++) {
        if (args[j].dropped) {
            continue;
        }
        if (!first) {
            SB_LIT(b, "&");
        }
        sb_str(b, args[j].key);
        sb_str(b, args[j].rest);
        first = 0;
    }
}

/* The client address after real-IP processing (nginx's $remote_addr). */
static const char *
client_ip(const struct client *c)
{
    return c->r.client_ip[0] ? c->r.client_ip : c->peer;
}

/* An incoming header's value when the peer is trusted (trusted_ips), else .p == NULL. */
static struct gw_str
from_trusted(const struct req *r, const char *name)
{
    const struct gw_http_header *hd = r->peer_trusted ? header(&r->h, name) : NULL;
    return hd ? hd->value : GW_STR_NULL;
}

/* X-Real-IP and X-Forwarded-* (Kong §4.7): X-Real-IP is the client address; X-Forwarded-For
 * appends the connecting peer to the incoming lines (or is the client address alone); the
 * others keep an incoming value only from a trusted peer, else say what this hop saw. */
static void
put_forwarded(struct sbuf *b, const struct client *c, const struct gw_route_match *m,
              struct gw_str norm)
{
    const struct req *r = &c->r;
    struct gw_str in;
    int n = 0;

    sb_printf(b, "X-Real-IP: %s\r\n", client_ip(c));
    for (unsigned i = 0; i < r->h.nheaders; i++) {
        if (gw_str_caseeqz(r->h.headers[i].name, "x-forwarded-for")) {
            if (n++) {
                SB_LIT(b, ", ");
            } else {
                SB_LIT(b, "X-Forwarded-For: ");
            }
            sb_str(b, r->h.headers[i].value);
        }
    }
    sb_printf(b, n ? ", %s\r\n" : "X-Forwarded-For: %s\r\n", n ? c->peer : client_ip(c));
    if ((in = from_trusted(r, "x-forwarded-proto")).p) {
        sb_header(b, "X-Forwarded-Proto", in);
    } else {
        sb_printf(b, "X-Forwarded-Proto: %s\r\n", c->l->ssl ? "https" : "http");
    }
    if ((in = from_trusted(r, "x-forwarded-host")).p) {
        sb_header(b, "X-Forwarded-Host", in);
    } else if (r->h.host.p) {
        struct gw_str ho = host_only(r->h.host);
        SB_LIT(b, "X-Forwarded-Host: ");
        for (size_t i = 0; i < ho.n; i++) {
            char ch = ho.p[i] >= 'A' && ho.p[i] <= 'Z' ? (char)(ho.p[i] + 32) : ho.p[i];
            sb_put(b, &ch, 1);
        }
        SB_LIT(b, "\r\n");
    }
    if ((in = from_trusted(r, "x-forwarded-port")).p) {
        sb_header(b, "X-Forwarded-Port", in);
    } else {
        sb_printf(b, "X-Forwarded-Port: %d\r\n", c->l->port);
    }
    in = from_trusted(r, "x-forwarded-path");
    sb_header(b, "X-Forwarded-Path", in.p ? in : r->h.path);
    if ((in = from_trusted(r, "x-forwarded-prefix")).p) {
        sb_header(b, "X-Forwarded-Prefix", in);
    } else if (r->ri->strip_path && m->prefix_len > 0 &&
               !(m->prefix_len == 1 && norm.p[0] == '/')) {
        sb_header(b, "X-Forwarded-Prefix", (struct gw_str){norm.p, m->prefix_len});
    }
}

/* The request head for the upstream (Kong §4.6, §4.7). */
static int
build_upstream_head(struct client *c, const struct gw_route_match *m, struct gw_str norm)
{
    struct req *r = &c->r;
    struct gw_service *svc = r->svc;
    struct sbuf b = {.a = r->arena};
    char *up = gw_arena_alloc(r->arena, norm.n + svc->path.n + 2);
    ssize_t upn;

    if (up == NULL) {
        return -1;
    }
    upn = gw_router_upstream_path(m, norm, svc->path, up, norm.n + svc->path.n + 2);
    if (upn < 0) {
        return -1;
    }
    sb_reserve(&b, 512 + r->head_len);
    sb_str(&b, r->pc.method.p ? r->pc.method : r->h.method);
    SB_LIT(&b, " ");
    put_escaped_path(&b, up, (size_t)upn);
    if (r->h.query.p || r->pc.nquery_edits) {
        SB_LIT(&b, "?");
        put_query(&b, r->h.query, &r->pc);
    }
    /* an HTTP/1.0 client cannot read chunked responses: ask the upstream in 1.0 too (as
     * nginx's proxy_http_version 1.0 would), so it delimits by length or close */
    if (r->h.minor == 0) {
        SB_LIT(&b, " HTTP/1.0\r\n");
    } else {
        SB_LIT(&b, " HTTP/1.1\r\n");
    }

    /* Host: preserve_host, else the upstream's host_header, else the service host with a
     * non-default port */
    if (r->ri->preserve_host && r->h.host.p) {
        sb_header(&b, "Host", r->h.host);
    } else if (svc->host_header.n) {
        sb_header(&b, "Host", svc->host_header);
    } else {
        const char *name = r->target->name;
        const char *colon = strrchr(name, ':');
        struct gw_str hh = svc->via_upstream ? (struct gw_str){name, (size_t)(colon - name)}
                                             : svc->host;
        int port = svc->via_upstream ? atoi(colon + 1) : svc->port;
        SB_LIT(&b, "Host: ");
        sb_str(&b, hh);
        if (port != (svc->https ? 443 : 80)) {
            sb_printf(&b, ":%d", port);
        }
        SB_LIT(&b, "\r\n");
    }
    for (unsigned i = 0; i < r->h.nheaders; i++) {
        const struct gw_http_header *hd = &r->h.headers[i];
        if (skip_request_header(&r->h, hd->name) ||
            edited(r->pc.req_edits, r->pc.nreq_edits, hd->name) ||
            (r->bk == F_BUFFERED && (gw_str_caseeqz(hd->name, "content-length") ||
                                     gw_str_caseeqz(hd->name, "transfer-encoding")))) {
            continue;
        }
        sb_str(&b, hd->name);
        SB_LIT(&b, ": ");
        sb_str(&b, hd->value);
        SB_LIT(&b, "\r\n");
    }
    put_req_edits(&b, &r->pc);
    if (r->bk == F_BUFFERED) {
        sb_printf(&b, "Content-Length: %zu\r\n", r->ob.n);
    }
    if (is_websocket(&r->h)) {
        SB_LIT(&b, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    }
    put_forwarded(&b, c, m, norm);
    const struct gw_http_header *via = header(&r->h, "via");
    if (via) {
        SB_LIT(&b, "Via: ");
        sb_str(&b, via->value);
        SB_LIT(&b, ", " VIA_TOKEN "\r\n");
    } else {
        SB_LIT(&b, "Via: " VIA_TOKEN "\r\n");
    }
    sb_printf(&b, "X-Kong-Request-Id: %s\r\n\r\n", r->id);
    if (b.p == NULL) {
        return -1;
    }
    r->uh = b.p;
    r->uh_len = b.len;
    r->uh_off = 0;
    return 0;
}

static void req_access(struct client *c);

/* Routes the parsed head and prepares the upstream request, or a local response. */
static void
req_route(struct client *c)
{
    struct req *r = &c->r;
    struct gw_snapshot *s = r->snap;
    struct gw_route_in in = {0};
    struct gw_route_match m;
    char *norm;
    ssize_t nn;

    atomic_fetch_add(&c->w->stats.requests, 1);
    r->peer_trusted = gw_realip_client(c->peer, &r->h, r->client_ip, sizeof r->client_ip);
    if (r->h.chunked) {
        r->bk = F_CHUNKED;
    } else if (r->h.content_length > 0) {
        r->bk = F_LENGTH;
        r->body_left = r->h.content_length;
    }
    if (r->h.conn_close || (r->h.minor == 0 && !r->h.conn_keep_alive)) {
        c->close_after = 1;
    }
    if (gw_opts.client_max_body_size > 0 && r->h.content_length > gw_opts.client_max_body_size) {
        c->close_after = 1;
        respond_error(c, 413, NULL, FMT_PLAIN);
        return;
    }
    norm = gw_arena_alloc(r->arena, r->h.path.n + 1);
    nn = norm ? gw_router_normalize_path(r->h.path.p, r->h.path.n, norm) : -1;
    if (nn < 0) {
        c->close_after = 1;
        respond_error(c, 400, NULL, FMT_PLAIN);
        return;
    }
    in.method = r->h.method;
    in.host = r->h.host.p ? host_only(r->h.host) : GW_STR_NULL;
    in.path = (struct gw_str){norm, (size_t)nn};
    in.port = c->l->port;
    in.https = c->l->ssl;
    if (c->ssl) {
        const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
        in.sni = sni ? (struct gw_str){sni, strlen(sni)} : GW_STR_NULL;
    }
    in.headers = r->h.headers;
    in.nheaders = r->h.nheaders;
    /* plugins: Kong's rewrite phase (global instances) runs before routing */
    struct gw_pctx *pc = &r->pc;
    pc->arena = r->arena;
    pc->snap = s;
    pc->h = &r->h;
    pc->peer_ip = client_ip(c);
    pc->https = c->l->ssl;
    pc->ssl = c->ssl;
    pc->client_fd = c->fd;
    pc->conn_serial = c->serial;
    pc->conn_requests = c->nreq + 1;
    pc->now = ev_now(c->w->loop);
    if (gw_plugins_rewrite(pc)) {
        c->close_after |= r->bk != F_NONE;
        if (pc->exit_error) {
            respond_error(c, pc->exit_status, pc->exit_msg, FMT_JSON);
        } else {
            respond_exit(c);
        }
        return;
    }
    /* a local answer leaves any request body unread on the socket: close after it */
    if (!gw_router_match(s->router, &in, &m)) {
        c->close_after |= r->bk != F_NONE;
        respond_error(c, 404, "no Route matched with those values", FMT_JSON);
        return;
    }
    r->ri = &s->routes[m.route_idx];
    /* https-only routes: a trusted proxy that terminated TLS says so (Kong §4.5) */
    if (r->ri->https_only && !c->l->ssl &&
        !gw_str_caseeqz(from_trusted(r, "x-forwarded-proto"), "https")) {
        c->close_after |= r->bk != F_NONE;
        if (r->ri->redirect_status == 426) {
            respond_error_x(c, 426, "Please use HTTPS protocol", FMT_JSON,
                            "Connection: Upgrade\r\nUpgrade: TLS/1.2, HTTP/1.1\r\n");
            c->close_after = 1;
            return;
        }
        struct sbuf b = {.a = r->arena};
        r->status = r->ri->redirect_status;
        sb_printf(&b, "HTTP/1.1 %d %s\r\nLocation: https://", r->status, reason(r->status));
        sb_str(&b, in.host);
        sb_str(&b, r->h.target);
        SB_LIT(&b, "\r\nContent-Length: 0\r\nServer: " GW_PRODUCT "\r\n");
        sb_printf(&b, "X-Kong-Request-Id: %s\r\n\r\n", r->id);
        r->ch = b.p;
        r->ch_len = b.p ? b.len : 0;
        c->state = S_LOCAL;
        return;
    }
    r->svc = r->ri->service;
    /* plugins (Kong runs access before it answers a route without a service) */
    pc->route_id = r->ri->id;
    pc->service_id = r->svc ? r->svc->id : NULL;
    r->m = m;
    r->norm = in.path;
    req_access(c);
}

/* A local answer leaves a body that was not read on the socket: the connection closes. */
static int
body_unread(const struct req *r)
{
    return r->bk != F_NONE && !r->body_consumed;
}

static void read_body_begin(struct client *c);

/* The access phase (entered again once S_READ_BODY has the body a plugin asked for), then
 * the service, the balancer and the upstream head. */
static void
req_access(struct client *c)
{
    struct req *r = &c->r;
    struct gw_snapshot *s = r->snap;
    struct gw_pctx *pc = &r->pc;
    int rc = gw_plugins_access(pc);

    if (rc == GW_ACCESS_BODY) {
        read_body_begin(c);
        return;
    }
    if (rc) {
        c->close_after |= body_unread(r);
        if (pc->exit_error) {
            respond_error(c, pc->exit_status, pc->exit_msg, FMT_JSON);
        } else {
            respond_exit(c);
        }
        return;
    }
    if (r->svc == NULL) {
        c->close_after |= body_unread(r);
        respond_error(c, 503, "no Service found with those values", FMT_JSON);
        return;
    }
    if (r->svc->nwheel == 0) {
        c->close_after |= body_unread(r);
        respond_error(c, 503, r->svc->resolve_error[0] ? r->svc->resolve_error : NULL, FMT_JSON);
        return;
    }
    /* balancer hook: the first try's target (hash keys read the request); 503 when no
     * target is healthy */
    struct gw_lb_request lbr = {{client_ip(c), strlen(client_ip(c))}, &r->h, r->norm, &r->m,
                                ev_now(c->w->loop)};
    r->target =
        gw_balancer_pick(&r->pick, r->svc, &c->w->rr[r->svc - s->services], &lbr, r->arena);
    if (r->target == NULL) {
        c->close_after |= body_unread(r);
        respond_error(c, 503, "failure to get a peer from the ring-balancer", FMT_JSON);
        return;
    }
    if (pc->body_read && (r->bk != F_NONE || pc->body_replaced)) {
        /* the body was read for a plugin (or made by one): it goes from memory, framed by
         * its length whatever the client's framing was */
        r->ob = gw_pctx_body(pc);
        r->bk = F_BUFFERED;
    }
    if (build_upstream_head(c, &r->m, r->norm) < 0) {
        c->close_after = 1;
        respond_error(c, 500, NULL, FMT_PLAIN);
        return;
    }
    if (r->h.expect_continue && body_unread(r) && !r->continue_sent) {
        /* answered here; the Expect header is not forwarded */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (c_send(c, cont, sizeof cont - 1) != (ssize_t)(sizeof cont - 1)) {
            c->close_after = 1;
        }
    }
    r->t_upstream = ev_now(c->w->loop);
    c->state = S_CONNECT;
}

/* ------------------------------------------------------------------ socket I/O */

/* recv/send on a socket, through TLS when ssl is set (TLS listeners, https upstreams).
 * EAGAIN as usual; with TLS the event actually needed is left in *want (a read may need to
 * write). Returns 0 at the peer's close, -1 with errno otherwise. */
static ssize_t
tls_result(SSL *ssl, int *want, int n)
{
    int e = SSL_get_error(ssl, n);

    *want = 0;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
        errno = EAGAIN;
        return -1;
    }
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    }
    errno = ECONNRESET;
    return -1;
}

static ssize_t
io_recv(int fd, SSL *ssl, int *want, char *buf, size_t n)
{
    if (ssl == NULL) {
        ssize_t r;
        do {
            r = recv(fd, buf, n, 0);
        } while (r < 0 && errno == EINTR);
        return r;
    }
    int r = SSL_read(ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    return r > 0 ? r : tls_result(ssl, want, r);
}

static ssize_t
io_send(int fd, SSL *ssl, int *want, const char *buf, size_t n)
{
    if (ssl == NULL) {
        ssize_t r;
        do {
            r = send(fd, buf, n, MSG_NOSIGNAL);
        } while (r < 0 && errno == EINTR);
        return r;
    }
    int r = SSL_write(ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    return r > 0 ? r : tls_result(ssl, want, r);
}

static ssize_t
c_recv(struct client *c, char *buf, size_t n)
{
    return io_recv(c->fd, c->ssl, &c->tls_want, buf, n);
}

static ssize_t
c_send(struct client *c, const char *buf, size_t n)
{
    return io_send(c->fd, c->ssl, &c->tls_want, buf, n);
}

static ssize_t
c_writev(struct client *c, const struct iovec *iov, int cnt)
{
    if (c->ssl == NULL) {
        return writev(c->fd, iov, cnt);
    }
    /* one record per buffer; the caller loops on partial writes */
    return c_send(c, iov[0].iov_base, iov[0].iov_len);
}

static ssize_t
u_recv(struct gw_upconn *u, char *buf, size_t n)
{
    return io_recv(u->fd, u->ssl, &u->tls_want, buf, n);
}

static ssize_t
u_send(struct gw_upconn *u, const char *buf, size_t n)
{
    return io_send(u->fd, u->ssl, &u->tls_want, buf, n);
}

/* ------------------------------------------------------------------ watchers */

/* Waits for cev on the client socket and uev on the upstream one, for at most timeout
 * seconds. Watchers are started or changed only when a wanted event is not already armed,
 * and never stopped here: a watcher that fires while its events are not wanted is stopped
 * by its callback. In the steady keep-alive cycle this makes no epoll_ctl call at all. */
static void
arm(struct client *c, int cev, int uev, double timeout)
{
    struct ev_loop *loop = c->w->loop;

    if (c->ssl && cev && c->tls_want) {
        cev = c->tls_want; /* TLS needs the other direction for the pending operation */
    }
    if (c->r.up && c->r.up->ssl && uev && c->r.up->tls_want) {
        uev = c->r.up->tls_want;
    }
    c->want_c = cev;
    c->want_u = uev;
    if (cev && (!ev_is_active(&c->io) || (c->io.events & (EV_READ | EV_WRITE)) != cev)) {
        ev_io_stop(loop, &c->io);
        ev_io_set(&c->io, c->fd, cev);
        ev_io_start(loop, &c->io);
    }
    if (uev && c->r.up) {
        ev_io *u = &c->r.up->io;
        if (!ev_is_active(u) || (u->events & (EV_READ | EV_WRITE)) != uev) {
            ev_io_stop(loop, u);
            ev_io_set(u, c->r.up->fd, uev);
            ev_io_start(loop, u);
        }
    }
    ev_timer_stop(loop, &c->timer);
    if (timeout > 0) {
        ev_timer_set(&c->timer, timeout, 0);
        ev_timer_start(loop, &c->timer);
    }
}

static void on_up_io(struct ev_loop *loop, ev_io *io, int revents);

/* The request now uses up: its watcher calls us. */
static void
up_attach(struct client *c, struct gw_upconn *up)
{
    ev_set_cb(&up->io, on_up_io);
    up->io.data = c;
    c->r.up = up;
}

static void
up_release(struct client *c, int reusable)
{
    struct req *r = &c->r;

    if (r->up == NULL) {
        return;
    }
    c->want_u = 0;
    if (reusable) {
        r->up->requests++;
        gw_pool_put(c->w->pool, r->up);
    } else {
        gw_upconn_close(r->up);
    }
    r->up = NULL;
}

/* A try failed before the response head arrived: retry on another target when Kong would
 * (connection errors and timeouts, retries left, the body not consumed), else answer. */
static void
try_failed(struct client *c, int status)
{
    struct req *r = &c->r;

    up_release(c, 0);
    /* balancer hooks: the failure feeds passive health checks; a retry needs a healthy target */
    gw_balancer_report(&r->pick, status == 504 ? GW_HEALTH_TIMEOUT : GW_HEALTH_TCP_ERROR,
                       ev_now(c->w->loop));
    const struct gw_target *next = NULL;
    if (r->tries < r->svc->retries && !r->body_started &&
        (next = gw_balancer_retry(&r->pick, ev_now(c->w->loop))) != NULL) {
        r->tries++;
        r->target = next;
        r->uh_off = 0;
        r->ob_off = 0;
        c->state = S_CONNECT;
        return;
    }
    c->close_after |= body_unread(r) && !r->body_done;
    respond_error(c, status, NULL, FMT_PLAIN);
}

/* ------------------------------------------------------------------ response head */

static int
skip_response_header(struct gw_str name, int upgrade)
{
    static const char *const skip[] = {"connection", "keep-alive", "proxy-connection",
                                       "te", "trailer", "via", NULL};

    for (const char *const *s = skip; *s; s++) {
        if (gw_str_caseeqz(name, *s)) {
            return 1;
        }
    }
    return !upgrade && gw_str_caseeqz(name, "upgrade");
}

static int
build_client_head(struct client *c)
{
    struct req *r = &c->r;
    struct gw_http_head *rh = &r->rh;
    struct sbuf b = {.a = r->arena};
    int upgrade = rh->status == 101;
    int server = 0;

    sb_reserve(&b, 512);
    sb_printf(&b, "HTTP/1.1 %d ", rh->status);
    sb_str(&b, rh->reason);
    SB_LIT(&b, "\r\n");
    if (r->resp_mode == 0) {
        r->pc.resp_h = rh;
        gw_plugins_header_filter(&r->pc);
        if (r->pc.resp_buffer && r->rk != F_NONE && !upgrade) {
            return 1; /* a body_filter wants the body: the head waits for it */
        }
    }
    for (unsigned i = 0; i < rh->nheaders; i++) {
        const struct gw_http_header *hd = &rh->headers[i];
        if (skip_response_header(hd->name, upgrade) ||
            edited(r->pc.resp_edits, r->pc.nresp_edits, hd->name) ||
            (r->resp_mode == 1 && (gw_str_caseeqz(hd->name, "content-length") ||
                                   gw_str_caseeqz(hd->name, "transfer-encoding")))) {
            continue;
        }
        server |= gw_str_caseeqz(hd->name, "server");
        sb_str(&b, hd->name);
        SB_LIT(&b, ": ");
        sb_str(&b, hd->value);
        SB_LIT(&b, "\r\n");
    }
    if (!server) {
        SB_LIT(&b, "Server: " GW_PRODUCT "\r\n");
    }
    const struct gw_http_header *via = header(rh, "via");
    if (via) {
        SB_LIT(&b, "Via: ");
        sb_str(&b, via->value);
        SB_LIT(&b, ", " VIA_TOKEN "\r\n");
    } else {
        SB_LIT(&b, "Via: " VIA_TOKEN "\r\n");
    }
    sb_printf(&b, "X-Kong-Upstream-Latency: %.0f\r\nX-Kong-Proxy-Latency: %.0f\r\n",
              (r->t_first_byte - r->t_upstream) * 1000.0, (r->t_upstream - r->t_start) * 1000.0);
    sb_printf(&b, "X-Kong-Request-Id: %s\r\n", r->id);
    const char *cookie = gw_balancer_set_cookie(&r->pick, r->arena); /* balancer hook */
    if (cookie) {
        sb_put(&b, cookie, strlen(cookie));
    }
    put_resp_edits(&b, &r->pc);
    if (r->resp_mode == 1) {
        sb_printf(&b, "Content-Length: %zu\r\n", r->xbody.n);
    }
    if (upgrade) {
        SB_LIT(&b, "Connection: upgrade\r\n");
    } else if (c->close_after) {
        SB_LIT(&b, "Connection: close\r\n");
    } else if (r->h.minor == 0) {
        SB_LIT(&b, "Connection: keep-alive\r\n");
    }
    SB_LIT(&b, "\r\n");
    if (b.p == NULL) {
        return -1;
    }
    r->ch = b.p;
    r->ch_len = b.len;
    r->ch_off = 0;
    return 0;
}

/* The response head is in: decide framing and prepare the client's head. */
static int
resp_head_done(struct client *c, size_t head_len)
{
    struct req *r = &c->r;
    struct gw_http_head *rh = &r->rh;

    r->r_off += head_len;
    r->status = rh->status;
    if (rh->status == 101) {
        r->rk = F_EOF; /* a tunnel from here on: bytes both ways until one side closes */
        c->close_after = 1;
    } else if (!gw_http1_response_has_body(r->pc.method.p ? r->pc.method : r->h.method,
                                           rh->status)) {
        r->rk = F_NONE;
    } else if (rh->chunked) {
        r->rk = F_CHUNKED;
    } else if (rh->content_length >= 0) {
        r->rk = rh->content_length ? F_LENGTH : F_NONE;
        r->resp_left = rh->content_length;
    } else {
        r->rk = F_EOF;
        c->close_after = 1; /* the client learns the end by the close */
    }
    r->up_close = rh->conn_close || (rh->minor == 0 && !rh->conn_keep_alive) || r->rk == F_EOF;
    r->resp_done = r->rk == F_NONE;
    return build_client_head(c);
}

/* ------------------------------------------------------------------ request end */

/* Appends s to b for a log line: JSON string escaping, or nginx's \xHH for the combined
 * format, so a client cannot forge line breaks or fields. */
static void
log_str(struct sbuf *b, struct gw_str s, int json)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            sb_put(b, (const char *)&ch, 1);
        } else if (json) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            sb_put(b, e, 6);
        } else {
            char e[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
            sb_put(b, e, 4);
        }
    }
}

static void
access_log(struct client *c)
{
    struct req *r = &c->r;
    FILE *f = gw_opts.access_log;
    struct sbuf b = {.a = r->arena};
    char date[64];
    struct tm tm;
    time_t now = (time_t)ev_now(c->w->loop);
    const struct gw_http_header *ua, *ref;
    static const struct gw_str dash = {"-", 1};

    if (f == NULL || r->head_len == 0) {
        return;
    }
    ua = header(&r->h, "user-agent");
    ref = header(&r->h, "referer");
    gmtime_r(&now, &tm);
    if (gw_opts.access_log_json) {
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
        sb_printf(&b, "{\"time\":\"%s\",\"client_ip\":\"%s\",\"method\":\"", date, client_ip(c));
        log_str(&b, r->h.method, 1);
        SB_LIT(&b, "\",\"uri\":\"");
        log_str(&b, r->h.target, 1);
        sb_printf(&b, "\",\"status\":%d,\"bytes_sent\":%llu,\"request_id\":\"%s\"", r->status,
                  (unsigned long long)r->bytes_out, r->id);
        if (r->ri) {
            sb_printf(&b, ",\"route_id\":\"%s\"", r->ri->id);
        }
        if (r->svc) {
            sb_printf(&b, ",\"service_id\":\"%s\"", r->svc->id);
        }
        sb_printf(&b, ",\"latency_ms\":%.0f", ms_since(c, r->t_start));
        if (r->t_first_byte > 0) {
            sb_printf(&b, ",\"upstream_latency_ms\":%.0f",
                      (r->t_first_byte - r->t_upstream) * 1000.0);
        }
        SB_LIT(&b, ",\"user_agent\":\"");
        log_str(&b, ua ? ua->value : GW_STR_NULL, 1);
        SB_LIT(&b, "\"}\n");
    } else {
        strftime(date, sizeof date, "%d/%b/%Y:%H:%M:%S +0000", &tm);
        sb_printf(&b, "%s - - [%s] \"", client_ip(c), date);
        log_str(&b, r->h.method, 0);
        SB_LIT(&b, " ");
        log_str(&b, r->h.target, 0);
        sb_printf(&b, " HTTP/1.%d\" %d %llu \"", r->h.minor, r->status,
                  (unsigned long long)r->bytes_out);
        log_str(&b, ref ? ref->value : dash, 0);
        SB_LIT(&b, "\" \"");
        log_str(&b, ua ? ua->value : dash, 0);
        SB_LIT(&b, "\"\n");
    }
    /* one write per line keeps lines whole across worker threads */
    if (b.p) {
        fwrite(b.p, 1, b.len, f);
    }
}

/* $request_length: the head and what was read of the body */
static uint64_t
request_bytes(const struct req *r)
{
    uint64_t n = r->head_len;

    if (r->pc.body_read) {
        n += r->pc.req_body.n;
    } else if (r->bk == F_LENGTH || (r->bk == F_BUFFERED && r->h.content_length > 0)) {
        n += (uint64_t)(r->h.content_length - (r->bk == F_LENGTH ? r->body_left : 0));
    } else if (r->bk == F_CHUNKED) {
        n += r->bch.payload_bytes;
    }
    return n;
}

/* The log phase: once per request that reached the plugins, when it ends or the client
 * goes away (aborted). Nothing is prepared when no plugin logs. */
static void
log_phase(struct client *c, int aborted)
{
    struct req *r = &c->r;
    struct gw_log_info li = {0};
    ev_tstamp now = ev_now(c->w->loop);
    char ip[INET6_ADDRSTRLEN];

    if (r->arena == NULL || r->pc.snap == NULL || !gw_plugins_want_log(r->pc.snap)) {
        return;
    }
    li.request_id = r->id;
    li.status = aborted && r->bytes_out == 0 ? 499 : r->status; /* nginx's 499 */
    li.client_aborted = aborted;
    li.proxied = r->t_first_byte > 0;
    li.upstream_status = li.proxied ? r->rh.status : 0;
    li.server_port = c->l->port;
    li.request_bytes = request_bytes(r);
    li.response_bytes = r->bytes_out;
    li.started_at = r->t_start;
    li.kong_ms = ((r->t_upstream > 0 ? r->t_upstream : now) - r->t_start) * 1000.0;
    li.proxy_ms = li.proxied ? (r->t_first_byte - r->t_upstream) * 1000.0 : -1;
    li.request_ms = (now - r->t_start) * 1000.0;
    li.receive_ms = li.proxied ? (now - r->t_first_byte) * 1000.0 : 0;
    if (r->uh && r->uh_len) {
        /* "METHOD target HTTP/1.1": the target as sent */
        const char *sp = memchr(r->uh, ' ', r->uh_len), *e;
        if (sp && (e = memchr(sp + 1, ' ', r->uh_len - (size_t)(sp + 1 - r->uh))) != NULL) {
            li.upstream_uri = (struct gw_str){sp + 1, (size_t)(e - sp - 1)};
        }
    }
    if (r->target && r->t_upstream > 0) {
        const struct sockaddr_storage *a = &r->target->addr;
        const void *src = a->ss_family == AF_INET
                              ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
                              : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;
        if (inet_ntop(a->ss_family, src, ip, sizeof ip)) {
            li.upstream_ip = ip;
            li.upstream_port = ntohs(a->ss_family == AF_INET
                                         ? ((const struct sockaddr_in *)a)->sin_port
                                         : ((const struct sockaddr_in6 *)a)->sin6_port);
        }
    }
    if (r->ch && r->ch_len) {
        const char *e = memmem(r->ch, r->ch_len, "\r\n\r\n", 4);
        li.response_head = (struct gw_str){r->ch, e ? (size_t)(e + 4 - r->ch) : 0};
    }
    gw_plugins_log(&r->pc, &li);
}

static void
req_end(struct client *c)
{
    struct req *r = &c->r;

    up_release(c, r->resp_done && !r->up_close && r->body_done);
    log_phase(c, 0);
    access_log(c);
    gw_arena_reset(r->arena); /* also drops the snapshot reference */
    r->arena = NULL;
    c->nreq++;
    if (c->close_after && c->ssl == NULL && c->state != S_TUNNEL) {
        /* Closing with unread input makes the kernel send RST, which can destroy the
         * response before the client reads it (a 413 or 400 while it still sends): half
         * close, then read and drop for a moment, as nginx's lingering close. */
        shutdown(c->fd, SHUT_WR);
        c->state = S_LINGER;
        arm(c, EV_READ, 0, 2.0);
        return;
    }
    if (c->close_after || atomic_load(&c->w->stopping)) {
        client_close(c);
        return;
    }
    /* pipelined bytes move to the front */
    size_t left = c->in_len - r->pos;
    memmove(c->in, c->in + r->pos, left);
    c->in_len = left;
    c->in_off = 0;
    r->head_len = 0;
    r->pos = 0;
    c->state = S_HEAD;
    if (left == 0) {
        /* the next request is rarely there already: wait for it without a recv */
        arm(c, EV_READ, 0, gw_opts.keepalive_timeout);
        return;
    }
    step(c);
}

/* ------------------------------------------------------------------ I/O states */

/* The head's strings move by d bytes with the buffer they point into. */
static void
head_rebase(struct gw_http_head *h, ptrdiff_t d)
{
    struct gw_str *fields[] = {&h->method, &h->target, &h->path, &h->query,
                               &h->reason, &h->host, &h->upgrade};

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i]->p) {
            fields[i]->p += d;
        }
    }
    for (unsigned i = 0; i < h->nheaders; i++) {
        h->headers[i].name.p += d;
        h->headers[i].value.p += d;
    }
}

static ssize_t
client_read(struct client *c, size_t at)
{
    ssize_t n;

    if (at >= c->in_cap) {
        size_t cap = c->in_cap * 2 > IN_MAX ? IN_MAX : c->in_cap * 2;
        if (cap <= at) {
            return -2; /* full */
        }
        char *p = realloc(c->in, cap);
        if (p == NULL) {
            return -1;
        }
        /* the head's strings point into the old buffer: rebase them */
        if (p != c->in && c->r.head_len) {
            head_rebase(&c->r.h, p - c->in);
        }
        c->in = p;
        c->in_cap = cap;
    }
    n = c_recv(c, c->in + at, c->in_cap - at);
    return n;
}

/* S_HEAD: returns 1 to keep stepping, 0 when waiting. */
static int
do_head(struct client *c)
{
    struct req *r = &c->r;

    for (;;) {
        if (c->in_len > c->in_off) {
            int rc = gw_http1_parse_request(c->in + c->in_off, c->in_len - c->in_off,
                                            &gw_http_default_limits, &r->h);
            if (rc > 0) {
                if (r->arena == NULL) {
                    req_begin(c);
                }
                if (r->arena == NULL) {
                    client_close(c);
                    return 0;
                }
                r->head_len = (size_t)rc;
                r->pos = c->in_off + (size_t)rc;
                req_route(c);
                return 1;
            }
            if (rc < 0) {
                if (r->arena == NULL) {
                    req_begin(c);
                }
                if (r->arena == NULL) {
                    client_close(c);
                    return 0;
                }
                c->close_after = 1;
                respond_error(c, -rc, NULL, FMT_PLAIN);
                return 1;
            }
        }
        ssize_t n = client_read(c, c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == 0 || (n == -1 && errno != EAGAIN)) {
            client_close(c); /* the client went away between requests */
            return 0;
        }
        if (n == -2) {
            /* cannot happen with the parser's limits below the buffer size */
            c->close_after = 1;
            if (r->arena == NULL) {
                req_begin(c);
            }
            respond_error(c, 431, NULL, FMT_PLAIN);
            return 1;
        }
        double t = c->in_len > c->in_off || c->nreq == 0 ? gw_opts.client_header_timeout
                                                          : gw_opts.keepalive_timeout;
        arm(c, EV_READ, 0, t);
        return 0;
    }
}

static int
do_connect(struct client *c)
{
    struct req *r = &c->r;

    if (r->up == NULL) {
        uint64_t key = r->target->key ^ r->svc->tls_key;
        struct gw_upconn *up = gw_pool_get_key(c->w->pool, key);
        r->up_reused = up != NULL;
        if (up) {
            up_attach(c, up);
            c->state = S_SEND_HEAD;
            return 1;
        }
        up = gw_upconn_connect(c->w, r->target);
        if (up == NULL) {
            try_failed(c, 502);
            return 1;
        }
        up->key = key;
        up_attach(c, up);
        arm(c, 0, EV_WRITE, r->svc->connect_timeout_ms / 1000.0);
        return 0;
    }
    /* writable: the connect finished, one way or the other */
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(r->up->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        try_failed(c, 502);
        return 1;
    }
    c->state = r->svc->tls ? S_UP_TLS : S_SEND_HEAD;
    return 1;
}

/* TLS to an https upstream: SNI is the service host (or the upstream's host_header), and
 * with tls_verify the certificate must also name it. */
static int
do_up_tls(struct client *c)
{
    struct req *r = &c->r;
    struct gw_upconn *u = r->up;

    if (u->ssl == NULL) {
        u->ssl = SSL_new(r->svc->tls);
        if (u->ssl == NULL) {
            try_failed(c, 502);
            return 1;
        }
        SSL_set_fd(u->ssl, u->fd);
        SSL_set_connect_state(u->ssl);
        if (r->svc->sni[0]) {
            struct in6_addr a;
            if (inet_pton(AF_INET, r->svc->sni, &a) == 1 ||
                inet_pton(AF_INET6, r->svc->sni, &a) == 1) {
                /* an address: no SNI (RFC 6066 3), verified against IP SANs */
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(u->ssl), r->svc->sni);
            } else {
                SSL_set_tlsext_host_name(u->ssl, r->svc->sni);
                SSL_set1_host(u->ssl, r->svc->sni);
            }
        }
    }
    int n = SSL_do_handshake(u->ssl);
    if (n == 1) {
        u->tls_want = 0;
        c->state = S_SEND_HEAD;
        return 1;
    }
    if (tls_result(u->ssl, &u->tls_want, n) < 0 && errno == EAGAIN) {
        arm(c, 0, u->tls_want, r->svc->connect_timeout_ms / 1000.0);
        return 0;
    }
    try_failed(c, 502); /* handshake or verification failed */
    return 1;
}

static int
do_send_head(struct client *c)
{
    struct req *r = &c->r;

    while (r->uh_off < r->uh_len) {
        ssize_t n = u_send(r->up, r->uh + r->uh_off, r->uh_len - r->uh_off);
        if (n > 0) {
            r->uh_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, 0, EV_WRITE, r->svc->write_timeout_ms / 1000.0);
            return 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        try_failed(c, 502);
        return 1;
    }
    r->body_done = r->bk == F_NONE;
    c->state = r->body_done ? S_RESP_HEAD : S_SEND_BODY;
    r->resp_wait = 1;
    return 1;
}

/* F_BUFFERED: the body read for plugins, from memory. Not body_started: a retry sends it
 * again from the start. */
static int
send_buffered(struct client *c)
{
    struct req *r = &c->r;

    while (r->ob_off < r->ob.n) {
        ssize_t n = u_send(r->up, r->ob.p + r->ob_off, r->ob.n - r->ob_off);
        if (n > 0) {
            r->ob_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, 0, EV_WRITE, r->svc->write_timeout_ms / 1000.0);
            return 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        try_failed(c, 502);
        return 1;
    }
    r->body_done = 1;
    c->state = S_RESP_HEAD;
    return 1;
}

static int
do_send_body(struct client *c)
{
    struct req *r = &c->r;

    if (r->bk == F_BUFFERED) {
        return send_buffered(c);
    }
    for (;;) {
        if (r->body_pending == 0 && !r->body_done) {
            size_t avail = c->in_len - r->pos;
            if (avail) {
                if (r->bk == F_LENGTH) {
                    r->body_pending = (size_t)(r->body_left < (int64_t)avail ? r->body_left
                                                                             : (int64_t)avail);
                    r->body_left -= (int64_t)r->body_pending;
                    r->body_done = r->body_left == 0;
                } else {
                    int done = 0;
                    ssize_t k = gw_chunked_scan(&r->bch, c->in + r->pos, avail, &done);
                    if (k < 0) {
                        c->close_after = 1;
                        up_release(c, 0);
                        respond_error(c, 400, NULL, FMT_PLAIN);
                        return 1;
                    }
                    r->body_pending = (size_t)k;
                    r->body_done = done;
                    if (r->pc.body_limit_status && r->bch.payload_bytes > r->pc.body_limit) {
                        /* request-size-limiting on a chunked body: counted as it streams */
                        c->close_after = 1;
                        up_release(c, 0);
                        respond_error(c, r->pc.body_limit_status, "Request size limit exceeded",
                                      FMT_JSON);
                        return 1;
                    }
                    if (gw_opts.client_max_body_size > 0 &&
                        r->bch.payload_bytes > (uint64_t)gw_opts.client_max_body_size) {
                        /* counted as it streams; the upstream saw a partial body: close it */
                        c->close_after = 1;
                        up_release(c, 0);
                        respond_error(c, 413, NULL, FMT_PLAIN);
                        return 1;
                    }
                }
            } else {
                /* read more of the body behind the head (the head must stay put) */
                size_t base = c->in_off + r->head_len;
                if (r->pos == c->in_len) {
                    c->in_len = r->pos = base;
                }
                ssize_t n = client_read(c, c->in_len);
                if (n > 0) {
                    c->in_len += (size_t)n;
                    continue;
                }
                if (n < 0 && errno == EAGAIN) {
                    arm(c, EV_READ, 0, gw_opts.client_body_timeout);
                    return 0;
                }
                client_close(c); /* client gone mid-body */
                return 0;
            }
        }
        while (r->body_pending) {
            ssize_t n = u_send(r->up, c->in + r->pos, r->body_pending);
            if (n > 0) {
                r->pos += (size_t)n;
                r->body_pending -= (size_t)n;
                r->body_started = 1;
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                arm(c, 0, EV_WRITE, r->svc->write_timeout_ms / 1000.0);
                return 0;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            try_failed(c, 502);
            return 1;
        }
        if (r->body_done) {
            c->state = S_RESP_HEAD;
            return 1;
        }
    }
}

/* ------------------------------------------------------------------ buffered bodies */

/* Bodies are buffered only when a plugin asks: a request body before the access handler of
 * the first plugin whose needs_body says so (key_in_body, validate_request_body, body
 * transformations), a response body when a header_filter asked for it (JSON transformations).
 * Both are bounded by max_buffered_body_size: a request body above it is refused with 413
 * (Kong would spill it to a temporary file; we do not touch the disk on a worker), a
 * response body above it is passed through unchanged. Every other body streams as before,
 * never copied. */

static void
free_ptr(void *p)
{
    char **pp = p;

    free(*pp);
    *pp = NULL;
}

/* Grows a malloc'd buffer of the request (freed when its arena is reset) to need bytes. */
static int
buf_grow(struct req *r, char **buf, size_t *cap, size_t need)
{
    size_t ncap = *cap ? *cap : 16384;
    char *p;

    if (need <= *cap) {
        return 0;
    }
    while (ncap < need) {
        ncap *= 2;
    }
    if (*buf == NULL && gw_arena_on_destroy(r->arena, free_ptr, buf) < 0) {
        return -1;
    }
    p = realloc(*buf, ncap);
    if (p == NULL) {
        return -1;
    }
    *buf = p;
    *cap = ncap;
    return 0;
}

/* A plugin wants the request body before its access handler runs. */
static void
read_body_begin(struct client *c)
{
    struct req *r = &c->r;

    if (r->bk == F_NONE) {
        r->pc.body_read = 1; /* no body: an empty one */
        req_access(c);
        return;
    }
    if (r->h.content_length > gw_opts.max_buffered_body_size) {
        c->close_after = 1;
        respond_error(c, 413, NULL, FMT_PLAIN);
        return;
    }
    if (r->bk == F_LENGTH &&
        buf_grow(r, &r->bbuf, &r->bb_cap, (size_t)r->h.content_length) < 0) {
        c->close_after = 1;
        respond_error(c, 503, NULL, FMT_PLAIN);
        return;
    }
    if (r->h.expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (c_send(c, cont, sizeof cont - 1) != (ssize_t)(sizeof cont - 1)) {
            c->close_after = 1;
        }
        r->continue_sent = 1;
    }
    c->state = S_READ_BODY;
}

/* The request-size-limiting and gateway limits on a chunked body being read; 1 when over
 * (answered). */
static int
read_body_over(struct client *c)
{
    struct req *r = &c->r;

    if (r->pc.body_limit_status && r->bch.payload_bytes > r->pc.body_limit) {
        c->close_after = 1;
        respond_error(c, r->pc.body_limit_status, "Request size limit exceeded", FMT_JSON);
        return 1;
    }
    if ((gw_opts.client_max_body_size > 0 &&
         r->bch.payload_bytes > (uint64_t)gw_opts.client_max_body_size) ||
        r->bch.payload_bytes > (uint64_t)gw_opts.max_buffered_body_size) {
        c->close_after = 1;
        respond_error(c, 413, NULL, FMT_PLAIN);
        return 1;
    }
    return 0;
}

/* S_READ_BODY: the whole request body into bbuf (chunked framing removed), then the access
 * phase goes on. The client body timeout applies between reads, as when streaming. */
static int
do_read_body(struct client *c)
{
    struct req *r = &c->r;

    for (;;) {
        size_t avail = c->in_len - r->pos;
        int done = 0;
        if (avail) {
            if (r->bk == F_LENGTH) {
                size_t take = r->body_left < (int64_t)avail ? (size_t)r->body_left : avail;
                memcpy(r->bbuf + r->bb_len, c->in + r->pos, take);
                r->bb_len += take;
                r->pos += take;
                r->body_left -= (int64_t)take;
                done = r->body_left == 0;
            } else {
                if (buf_grow(r, &r->bbuf, &r->bb_cap, r->bb_len + avail) < 0) {
                    c->close_after = 1;
                    respond_error(c, 503, NULL, FMT_PLAIN);
                    return 1;
                }
                ssize_t k =
                    gw_chunked_decode(&r->bch, c->in + r->pos, avail, &done, r->bbuf, &r->bb_len);
                if (k < 0) {
                    c->close_after = 1;
                    respond_error(c, 400, NULL, FMT_PLAIN);
                    return 1;
                }
                r->pos += (size_t)k;
                if (read_body_over(c)) {
                    return 1;
                }
            }
            if (done) {
                r->body_consumed = 1;
                r->pc.body_read = 1;
                r->pc.req_body = (struct gw_str){r->bbuf, r->bb_len};
                req_access(c);
                return 1;
            }
            continue;
        }
        /* read more of the body behind the head (the head must stay put) */
        if (r->pos == c->in_len) {
            c->in_len = r->pos = c->in_off + r->head_len;
        }
        ssize_t n = client_read(c, c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, EV_READ, 0, gw_opts.client_body_timeout);
            return 0;
        }
        client_close(c); /* client gone mid-body */
        return 0;
    }
}

/* The response body is whole in rb: decode it, run body_filter, and send the head framed by
 * the final length with the body. */
static int
resp_buffer_done(struct client *c)
{
    struct req *r = &c->r;
    struct gw_str body = {r->rb, r->rb_len};

    if (r->rk == F_CHUNKED && r->rb_len) {
        struct gw_chunked dec = {0};
        char *out = gw_arena_alloc(r->arena, r->rb_len);
        size_t outn = 0;
        int done = 0;
        if (out == NULL || gw_chunked_decode(&dec, r->rb, r->rb_len, &done, out, &outn) < 0) {
            return -1;
        }
        body = (struct gw_str){out, outn};
    }
    r->pc.resp_body = body;
    gw_plugins_body_filter(&r->pc);
    r->xbody = gw_pctx_resp_body(&r->pc);
    r->x_off = 0;
    r->resp_mode = 1;
    r->resp_done = 1;
    return build_client_head(c);
}

/* Past the bound: the head as the upstream framed it, the bytes held so far, then the rest
 * streams (resp_pending bytes of rbuf are already scanned). The body goes out unchanged. */
static int
resp_buffer_give_up(struct client *c)
{
    struct req *r = &c->r;

    r->resp_mode = 2;
    r->xbody = (struct gw_str){r->rb, r->rb_len};
    r->x_off = 0;
    return build_client_head(c);
}

/* S_RESP_BUFFER: the whole response body into rb, framing included (so that giving up
 * past the bound can forward it as it came). */
static int
do_resp_buffer(struct client *c)
{
    struct req *r = &c->r;
    size_t max = (size_t)gw_opts.max_buffered_body_size;

    for (;;) {
        if (r->r_len > r->r_off) {
            size_t avail = r->r_len - r->r_off, take;
            int done = 0;
            if (r->rk == F_CHUNKED) {
                ssize_t k = gw_chunked_scan(&r->rch, c->rbuf + r->r_off, avail, &done);
                if (k < 0) {
                    goto bad;
                }
                take = (size_t)k;
            } else if (r->rk == F_LENGTH) {
                take = r->resp_left < (int64_t)avail ? (size_t)r->resp_left : avail;
                r->resp_left -= (int64_t)take;
                done = r->resp_left == 0;
            } else {
                take = avail;
            }
            if (r->rb_len + take > max) {
                r->resp_pending = take;
                r->resp_done = done;
                if (resp_buffer_give_up(c) < 0) {
                    goto bad;
                }
                c->state = S_RESP_SEND;
                return 1;
            }
            if (buf_grow(r, &r->rb, &r->rb_cap, r->rb_len + take) < 0) {
                goto bad;
            }
            memcpy(r->rb + r->rb_len, c->rbuf + r->r_off, take);
            r->rb_len += take;
            r->r_off += take;
            if (done) {
                break;
            }
            continue;
        }
        r->r_off = r->r_len = 0;
        ssize_t n = u_recv(r->up, c->rbuf, RBUF_CAP);
        if (n > 0) {
            r->r_len = (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, 0, EV_READ, r->svc->read_timeout_ms / 1000.0);
            return 0;
        }
        if (n == 0 && r->rk == F_EOF) {
            r->up_close = 1;
            break;
        }
        goto bad; /* the upstream broke the framing: nothing was sent yet, so say so */
    }
    if (resp_buffer_done(c) < 0) {
        goto bad;
    }
    c->state = S_RESP_SEND;
    return 1;
bad:
    up_release(c, 0);
    c->close_after = 1;
    r->pc.resp_h = NULL;
    respond_error(c, 502, NULL, FMT_PLAIN);
    return 1;
}

/* S_RESP_SEND: the head and the buffered body; then done, or the rest streams (given up). */
static int
do_resp_send(struct client *c)
{
    struct req *r = &c->r;

    while (r->ch_off < r->ch_len || r->x_off < r->xbody.n) {
        struct iovec iov[2];
        int cnt = 0;
        size_t h = r->ch_len - r->ch_off;
        if (h) {
            iov[cnt++] = (struct iovec){r->ch + r->ch_off, h};
        }
        if (r->x_off < r->xbody.n) {
            iov[cnt++] = (struct iovec){(char *)r->xbody.p + r->x_off, r->xbody.n - r->x_off};
        }
        ssize_t n = c_writev(c, iov, cnt);
        if (n > 0) {
            size_t used = (size_t)n < h ? (size_t)n : h;
            r->bytes_out += (uint64_t)n;
            r->ch_off += used;
            r->x_off += (size_t)n - used;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, EV_WRITE, 0, r->svc->write_timeout_ms / 1000.0);
            return 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        up_release(c, 0);
        client_close(c);
        return 0;
    }
    c->state = r->resp_mode == 1 || (r->resp_done && r->resp_pending == 0) ? S_DONE
                                                                           : S_RESP_BODY;
    return 1;
}

static int
do_resp_head(struct client *c)
{
    struct req *r = &c->r;

    if (r->resp_wait) {
        /* just sent: a recv now would only say EAGAIN */
        r->resp_wait = 0;
        arm(c, 0, EV_READ, r->svc->read_timeout_ms / 1000.0);
        return 0;
    }

    for (;;) {
        if (r->r_len > r->r_off) {
            int rc = gw_http1_parse_response(c->rbuf + r->r_off, r->r_len - r->r_off,
                                             &gw_http_default_limits, &r->rh);
            if (rc > 0 && r->rh.status >= 100 && r->rh.status < 200 && r->rh.status != 101) {
                r->r_off += (size_t)rc; /* interim response: skip it */
                continue;
            }
            if (rc > 0) {
                if (r->t_first_byte == 0) {
                    r->t_first_byte = ev_now(c->w->loop);
                }
                /* balancer hook: the status feeds passive health checks and latency */
                gw_balancer_report(&r->pick, r->rh.status, ev_now(c->w->loop));
                int hrc = resp_head_done(c, (size_t)rc);
                if (hrc < 0) {
                    c->close_after = 1;
                    up_release(c, 0);
                    respond_error(c, 500, NULL, FMT_PLAIN);
                    return 1;
                }
                if (hrc > 0) {
                    /* buffering reuses rbuf: the response head moves to the arena first */
                    char *copy = gw_arena_alloc(r->arena, r->r_off);
                    if (copy == NULL) {
                        c->close_after = 1;
                        up_release(c, 0);
                        respond_error(c, 500, NULL, FMT_PLAIN);
                        return 1;
                    }
                    memcpy(copy, c->rbuf, r->r_off);
                    head_rebase(&r->rh, copy - c->rbuf);
                }
                c->state = r->rh.status == 101 ? S_TUNNEL : hrc ? S_RESP_BUFFER : S_RESP_BODY;
                return 1;
            }
            if (rc < 0) {
                gw_balancer_report(&r->pick, 0, ev_now(c->w->loop)); /* balancer hook */
                up_release(c, 0);
                c->close_after |= !r->body_done;
                respond_error(c, 502, NULL, FMT_PLAIN);
                return 1;
            }
        }
        if (r->r_off == r->r_len) {
            r->r_off = r->r_len = 0;
        } else if (r->r_off) {
            memmove(c->rbuf, c->rbuf + r->r_off, r->r_len - r->r_off);
            r->r_len -= r->r_off;
            r->r_off = 0;
        }
        if (r->r_len == RBUF_CAP) {
            up_release(c, 0);
            respond_error(c, 502, NULL, FMT_PLAIN);
            return 1;
        }
        ssize_t n = u_recv(r->up, c->rbuf + r->r_len, RBUF_CAP - r->r_len);
        if (n > 0) {
            r->r_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, 0, EV_READ, r->svc->read_timeout_ms / 1000.0);
            return 0;
        }
        /* closed or reset before a response: a stale pooled connection is retried free */
        if (r->up_reused && r->r_len == 0 && !r->body_started) {
            up_release(c, 0);
            r->uh_off = 0;
            r->ob_off = 0;
            c->state = S_CONNECT;
            return 1;
        }
        try_failed(c, 502);
        return 1;
    }
}

/* Marks the response bytes available in rbuf as ready to forward, per the framing. -1 for
 * broken chunked framing. */
static int
scan_response(struct client *c)
{
    struct req *r = &c->r;
    size_t avail = r->r_len - r->r_off;

    if (r->rk == F_LENGTH) {
        r->resp_pending =
            (size_t)(r->resp_left < (int64_t)avail ? r->resp_left : (int64_t)avail);
        r->resp_left -= (int64_t)r->resp_pending;
        r->resp_done = r->resp_left == 0;
    } else if (r->rk == F_CHUNKED) {
        int done = 0;
        ssize_t k = gw_chunked_scan(&r->rch, c->rbuf + r->r_off, avail, &done);
        if (k < 0) {
            return -1;
        }
        r->resp_pending = (size_t)k;
        r->resp_done = done;
    } else if (r->rk == F_EOF) {
        r->resp_pending = avail;
    }
    return 0;
}

static int
do_resp_body(struct client *c)
{
    struct req *r = &c->r;

    /* the head first, with the body bytes already read in the same system call */
    if (r->ch_off < r->ch_len && r->resp_pending == 0 && !r->resp_done && r->r_len > r->r_off) {
        scan_response(c);
    }
    while (r->ch_off < r->ch_len) {
        struct iovec iov[2] = {{r->ch + r->ch_off, r->ch_len - r->ch_off},
                               {c->rbuf + r->r_off, r->resp_pending}};
        ssize_t n = c_writev(c, iov, r->resp_pending ? 2 : 1);
        if (n > 0) {
            size_t h = r->ch_len - r->ch_off;
            r->bytes_out += (uint64_t)n;
            if ((size_t)n <= h) {
                r->ch_off += (size_t)n;
                continue;
            }
            r->ch_off = r->ch_len;
            r->r_off += (size_t)n - h;
            r->resp_pending -= (size_t)n - h;
            break;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, EV_WRITE, 0, r->svc->write_timeout_ms / 1000.0);
            return 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        up_release(c, 0);
        client_close(c);
        return 0;
    }
    for (;;) {
        if (r->resp_pending == 0 && !r->resp_done) {
            if (r->r_len > r->r_off) {
                if (scan_response(c) < 0) {
                    up_release(c, 0);
                    client_close(c);
                    return 0;
                }
            } else {
                r->r_off = r->r_len = 0;
                ssize_t n = u_recv(r->up, c->rbuf, RBUF_CAP);
                if (n > 0) {
                    r->r_len = (size_t)n;
                    continue;
                }
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n < 0 && errno == EAGAIN) {
                    arm(c, r->rk == F_EOF && r->rh.status == 101 ? EV_READ : 0, EV_READ,
                        r->svc->read_timeout_ms / 1000.0);
                    return 0;
                }
                if (r->rk == F_EOF) {
                    r->resp_done = 1;
                    r->up_close = 1;
                    break;
                }
                /* the upstream broke the framing: the client cannot be told otherwise */
                up_release(c, 0);
                client_close(c);
                return 0;
            }
        }
        while (r->resp_pending) {
            ssize_t n = c_send(c, c->rbuf + r->r_off, r->resp_pending);
            if (n > 0) {
                r->r_off += (size_t)n;
                r->resp_pending -= (size_t)n;
                r->bytes_out += (uint64_t)n;
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                arm(c, EV_WRITE, 0, r->svc->write_timeout_ms / 1000.0);
                return 0;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            up_release(c, 0);
            client_close(c);
            return 0;
        }
        if (r->resp_done) {
            break;
        }
    }
    c->state = S_DONE;
    return 1;
}

/* WebSocket and other upgrades: once the 101 head is out, the connection is a tunnel. The
 * client's bytes flow through c->in, the upstream's through rbuf; either side closing ends
 * both. Idle longer than the service's read timeout ends it too (as nginx's
 * proxy_read_timeout does). */
static int
do_tunnel(struct client *c)
{
    struct req *r = &c->r;
    int cev = 0, uev = 0;

    while (r->ch_off < r->ch_len) {
        ssize_t n = c_send(c, r->ch + r->ch_off, r->ch_len - r->ch_off);
        if (n > 0) {
            r->ch_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, EV_WRITE, 0, r->svc->write_timeout_ms / 1000.0);
            return 0;
        }
        goto closed;
    }
    /* upstream -> client */
    for (;;) {
        if (r->r_len > r->r_off) {
            ssize_t n = c_send(c, c->rbuf + r->r_off, r->r_len - r->r_off);
            if (n > 0) {
                r->r_off += (size_t)n;
                r->bytes_out += (uint64_t)n;
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                cev |= EV_WRITE;
                break;
            }
            goto closed;
        }
        ssize_t n = u_recv(r->up, c->rbuf, RBUF_CAP);
        if (n > 0) {
            r->r_off = 0;
            r->r_len = (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            r->r_off = r->r_len = 0;
            uev |= EV_READ;
            break;
        }
        goto closed;
    }
    /* client -> upstream (anything after the upgrade request's head) */
    for (;;) {
        if (c->in_len > r->pos) {
            ssize_t n = u_send(r->up, c->in + r->pos, c->in_len - r->pos);
            if (n > 0) {
                r->pos += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                uev |= EV_WRITE;
                break;
            }
            goto closed;
        }
        r->pos = c->in_len = c->in_off + r->head_len;
        ssize_t n = client_read(c, c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            cev |= EV_READ;
            break;
        }
        goto closed;
    }
    arm(c, cev, uev, r->svc->read_timeout_ms / 1000.0);
    return 0;
closed:
    r->resp_done = 1;
    r->up_close = 1;
    c->close_after = 1;
    c->state = S_DONE;
    return 1;
}

static int
do_local(struct client *c)
{
    struct req *r = &c->r;

    while (r->ch_off < r->ch_len) {
        ssize_t n = c_send(c, r->ch + r->ch_off, r->ch_len - r->ch_off);
        if (n > 0) {
            r->ch_off += (size_t)n;
            r->bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            arm(c, EV_WRITE, 0, 60);
            return 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        client_close(c);
        return 0;
    }
    /* a local answer consumed nothing of a body (unless it was read for a plugin): the
     * connection closes (set above) */
    if (!r->body_consumed) {
        r->pos = c->in_off + r->head_len;
    }
    r->resp_done = 1;
    r->body_done = 1;
    c->state = S_DONE;
    return 1;
}

static int
do_tls(struct client *c)
{
    int n = SSL_do_handshake(c->ssl);

    if (n == 1) {
        c->tls_want = 0;
        gw_snapshot_unref(c->hs_snap);
        c->hs_snap = NULL;
        c->state = S_HEAD;
        return 1;
    }
    if (tls_result(c->ssl, &c->tls_want, n) < 0 && errno == EAGAIN) {
        arm(c, c->tls_want, 0, gw_opts.client_header_timeout);
        return 0;
    }
    client_close(c); /* handshake failed: nothing to answer in HTTP */
    return 0;
}

static int
do_linger(struct client *c)
{
    char sink[16384];

    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n > 0) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return 0; /* still armed for reading; the timer ends it */
        }
        break;
    }
    client_close(c);
    return 0;
}

static void
step(struct client *c)
{
    for (;;) {
        int go;
        switch (c->state) {
        case S_TLS:
            go = do_tls(c);
            break;
        case S_HEAD:
            go = do_head(c);
            break;
        case S_CONNECT:
            go = do_connect(c);
            break;
        case S_UP_TLS:
            go = do_up_tls(c);
            break;
        case S_SEND_HEAD:
            go = do_send_head(c);
            break;
        case S_SEND_BODY:
            go = do_send_body(c);
            break;
        case S_RESP_HEAD:
            go = do_resp_head(c);
            break;
        case S_RESP_BODY:
            go = do_resp_body(c);
            break;
        case S_READ_BODY:
            go = do_read_body(c);
            break;
        case S_RESP_BUFFER:
            go = do_resp_buffer(c);
            break;
        case S_RESP_SEND:
            go = do_resp_send(c);
            break;
        case S_LOCAL:
            go = do_local(c);
            break;
        case S_TUNNEL:
            go = do_tunnel(c);
            break;
        case S_LINGER:
            go = do_linger(c);
            break;
        case S_DONE:
            req_end(c);
            return;
        default:
            return;
        }
        if (!go) {
            return;
        }
    }
}

/* ------------------------------------------------------------------ events */

static void
on_client_io(struct ev_loop *loop, ev_io *io, int revents)
{
    struct client *c = io->data;

    if ((revents & c->want_c) == 0) {
        ev_io_stop(loop, io); /* not waited for now: disarm (see arm()) */
        return;
    }
    step(c);
}

static void
on_up_io(struct ev_loop *loop, ev_io *io, int revents)
{
    struct client *c = io->data;

    if ((revents & c->want_u) == 0) {
        ev_io_stop(loop, io);
        return;
    }
    step(c);
}

static void
on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct client *c = t->data;
    struct req *r = &c->r;
    (void)loop, (void)revents;

    switch (c->state) {
    case S_TLS:
        client_close(c);
        return;
    case S_HEAD:
        if (c->in_len > c->in_off) {
            c->close_after = 1;
            if (r->arena == NULL) {
                req_begin(c);
            }
            respond_error(c, 408, NULL, FMT_PLAIN);
            step(c);
            return;
        }
        client_close(c); /* idle keep-alive connection */
        return;
    case S_CONNECT:
    case S_UP_TLS:
    case S_SEND_HEAD:
    case S_RESP_HEAD:
        try_failed(c, 504);
        step(c);
        return;
    case S_READ_BODY:
        c->close_after = 1; /* the client stopped sending the body a plugin waits for */
        respond_error(c, 408, NULL, FMT_PLAIN);
        step(c);
        return;
    case S_RESP_BUFFER:
        up_release(c, 0);
        c->close_after = 1;
        r->pc.resp_h = NULL;
        respond_error(c, 504, NULL, FMT_PLAIN);
        step(c);
        return;
    case S_SEND_BODY:
        if (c->want_c) {
            c->close_after = 1; /* the client stopped sending its body */
            up_release(c, 0);
            respond_error(c, 408, NULL, FMT_PLAIN);
            step(c);
            return;
        }
        try_failed(c, 504);
        step(c);
        return;
    default:
        up_release(c, 0);
        client_close(c);
        return;
    }
}

/* this worker's client connections (one list per thread), for shutdown */
static _Thread_local struct client *clients;

static void
client_close(struct client *c)
{
    struct ev_loop *loop = c->w->loop;

    if (c->r.head_len) {
        log_phase(c, 1); /* the client went away (or the gateway gave up on it) midway */
    }
    ev_io_stop(loop, &c->io);
    ev_timer_stop(loop, &c->timer);
    if (c->r.up) {
        gw_upconn_close(c->r.up);
        c->r.up = NULL;
    }
    gw_arena_destroy(c->arena); /* runs a live request's cleanups too */
    if (c->ssl) {
        SSL_free(c->ssl);
    }
    gw_snapshot_unref(c->hs_snap);
    close(c->fd);
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        clients = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    atomic_fetch_sub(&c->w->stats.active, 1);
    free(c->in);
    free(c->rbuf);
    free(c);
}

void
gw_proxy_accept(struct gw_worker *w, int fd, const struct gw_listen *l,
                const struct sockaddr_storage *peer, socklen_t peerlen)
{
    struct client *c = calloc(1, sizeof *c);
    (void)peerlen;

    if (c == NULL || (c->in = malloc(IN_CAP)) == NULL || (c->rbuf = malloc(RBUF_CAP)) == NULL) {
        if (c) {
            free(c->in);
        }
        free(c);
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->l = l;
    c->in_cap = IN_CAP;
    c->serial = atomic_fetch_add_explicit(&conn_serial, 1, memory_order_relaxed) + 1;
    if (peer->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)peer;
        inet_ntop(AF_INET, &s->sin_addr, c->peer, sizeof c->peer);
        c->peer_port = ntohs(s->sin_port);
    } else {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)peer;
        inet_ntop(AF_INET6, &s->sin6_addr, c->peer, sizeof c->peer);
        c->peer_port = ntohs(s->sin6_port);
    }
    c->state = S_HEAD;
    if (l->ssl) {
        c->hs_snap = gw_snapshot_ref(w->snap);
        c->ssl = gw_tls_new(fd, c->hs_snap->tls);
        if (c->ssl == NULL) {
            gw_snapshot_unref(c->hs_snap);
            free(c->in);
            free(c->rbuf);
            free(c);
            close(fd);
            return;
        }
        c->state = S_TLS;
    }
    ev_io_init(&c->io, on_client_io, fd, EV_READ);
    c->io.data = c;
    ev_init(&c->timer, on_timeout);
    c->timer.data = c;
    c->next = clients;
    if (clients) {
        clients->prev = c;
    }
    clients = c;
    atomic_fetch_add(&w->stats.active, 1);
    step(c);
}

void
gw_proxy_close_idle(struct gw_worker *w)
{
    struct client *c = clients;
    (void)w;

    while (c) {
        struct client *next = c->next;
        if (c->state == S_HEAD && c->in_len == c->in_off) {
            client_close(c);
        }
        c = next;
    }
}
